"""Every program in shared/hostile/ against a real server, as its README says.

A case passes when /healthz answers while the run goes and a benign run started
alongside finishes correctly; once the run is reported finished nothing of it is left
(processes, zombies, files, /dev/shm, SysV IPC); and the final event says which
limit ended it, in words a student understands. Speed is bench/hostile.py's.
"""

from __future__ import annotations

import pytest
from conftest import HOSTILE, Server, output
from hostile_checks import (
    assert_ended_by,
    assert_nothing_left,
    delivered_at_most_the_cap,
    run_beside_benign,
    server_fds,
)

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
BENIGN = "import os\nif os.fork() == 0:\n    print('benign child')\n    os._exit(0)\nos.wait()\n"


@pytest.mark.skipif(not HOSTILE.is_dir(), reason="shared/hostile is not beside the repo")
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_program_is_contained(server: Server, name: str) -> None:
    limit, text = CASES[name]
    source = (HOSTILE / name).read_text()
    fds_before = server_fds(server)
    # A benign run alongside: it must finish correctly while the attack goes on.
    events = run_beside_benign(server, {"main.py": source}, {"main.py": BENIGN})
    assert_ended_by(events, limit, text)
    assert_nothing_left(server, events, fds_before)
    if name == "11_read_secrets.py":
        assert server.secret not in output(events)
        assert "PROCLAB_INSTRUCTOR_TOKEN" not in output(events)
    if name in ("07_output_flood.py", "08_huge_line.py"):
        delivered_at_most_the_cap(events)
