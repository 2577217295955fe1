"""How a hostile program's run is judged, for Python (test_hostile.py) and C (test_c_hostile.py) alike:
the server answers /healthz while the run goes and a benign run alongside finishes, the final event names
the limit that ended it (with words for it in both languages), and nothing of the run is left once it is
reported finished (processes, files, /dev/shm, SysV IPC, server fds).

No timed assertions: the timeouts here only keep a hang from stalling the suite. How fast containment is
and how /healthz answers under attack are measured in bench/hostile.py (docs/benchmarks.md, section 7)."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
from conftest import Server, of, output, survivors

from app import i18n
from app.i18n import Lang
from app.sandbox import procfs

POOL = range(61000, 62000)
Limit = str | tuple[str, ...] | None
HANG_S = 180  # a guard against a hung run or server, not a speed target


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


def healthy(server: Server) -> None:
    r = httpx.get(server.base + "/healthz", timeout=HANG_S)
    assert r.status_code == 200 and r.json()["ok"], r.text[:300]


def run_beside_benign(server: Server, files: dict[str, str], benign: dict[str, str]) -> list[dict[str, Any]]:
    """Start the hostile run and a benign one; /healthz answers while the attack goes on (asked while the
    run was going, every time) and the benign run finishes correctly. Returns the hostile run's events."""
    r = server.http.post("/api/runs", json={"files": files})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    ok = server.http.post("/api/runs", json={"files": benign})
    assert ok.status_code == 201, ok.text
    deadline = time.monotonic() + HANG_S
    answered_during = 0
    while server.http.get(f"/api/runs/{run_id}", timeout=HANG_S).json()["status"] != "finished":
        healthy(server)  # asked while the hostile run was going
        answered_during += 1
        assert time.monotonic() < deadline, f"the hostile run was not ended within {HANG_S} s"
        time.sleep(0.2)
    assert answered_during >= 1, "the run was over before /healthz could be asked while it went"
    events = server.http.get(f"/api/runs/{run_id}/events", timeout=HANG_S).json()
    benign_events = server.wait(ok.json()["id"], HANG_S)
    assert "benign child" in output(benign_events) and benign_events[-1]["status"] == "ok", benign_events[-3:]
    return events


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
        for lang in Lang:  # the student reads the limit by name, with its numbers, in either language
            words = i18n.translate(lang, f"limit.{fired[0]['limit']}", **fired[0]["params"])
            assert words != f"limit.{fired[0]['limit']}" and "{" not in words, (lang, words)
    if text:
        assert text in output(events), output(events)[-500:]


def assert_nothing_left(server: Server, events: list[dict[str, Any]], fds_before: int) -> None:
    """Once the run is reported finished: the server still answers and nothing of the run is left."""
    healthy(server)
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
