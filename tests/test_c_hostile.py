"""The C twins of shared/hostile/ (tests/hostile_c/*.c) against a real server, judged like test_hostile.py:
the server stays responsive and a benign C run alongside finishes, nothing of the run is left, and the
final event names the limit that ended it in words a student understands."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, Server, of, output
from hostile_checks import (
    assert_ended_by,
    assert_nothing_left,
    delivered_at_most_the_cap,
    run_beside_benign,
    server_fds,
)

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
    events = run_beside_benign(server, {"main.c": (HOSTILE_C / name).read_text()}, {"main.c": BENIGN})
    assert of(events, "run.compile")[0]["ok"], of(events, "run.compile")
    assert_ended_by(events, limit, text)
    assert_nothing_left(server, events, fds_before)
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
        delivered_at_most_the_cap(events)
