"""Liveness (/healthz) and readiness (/readyz) against real servers whose launcher or storage really fail."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, output, start_server, stop_server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    s = start_server(tmp_path)
    yield s
    stop_server(s)


def checks(server: Server) -> dict[str, str]:
    r = server.http.get("/readyz")
    body = r.json()
    assert (r.status_code == 200) == body["ready"] == (not body["reasons"]), body
    return {x["check"]: x["detail"] for x in body["reasons"]}


def test_ready_server_says_so(server: Server) -> None:
    r = server.http.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"ready": True, "reasons": []}


def test_not_ready_while_the_launcher_is_down_then_ready_again(own_server: Server) -> None:
    pid = own_server.http.get("/healthz").json()["launcher"]["pid"]
    os.kill(pid, signal.SIGKILL)
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and "launcher" not in seen:
        seen = checks(own_server)
        time.sleep(0.01)
    assert "not running" in seen.get("launcher", ""), seen
    assert own_server.http.get("/healthz").status_code == 200  # alive, only not ready
    deadline = time.monotonic() + 20
    while checks(own_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checks(own_server) == {}
    assert "back" in output(own_server.run({"files": {"main.py": "print('back')\n"}}))


def test_not_ready_when_the_data_directory_is_gone(own_server: Server, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "data")
    reasons = checks(own_server)
    assert set(reasons) == {"storage"}, reasons
    assert str(tmp_path / "data") in reasons["storage"] and "not writable" in reasons["storage"]
    assert own_server.http.get("/healthz").status_code == 200


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("capsh") is None, reason="needs root and capsh")
def test_not_ready_when_the_launcher_cannot_start_and_the_floor_is_missing(tmp_path: Path) -> None:
    # Without CAP_SETUID/CAP_SETGID no interpreter can be started as a run's uid: no launcher, no floor.
    s = start_server(tmp_path, prefix=["capsh", "--drop=cap_setuid,cap_setgid", "--", "-c", 'exec "$0" "$@"'])
    try:
        reasons = checks(s)
        assert set(reasons) == {"launcher", "sandbox"}, reasons
        assert "did not start" in reasons["launcher"] and "missing process" in reasons["sandbox"]
        assert s.http.get("/healthz").status_code == 200
        r = s.http.post("/api/runs", json={"files": {"main.py": "print(1)\n"}})
        assert r.status_code == 503, r.text
    finally:
        stop_server(s)
