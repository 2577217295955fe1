"""The run's limits, watched: CPU, memory, processes, files, leftovers (wall clock and output are
the supervisor's and the output pipes' to see), from the tracker's /proc figures, the run's cgroup
and what the shims saw fail.

Stdlib only, like the rest of app/sandbox.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

from .limits import Limits
from .tracker import Tracker

TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def bytes_under(top: str, recursive: bool, uid: int | None = None) -> int:
    """Bytes allocated to the files under top (never following a link); only uid's files when given."""
    total = 0
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        if recursive:
                            stack.append(e.path)
                    elif uid is None or st.st_uid == uid:
                        total += st.st_blocks * 512
        except OSError:
            continue
    return total


Hit = tuple[str, str, dict[str, Any]]  # (limit, detail, extra params of its sentence)


class LimitWatch:
    def __init__(self, limits: Limits, tracker: Tracker, run_dir: str, uid: int | None) -> None:
        self.limits = limits
        self.tracker = tracker
        self.run_dir = run_dir
        self.uid = uid
        self.cg: Any = None  # the run's cgroup, once prepared (None: counted from /proc alone)
        self.hits: dict[str, str] = {}  # limit -> what the kernel or a shim said about hitting it
        self.max_rss = 0
        self._last_files = 0.0
        self._last_cg = 0.0
        self._last_pss = 0.0
        self._cg_cpu = 0.0

    def hit(self, limit: str, detail: str) -> None:
        """A shim saw a fork or an allocation fail at the limit."""
        self.hits[limit] = detail

    def look_now(self) -> None:
        """Read files and the cgroup at the next check: the main program just ended, and a fast writer may
        have finished between two polls, or the kernel's OOM killer may be why it is gone."""
        self._last_files = 0.0
        self._last_cg = 0.0

    def files_bytes(self) -> int:
        """Disk used by the run: its directory tree, and its uid's files in the shared temporary dirs."""
        total = bytes_under(self.run_dir, recursive=True)
        if self.uid is not None:
            total += sum(bytes_under(d, recursive=False, uid=self.uid) for d in TMP_DIRS)
        return total

    def check(self, leftover_for: float | None) -> Hit | None:
        """The limit passed, if any. leftover_for: seconds since the main program ended, while others run."""
        lim = self.limits
        now = time.monotonic()
        if self.cg is not None and now - self._last_cg >= 0.1:
            # Three cgroup files cost ~20 syscalls: every 100 ms is plenty for limits measured in seconds.
            self._last_cg = now
            self._cg_cpu = self.cg.cpu_ns() / 1e9
            if self.cg.oom_killed():
                self.hits.setdefault("memory", "the kernel's out-of-memory killer stopped a process")
            if self.cg.pids_limit_hits() > 0:
                self.hits.setdefault("processes", "fork() or a new thread failed at the process limit")
        cpu = self._cg_cpu if self.cg is not None else self.tracker.cpu_seconds()
        if cpu > lim.cpu_s:
            return "cpu", f"{lim.cpu_s:g} s of CPU time", {}
        memory_max = lim.memory_mb * 2**20
        rss = self.tracker.rss_bytes()
        if rss > memory_max and now - self._last_pss > 0.1:
            # RSS counts a page shared after fork once per process; PSS shares it out fairly.
            self._last_pss = now
            rss = self.tracker.pss_bytes()
        elif rss > memory_max:
            rss = 0
        self.max_rss = max(self.max_rss, rss)
        if rss > memory_max or "memory" in self.hits:
            return "memory", self.hits.get("memory") or f"{rss >> 20} MiB resident", {}
        if "processes" in self.hits or self.tracker.task_count() >= lim.processes:
            return "processes", self.hits.get("processes") or f"{self.tracker.task_count()} processes and threads", {}
        if now - self._last_files > 0.25:
            self._last_files = now
            used = self.files_bytes()
            if used > lim.files_mb * 2**20:
                return "files", f"{used >> 20} MiB of files", {}
        if leftover_for is not None and leftover_for > lim.leftover_s:
            left = self.tracker.alive()
            if left:
                return "leftover", f"{len(left)} process(es) still running", {"count": len(left)}
        return None
