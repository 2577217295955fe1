"""Without an engine: the Dockerfile installs and starts as the README says (tests/test_container.py runs it)."""

from __future__ import annotations

import json
import re

from conftest import ROOT


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", text, re.S)
    assert block, "README has no 'Two commands' block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    cmds = readme_commands()
    assert cmds == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_dockerfile_installs_the_package_with_the_constraints_and_starts_it() -> None:
    ins = instructions()
    arg = next(rest for word, rest in ins if word == "ARG")
    assert re.fullmatch(r"BASE=python:3\.1[1-9]-slim", arg), arg
    assert [rest.split()[0] for word, rest in ins if word == "FROM"] == ["${BASE}", "${BASE}"]
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "python3 -m venv /opt/proclab" in runs  # python3 on PATH: /usr/local/bin or Debian's /usr/bin
    assert "-c constraints.txt" in runs
    for pkg in ("tini", "procps", "gcc", "libc6-dev"):
        assert pkg in runs
    assert "make" not in runs.split(), "the image runs the installed package, not the checkout's Makefile"
    cmd = json.loads(next(rest for word, rest in ins if word == "CMD"))
    assert cmd == ["proclab", "serve"]
    entry = json.loads(next(rest for word, rest in ins if word == "ENTRYPOINT"))
    assert "tini" in entry[0], "PID 1 must be an init that reaps orphans"
    assert any(word == "EXPOSE" and "8000" in rest for word, rest in ins)
    health = next(rest for word, rest in ins if word == "HEALTHCHECK")
    assert "/readyz" in health
    env = " ".join(rest for word, rest in ins if word == "ENV")
    assert "PROCLAB_HOST=0.0.0.0" in env and "/opt/proclab/bin" in env
    copied = {src for word, rest in ins if word == "COPY" and not rest.startswith("--from") for src in rest.split()[:-1]}
    assert {"app", "lessons", "static", "templates", "constraints.txt"} <= copied
    assert not copied & {".", "tests", "bench", "docs"}, "nothing the server does not use"


def test_constraints_pin_every_runtime_dependency() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {line.split("==")[0].lower().replace("_", "-") for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line}
    for dep in deps:
        name = re.match(r"[A-Za-z0-9_.-]+", dep).group(0).lower().replace("_", "-")  # type: ignore[union-attr]
        assert name in pins, f"{name} is not pinned in constraints.txt (make constraints)"
