"""How a hostile program's run is judged, for Python (test_hostile.py) and C (test_c_hostile.py) alike:
the server stays responsive and a benign run alongside finishes, the final event names the limit that
ended it, and nothing of the run is left (processes, files, /dev/shm, SysV IPC, server fds)."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
from conftest import Server, of, output, survivors

from app.sandbox import procfs

POOL = range(61000, 62000)
Limit = str | tuple[str, ...] | None


def pool_ipc() -> list[str]:
    """SysV IPC objects of any run uid."""
    found = []
    for kind in ("shm", "sem", "msg"):
        found += [f"{kind}: {row}" for row in procfs.sysvipc(kind) or [] if int(row["uid"]) in POOL]
    return found


def pool_files() -> list[str]:
    out = []
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        for name in os.listdir(d):
            try:
                if os.lstat(os.path.join(d, name)).st_uid in POOL:
                    out.append(os.path.join(d, name))
            except OSError:
                pass
    return out


def server_fds(server: Server) -> int:
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def run_beside_benign(server: Server, files: dict[str, str],
                      benign: dict[str, str]) -> tuple[list[dict[str, Any]], float]:
    """Start the hostile run and a benign one; /healthz answers all along and the benign run finishes
    correctly while the attack goes on. Returns the hostile run's events and when it was seen ended."""
    r = server.http.post("/api/runs", json={"files": files})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    ok = server.http.post("/api/runs", json={"files": benign})
    assert ok.status_code == 201, ok.text
    t0 = time.monotonic()
    while server.http.get(f"/api/runs/{run_id}").json()["status"] != "finished":
        assert server.http.get("/healthz").status_code == 200
        assert time.monotonic() - t0 < 90, "the hostile run was not ended"
        time.sleep(0.2)
    events = server.http.get(f"/api/runs/{run_id}/events").json()
    ended = time.monotonic()
    benign_events = server.wait(ok.json()["id"], 60)
    assert "benign child" in output(benign_events) and benign_events[-1]["status"] == "ok", benign_events[-3:]
    return events, ended


def assert_ended_by(events: list[dict[str, Any]], limit: Limit, text: str | None) -> None:
    """The run ended normally (limit None) or by one of the limits, named with its numbers."""
    fin = events[-1]
    assert fin["type"] == "run.finished"
    if limit is None:
        assert fin["status"] == "ok", fin
        assert not of(events, "run.limit")
    else:
        limits = (limit,) if isinstance(limit, str) else limit
        assert fin["status"] == "limit", fin
        fired = of(events, "run.limit")
        assert fired and fired[0]["limit"] in limits, fired
        assert fired[0]["params"] and "message" not in fired[0], fired  # the numbers the student's sentence names
        assert fin["outcome"] == {"code": "limit", "limit": fired[0]["limit"]}, fin
    if text:
        assert text in output(events), output(events)[-500:]


def assert_nothing_left(server: Server, events: list[dict[str, Any]], ended: float, fds_before: int) -> None:
    """Within 2 s of the end: the server answers fast and nothing of the run is left."""
    h0 = time.monotonic()
    assert httpx.get(server.base + "/healthz", timeout=2).status_code == 200
    assert time.monotonic() - h0 < 1.0
    assert time.monotonic() - ended < 2.0 + 1.0
    # Event pids may be pid-namespace pids: look for survivors by the run's own uid.
    left = survivors(of(events, "run.started")[0]["uid"])
    assert not left, left
    assert not pool_files(), pool_files()
    assert not pool_ipc(), pool_ipc()
    assert not os.path.exists("/tmp/proclab-escaped-daemon")
    assert not os.path.exists("/tmp/proclab-big.bin")
    assert server.proc.poll() is None, "the server died"
    assert server_fds(server) <= fds_before + 2


def delivered_at_most_the_cap(events: list[dict[str, Any]]) -> None:
    """An output flood: no more than the output limit reached the client, and the run says it was cut."""
    delivered = sum(len(e["text"].encode()) for e in of(events, "io.output"))
    assert delivered <= 256 * 1024
    assert of(events, "io.truncated")
