"""Turning the supervisor's freshly forked child into the scenario's first process.

Order matters: join the cgroup before anything can fork, rename before Landlock makes /proc
read-only, rlimits and nice while still root, drop to the run's uid, make the process dumpable
again (so a supervisor without CAP_SYS_PTRACE can still read /proc), then seccomp and Landlock,
then a clean environment, then the scenario (runner.run_main never returns).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

from . import cleanup

PR_SET_DUMPABLE = 4


def prctl(option: int, arg: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _set_comm(name: bytes) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(name[:15]), 0, 0, 0)  # PR_SET_NAME


def _set_cmdline(argv: list[str]) -> None:
    """Make /proc/self/cmdline (what `ps` shows) read `python3 main.py` instead of the launcher's
    command line, by overwriting the argument area in place (as setproctitle does)."""
    try:
        fields = open("/proc/self/stat", "rb").read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        new = b"\0".join(a.encode() for a in argv) + b"\0"
        if len(new) > end - start:
            return
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(new.ljust(end - start, b"\0"))
        # Trim the area to the new length where allowed (CAP_SYS_RESOURCE); otherwise NULs pad it.
        ctypes.CDLL(None, use_errno=True).prctl(35, 9, ctypes.c_ulong(start + len(new)), 0, 0)  # PR_SET_MM_ARG_END
    except (OSError, ValueError, IndexError):
        pass


def become_scenario(sup: Any, stdin_r: int, out_w: int, err_w: int) -> None:
    """In the scenario's first process: drop everything the run must not have, then run main."""
    os.setpgid(0, 0)
    _set_comm(b"python3")  # what `ps` would show for `python3 main.py`; children inherit it
    _set_cmdline(["python3", sup.spec.get("main", "main.py")])  # before Landlock makes /proc read-only
    if sup.cg is not None:
        sup.cg.add(os.getpid())  # before anything can fork: every descendant is counted
    os.dup2(stdin_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 65536)
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts: Ctrl+C raises KeyboardInterrupt
    lim = sup.limits
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, int(sup.spec.get("nice", 10)))  # absolute: below the supervisor
    except OSError:
        pass
    mem = lim.memory_mb * 2**20
    if sup.cg is not None:
        mem *= 4  # the cgroup limits the whole run; AS only stops one absurd allocation early
    nproc = lim.processes
    if sup.uid is None:
        # No uid of its own: NPROC counts all of this user's processes, so leave room for them.
        nproc += len(cleanup.list_uid_pids(os.getuid()))
    cpu = int(lim.cpu_s) + 1
    for res, value in ((resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_AS, mem + 64 * 2**20),
                       (resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, lim.files_mb * 2**20),
                       (resource.RLIMIT_NOFILE, lim.fds), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_STACK, 4 * 2**20)):
        soft, hard = value if isinstance(value, tuple) else (value, value)
        resource.setrlimit(res, (soft, hard))
    if sup.uid is not None:
        os.setgroups([])
        os.setresgid(sup.gid or sup.uid, sup.gid or sup.uid, sup.gid or sup.uid)
        os.setresuid(sup.uid, sup.uid, sup.uid)
        # setresuid made the process non-dumpable, which hides /proc/PID/{fd,syscall,wchan} from a
        # supervisor without CAP_SYS_PTRACE (a default docker run). The run has nothing to hide from it.
        prctl(PR_SET_DUMPABLE, 1)
    layers = set(sup.spec.get("layers", []))
    if "seccomp" in layers:
        from . import seccomp

        seccomp.install_filter()
    if "landlock" in layers:
        from . import landlock

        landlock.restrict(sup.spec.get("ro_paths", []), [sup.run_dir, "/dev/null", "/dev/zero",
                                                           "/dev/urandom", "/dev/shm", "/tmp"])
    os.chdir(sup.run_dir)
    env = {
        "PATH": f"{sup.spec['bin_dir']}:/usr/local/bin:/usr/bin:/bin",
        "HOME": sup.run_dir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": sup.spec["shim_dir"],
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # glibc reserves 64 MiB of address space per thread arena: under RLIMIT_AS that starves threads.
        "MALLOC_ARENA_MAX": "2",
        "TERM": "dumb",
        "USER": "student",
        "PROCLAB_SHIM": sup.shim_path,
        "PROCLAB_RUN_DIR": sup.run_dir,
        "PROCLAB_PACE": sup.mode,
    }
    os.environ.clear()
    os.environ.update(env)
    main = sup.spec.get("main", "main.py")
    from . import runner

    runner.run_main(sup.run_dir, main)
