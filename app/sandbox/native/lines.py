"""Source lines of traced C calls: a return address (an offset into the main executable) → file:line.

One `addr2line` per executable, kept running and asked once per address (answers are cached). It runs as
the run's uid, with small limits, since it parses a binary the student built. Only executables inside the
run directory are looked at: `sh` and `ps` have no lines the lesson could show.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import subprocess
from typing import Any

Line = dict[str, Any]


class LineResolver:
    TIMEOUT_S = 1.0

    def __init__(self, run_dir: str, uid: int | None, gid: int | None) -> None:
        self.run_dir = os.path.realpath(run_dir) + os.sep
        self.uid, self.gid = uid, gid
        self.tool = shutil.which("addr2line")
        self.procs: dict[str, subprocess.Popen[bytes] | None] = {}
        self.cache: dict[tuple[str, int], tuple[str | None, Line | None]] = {}
        self.helper_pids: set[int] = set()  # never a run process, even with the run's uid

    def line(self, exe: str | None, pc: int) -> Line | None:
        return self._lookup(exe, pc)[1]

    def function(self, exe: str | None, pc: int) -> str | None:
        """The name of the function at pc (a signal handler, a thread's start routine)."""
        return self._lookup(exe, pc)[0]

    def _lookup(self, exe: str | None, pc: int) -> tuple[str | None, Line | None]:
        if not exe or pc < 0 or self.tool is None or not exe.startswith(self.run_dir):
            return None, None
        key = (exe, pc)
        if key not in self.cache:
            self.cache[key] = self._ask(exe, pc)
        return self.cache[key]

    def _limits(self) -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        resource.setrlimit(resource.RLIMIT_CPU, (10, 11))

    def prestart(self, exe: str) -> None:
        """Start exe's addr2line now, before the sandbox gives its pids back (compile._rewind_pids): started
        lazily at the program's first traced call, it took pid 3 from the program's first child."""
        if self.tool is not None and exe.startswith(self.run_dir) and exe not in self.procs:
            self.procs[exe] = self._start(exe)

    def _start(self, exe: str) -> subprocess.Popen[bytes] | None:
        as_user: dict[str, Any] = {}
        if self.uid is not None and os.geteuid() == 0:
            as_user = {"user": self.uid, "group": self.gid if self.gid is not None else self.uid, "extra_groups": []}
        try:
            p = subprocess.Popen([str(self.tool), "-f", "-e", exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, bufsize=0, preexec_fn=self._limits, close_fds=True, **as_user)
        except (OSError, subprocess.SubprocessError):
            return None
        self.helper_pids.add(p.pid)
        return p

    def _ask(self, exe: str, pc: int) -> tuple[str | None, Line | None]:
        if exe not in self.procs:
            self.procs[exe] = self._start(exe)
        p = self.procs[exe]
        if p is None or p.stdin is None or p.stdout is None:
            return None, None
        try:
            p.stdin.write(f"{pc:#x}\n".encode())
            p.stdin.flush()
            answer = []
            for _ in range(2):  # the function's name, then file:line
                ready, _, _ = select.select([p.stdout], [], [], self.TIMEOUT_S)
                if not ready:
                    raise OSError("addr2line did not answer")
                answer.append(p.stdout.readline().decode("utf-8", "replace").strip())
        except OSError:
            self.procs[exe] = None
            p.kill()
            return None, None
        func = answer[0] if answer[0] and answer[0] != "??" else None
        return func, self.parse(answer[1])

    def parse(self, text: str) -> Line | None:
        """`/run/dir/main.c:12 (discriminator 1)` → {"file": "main.c", "line": 12}; `??:0` → None."""
        where = text.split(" (", 1)[0]
        path, _, num = where.rpartition(":")
        if not path or path.startswith("??") or not num.isdigit() or int(num) == 0:
            return None
        if path.startswith(self.run_dir):
            path = path[len(self.run_dir):]
        elif os.path.isabs(path):
            return None  # a header of the system or a library: not the lesson's code
        return {"file": path, "line": int(num)}

    def close(self) -> None:
        for p in self.procs.values():
            if p is not None:
                try:
                    p.kill()
                except OSError:
                    pass
        self.procs.clear()
