"""Installed, not only checked out: a built wheel in a fresh venv outside the repo, and `pipx install .`,
give a `proclab` that serves the bundled lessons from any directory and runs them in the real sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port, http_client

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
BUNDLED = ("lessons", "static", "templates")
PIP_TIMEOUT = 900


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who never saw the checkout: no venv, no PYTHONPATH, no PROCLAB_*."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROCLAB_", "VIRTUAL_ENV", "PYTHON")) and k != "PYTEST_CURRENT_TEST"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's files (tracked and new, not ignored): pip builds in the source tree, and its
    build/ would otherwise land in this worktree (and keep files deleted since)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    where = tmp_path_factory.mktemp("checkout") / "proclab"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, where / name)
    return where


@pytest.fixture(scope="module")
def wheel(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."],
                   cwd=checkout, check=True, capture_output=True, timeout=PIP_TIMEOUT)
    (whl,) = out.glob("proclab-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    r = subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
                        str(wheel)], capture_output=True, text=True, timeout=PIP_TIMEOUT, cwd=where.parent)
    assert r.returncode == 0, r.stderr[-3000:]
    return where


def test_wheel_holds_every_bundled_file_and_no_top_level_app(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in BUNDLED:
        files = [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files
        missing = [str(p.relative_to(ROOT)) for p in files if f"proclab/{p.relative_to(ROOT)}" not in names]
        assert not missing, f"not in the wheel: {missing}"
    assert {"proclab/py.typed", "proclab/sandbox/shim.py", "proclab/web/health.py"} <= names
    migrations = [p for p in (ROOT / "app" / "migrations").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    missing = [str(p) for p in migrations if f"proclab/{p.relative_to(ROOT / 'app')}" not in names]
    assert len(migrations) >= 5 and not missing, f"Alembic's migrations not in the wheel: {missing}"
    assert not [n for n in names if n.startswith(("app/", "tests/", "bench/"))], "only the proclab package"
    assert any(n.endswith("/licenses/LICENSE") or n.endswith("/LICENSE") for n in names), "the licence ships"


def test_installed_version_and_import_name(venv: Path, tmp_path: Path) -> None:
    for cmd in ([str(venv / "bin" / "proclab"), "--version"], [str(venv / "bin" / "python"), "-m", "proclab", "--version"]):
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=clean_env(), timeout=60)
        assert r.returncode == 0 and r.stdout.split()[-1] == VERSION, (cmd, r.stdout, r.stderr)
    probe = ("import importlib.util, proclab; print(proclab.__file__); "
             "print(importlib.util.find_spec('app') is None)")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                       env=clean_env(), timeout=60)
    where, no_app = r.stdout.split()
    assert "site-packages" in where and str(ROOT) not in where, where
    assert no_app == "True", "the installed package must not be importable as `app`"


def test_installed_default_data_dir(venv: Path, tmp_path: Path) -> None:
    script = ("import json; from proclab.settings import LAYOUT, Layout, Settings, default_data_dir as d; "
              "print(json.dumps([LAYOUT.value, str(Settings().data_dir), "
              "str(d(Layout.INSTALLED, 1000, {'HOME': '/home/ann'})), "
              "str(d(Layout.INSTALLED, 1000, {'HOME': '/home/ann', 'XDG_DATA_HOME': '/data/ann'})), "
              "str(d(Layout.INSTALLED, 1000, {'HOME': '/home/ann', 'XDG_DATA_HOME': 'relative'}))]))")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, cwd=tmp_path,
                       env=clean_env(), timeout=60)
    layout, default, user, xdg, relative = json.loads(r.stdout)
    assert layout == "installed"
    if os.geteuid() == 0:
        assert default == "/var/lib/proclab"
    assert user == relative == "/home/ann/.local/share/proclab"  # a relative XDG_DATA_HOME is ignored (XDG spec)
    assert xdg == "/data/ann/proclab"
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "from proclab.settings import Settings; "
                        "print(Settings().data_dir)"], capture_output=True, text=True, cwd=tmp_path,
                       env=clean_env(PROCLAB_DATA_DIR=str(tmp_path / "mine")), timeout=60)
    assert r.stdout.strip() == str(tmp_path / "mine")


@pytest.fixture
def installed_server(venv: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "server.log"
    logf = log.open("wb")
    proc = subprocess.Popen([str(venv / "bin" / "proclab"), "serve", "--port", str(port)], cwd=elsewhere,
                            env=clean_env(PROCLAB_DATA_DIR=str(data), PROCLAB_LOG_LEVEL="warning"),
                            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"proclab serve exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"proclab serve did not get ready: {log.read_text()[-3000:]}"
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()


def test_installed_serve_from_another_directory_shows_a_lesson_and_runs_it(installed_server: tuple[str, Path]) -> None:
    base, data = installed_server
    http = http_client(base, timeout=30)
    lessons = {x["id"] for x in http.get("/api/lessons").json()}
    assert len(lessons) == len([p for p in (ROOT / "lessons").iterdir() if (p / "lesson.md").is_file()])
    page = http.get("/lessons/fork-basics")
    assert page.status_code == 200 and "fork" in page.text.lower()
    assert http.get("/static/js/i18n.js").status_code == 200
    assert http.get("/docs").status_code == 200
    r = http.post("/api/runs", json={"lesson": "fork-basics"})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while http.get(f"/api/runs/{run_id}").json()["status"] != "finished":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)
    events = http.get(f"/api/runs/{run_id}/events").json()
    assert events[-1]["status"] == "ok", events[-1]
    assert len({e["pid"] for e in events if e["type"] == "proc.spawn"}) >= 2, "a fork lesson shows two processes"
    assert (data / "proclab.db").is_file(), "recordings go to PROCLAB_DATA_DIR"
    assert http.get("/api/runs").status_code == 200


@pytest.mark.skipif(shutil.which("pipx") is None, reason="pipx is not installed (apt-get install pipx)")
def test_pipx_install_from_the_checkout(checkout: Path, tmp_path: Path) -> None:
    env = clean_env(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"),
                    PIPX_MAN_DIR=str(tmp_path / "man"))
    r = subprocess.run(["pipx", "install", "--pip-args", f"-c {ROOT / 'constraints.txt'}", "."], cwd=checkout, env=env,
                       capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    proclab = tmp_path / "bin" / "proclab"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([str(proclab), "--version"], capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert r.stdout.strip() == f"proclab {VERSION}", r.stdout + r.stderr
    # A bundled lesson, run in the real sandbox by the pipx-installed command, from another directory.
    r = subprocess.run([str(proclab), "run", "fork-basics", "--json"], capture_output=True, text=True, cwd=elsewhere,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[-1]["type"] == "run.finished" and events[-1]["status"] == "ok", events[-1]


def test_build_backend_floor_accepts_the_licence_field() -> None:
    """`license = "MIT"` (an SPDX string, PEP 639) is a configuration error before setuptools 77.

    With an older setuptools (Debian 12 has 66) `pip wheel --no-build-isolation .` failed with
    "`project.license` must be valid exactly by one definition"; the build floor must say 77.
    """
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(meta["project"]["license"], str)
    floors = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert floors, "setuptools is the build backend"
    version = floors[0].split(">=")[1]
    assert tuple(int(p) for p in version.split(".")) >= (77,), floors[0]
