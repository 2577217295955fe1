"""The C twins of shared/hostile/ (tests/hostile_c/*.c) against a real server, judged like test_hostile.py:
the server stays responsive and a benign C run alongside finishes, nothing of the run is left, and the
final event names the limit that ended it in words a student understands."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from conftest import ROOT, Server, of, output, survivors
from test_hostile import pool_files, pool_ipc, server_fds

HOSTILE_C = ROOT / "tests" / "hostile_c"
BENIGN = ('#include <stdio.h>\n#include <sys/wait.h>\n#include <unistd.h>\n'
          'int main(void) { if (fork() == 0) { printf("benign child\\n"); return 0; } wait(NULL); return 0; }\n')

# program -> (limit that must end it, or None for a normal finish; text that must be in the output)
CASES: dict[str, tuple[str | tuple[str, ...] | None, str | None]] = {
    "01_fork_bomb.c": ("processes", None),
    "03_double_fork_daemon.c": ("leftover", "parent done"),
    "04_ignore_term_busy.c": (("cpu", "wall"), None),
    "06_memory_bomb.c": ("memory", "big allocation refused"),
    "07_output_flood.c": ("output", None),
    "09_fd_exhaustion.c": (None, "Too many open files"),
    "11_read_secrets.c": (None, "Permission denied"),
    "12_write_outside.c": ("files", "File too large"),
}


def test_every_c_twin_has_a_case() -> None:
    assert sorted(p.name for p in HOSTILE_C.glob("*.c")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_c_program_is_contained(server: Server, name: str) -> None:
    limit, text = CASES[name]
    fds_before = server_fds(server)
    r = server.http.post("/api/runs", json={"files": {"main.c": (HOSTILE_C / name).read_text()}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    benign = server.http.post("/api/runs", json={"files": {"main.c": BENIGN}})
    assert benign.status_code == 201, benign.text
    t0 = time.monotonic()
    while server.http.get(f"/api/runs/{run_id}").json()["status"] != "finished":
        assert server.http.get("/healthz").status_code == 200
        assert time.monotonic() - t0 < 90, "the hostile run was not ended"
        time.sleep(0.2)
    events = server.http.get(f"/api/runs/{run_id}/events").json()
    ended = time.monotonic()
    benign_events = server.wait(benign.json()["id"], 60)
    assert "benign child" in output(benign_events) and benign_events[-1]["status"] == "ok", benign_events[-3:]

    assert of(events, "run.compile")[0]["ok"], of(events, "run.compile")
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
        assert fired[0]["params"], fired  # the numbers the student's sentence names
    if text:
        assert text in output(events), output(events)[-500:]

    h0 = time.monotonic()
    assert httpx.get(server.base + "/healthz", timeout=2).status_code == 200
    assert time.monotonic() - h0 < 1.0
    assert time.monotonic() - ended < 3.0
    left = survivors(of(events, "run.started")[0]["uid"])
    assert not left, left
    assert not pool_files(), pool_files()
    assert not pool_ipc(), pool_ipc()
    assert not os.path.exists("/tmp/proclab-escaped-daemon")
    assert not os.path.exists("/tmp/proclab-big.bin")
    assert server.proc.poll() is None, "the server died"
    assert server_fds(server) <= fds_before + 2
    if name == "11_read_secrets.c":
        out = output(events)
        assert server.secret not in out
        assert "PROCLAB_INSTRUCTOR_TOKEN" not in out
        assert "/etc/shadow Permission denied" in out
    if name == "12_write_outside.c":
        out = output(events)
        assert "WRITTEN" not in out, out
        for path in ("/etc/proclab-escaped", "/usr/lib/proclab-escaped", "/root/proclab-escaped"):
            assert not os.path.exists(path)
    if name == "07_output_flood.c":
        delivered = sum(len(e["text"].encode()) for e in of(events, "io.output"))
        assert delivered <= 256 * 1024
        assert of(events, "io.truncated")
