"""Every program in shared/hostile/ against a real server, as its README says.

A case passes when, within 2 s of its run ending: /healthz answers quickly and a
benign run started alongside finishes correctly; nothing of the run is left
(processes, zombies, files, /dev/shm, SysV IPC); and the final event says which
limit ended it, in words a student understands.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from conftest import HOSTILE, Server, of, output, survivors

# program -> (limit that must end it, or None for a normal finish; text that must be in the output)
CASES: dict[str, tuple[str | tuple[str, ...] | None, str | None]] = {
    "01_fork_bomb.py": ("processes", None),
    "02_zombie_churn.py": ("processes", None),
    "03_double_fork_daemon.py": ("leftover", "parent done"),
    "04_ignore_term_busy.py": (("cpu", "wall"), None),
    "05_sigstop_self.py": ("wall", "stopping myself"),
    "06_memory_bomb.py": ("memory", "big allocation refused"),
    "07_output_flood.py": ("output", None),
    "08_huge_line.py": ("output", None),
    "09_fd_exhaustion.py": (None, "Too many open files"),
    "10_kill_everyone.py": (None, "survived"),
    "11_read_secrets.py": (None, "Permission denied"),
    "12_disk_fill.py": ("files", "File too large"),
    "13_thread_bomb.py": ("processes", None),
    "14_legit_everything.py": (None, "ALL OK"),
}
POOL = range(61000, 62000)


def pool_ipc() -> list[str]:
    found = []
    for kind in ("shm", "sem", "msg"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        header = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[0].split()
        col = header.index("uid")
        found += [f"{kind}: {line}" for line in lines if int(line.split()[col]) in POOL]
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


@pytest.mark.skipif(not HOSTILE.is_dir(), reason="shared/hostile is not beside the repo")
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_program_is_contained(server: Server, name: str) -> None:
    limit, text = CASES[name]
    source = (HOSTILE / name).read_text()
    fds_before = server_fds(server)
    r = server.http.post("/api/runs", json={"files": {"main.py": source}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    # A benign run alongside: it must finish correctly while the attack goes on.
    benign = server.http.post("/api/runs", json={"files": {"main.py": "import os\nif os.fork() == 0:\n"
                                                           "    print('benign child')\n    os._exit(0)\nos.wait()\n"}})
    assert benign.status_code == 201, benign.text
    t0 = time.monotonic()
    health = []
    while server.http.get(f"/api/runs/{run_id}").json()["status"] != "finished":
        h0 = time.monotonic()
        assert server.http.get("/healthz").status_code == 200
        health.append(time.monotonic() - h0)
        assert time.monotonic() - t0 < 90, "the hostile run was not ended"
        time.sleep(0.2)
    events = server.http.get(f"/api/runs/{run_id}/events").json()
    ended = time.monotonic()
    benign_events = server.wait(benign.json()["id"], 60)
    assert "benign child" in output(benign_events) and benign_events[-1]["status"] == "ok"

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
        assert fired[0]["params"] and "message" not in fired[0], fired
        assert fin["outcome"] == {"code": "limit", "limit": fired[0]["limit"]}, fin
    if text:
        assert text in output(events), output(events)[-500:]

    # Within 2 s of the end: the server answers fast and nothing of the run is left.
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
    if name == "11_read_secrets.py":
        assert server.secret not in output(events)
        assert "PROCLAB_INSTRUCTOR_TOKEN" not in output(events)
    if name in ("07_output_flood.py", "08_huge_line.py"):
        delivered = sum(len(e["text"].encode()) for e in of(events, "io.output"))
        assert delivered <= 256 * 1024
        assert of(events, "io.truncated")
