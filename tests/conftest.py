"""Shared fixtures: a real uvicorn server on a free port, real runs through it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
HOSTILE = ROOT.parent / "shared" / "hostile"


def in_child(fn: Any) -> Any:
    """Run fn in a forked child (which may drop privileges, unshare, filter itself …) and return its
    result; an exception in the child fails the test with its message."""
    import pickle

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            result: Any = ("ok", fn())
        except BaseException as e:
            result = ("err", f"{type(e).__name__}: {e}")
        os.write(w, pickle.dumps(result))
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data) if data else ("err", "child died")
    if kind == "err":
        pytest.fail(value)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SECRET = "tok-" + os.urandom(8).hex()


class Server:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.secret = SECRET
        self.base = base
        self.proc = proc
        self.log = log
        self.http = httpx.Client(base_url=base, timeout=30)

    def run(self, body: dict[str, Any], timeout: float = 60) -> list[dict[str, Any]]:
        """Start a run and wait for it to finish; returns all its events."""
        r = self.http.post("/api/runs", json=body)
        assert r.status_code == 201, r.text
        return self.wait(r.json()["id"], timeout)

    def wait(self, run_id: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Wait for any run (as the instructor: runs of other clients are not this client's to read)."""
        deadline = time.monotonic() + timeout
        auth = {"Authorization": f"Bearer {self.secret}"}
        while time.monotonic() < deadline:
            info = self.http.get(f"/api/runs/{run_id}", headers=auth).json()
            if info["status"] == "finished":
                return self.http.get(f"/api/runs/{run_id}/events", headers=auth).json()
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")


_CLIENTS: list[httpx.Client] = []


def http_client(base: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client of the test's own (its own cookies), closed when the test ends: with warnings as errors,
    a socket left open is a failure."""
    c = httpx.Client(base_url=base, **kwargs)
    _CLIENTS.append(c)
    return c


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def start_server(tmp: Path, extra_env: dict[str, str] | None = None, prefix: list[str] | None = None) -> Server:
    port = free_port()
    env = {**os.environ, "PROCLAB_DATA_DIR": str(tmp / "data"), "PROCLAB_LOG_LEVEL": "warning",
           "PROCLAB_INSTRUCTOR_TOKEN": SECRET, "PROCLAB_TEST_SECRET": SECRET, **(extra_env or {})}
    log = tmp / f"server-{port}.log"
    with log.open("wb") as out:  # the server keeps its own copy of the fd
        proc = subprocess.Popen([*(prefix or []), sys.executable, "-m", "app", "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return Server(base, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    server.http.close()
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("server"))
    yield s
    stop_server(s)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.base


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server (tests/pg_server.py) for the session: postgresql://postgres@127.0.0.1:<port>/proclab."""
    from pg_server import start_postgres

    url, stop = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield url
    stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (tests/redis_server.py) for the session: redis://127.0.0.1:<port>/0."""
    from redis_server import start_redis

    url, stop = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> str:
    """An empty database of its own on the session's PostgreSQL server."""
    from pg_server import create_database

    return create_database(postgres_url, "t" + os.urandom(6).hex())


def cookie_header(c: httpx.Client) -> dict[str, str]:
    """The client's cookies as a header, for a WebSocket that is that browser's (the run's owner)."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())}


def of(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


def output(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in of(events, "io.output"))


def run_source(source: str, tmp: Path, *files: tuple[str, str], timeout: float = 90) -> list[dict[str, Any]]:
    """Run a scenario through `python -m app run --json` (the real sandbox, no server)."""
    main = tmp / "main.py"
    main.write_text(source)
    for name, text in files:
        (tmp / name).write_text(text)
    r = subprocess.run([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert r.returncode != 125 and r.stdout, r.stderr  # 125: ProcLab could not run it (else the program's status)
    return [json.loads(line) for line in r.stdout.splitlines()]


def survivors(uid: int) -> list[tuple[int, str, str]]:
    """Processes of a run's uid still on the machine (event pids may be pid-namespace pids)."""
    import psutil

    out = []
    for p in psutil.process_iter(["uids", "status", "name"]):
        try:
            if uid in (p.info["uids"].real, p.info["uids"].effective):
                out.append((p.pid, p.info["status"], p.info["name"]))
        except (psutil.NoSuchProcess, AttributeError):
            pass
    return out
