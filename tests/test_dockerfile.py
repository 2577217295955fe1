"""No Docker engine here: check that the Dockerfile installs and starts the way the README says."""

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


def test_dockerfile_installs_and_starts_like_the_readme() -> None:
    ins = instructions()
    base = next(rest for word, rest in ins if word == "FROM")
    assert re.match(r"python:3\.1[1-9]-slim", base)
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "make install" in runs  # the install half of `make run`
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: install$", make, re.M), "make run must be install + serve"
    cmd = json.loads(next(rest for word, rest in ins if word == "CMD"))
    assert " ".join(cmd) == readme_commands()[0]
    entry = json.loads(next(rest for word, rest in ins if word == "ENTRYPOINT"))
    assert "tini" in entry[0], "PID 1 must be an init that reaps orphans"
    assert "tini" in runs
    assert any(word == "EXPOSE" and "8000" in rest for word, rest in ins)
    health = next(rest for word, rest in ins if word == "HEALTHCHECK")
    assert "/healthz" in health
    env = " ".join(rest for word, rest in ins if word == "ENV")
    assert "PROCLAB_HOST=0.0.0.0" in env
