"""Turning a freshly forked child of the supervisor into the scenario's first process.

Two halves, so that a warm spare can do the first one before the run is asked for:

- `prepare_root` (no spec needed): own process group, the run's cgroup (the slow step: the
  kernel waits for an RCU grace period on a migration), the three standard streams, default
  signal handlers, oom_score_adj.
- `finish_root` (needs the run's `RootSetup`): command line, nice, rlimits while still root,
  drop to the run's uid, make the process dumpable again (so a supervisor without
  CAP_SYS_PTRACE can still read /proc), then seccomp and Landlock, then a clean environment,
  then the scenario (runner.run_main never returns).

The cold path calls both in a row; a warm spare calls the first, then waits on a pipe for the
RootSetup (as JSON) before it calls the second.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import cleanup, procfs
from .limits import Limits
from .linux import PR_SET_DUMPABLE, PR_SET_MM, PR_SET_MM_ARG_END, PR_SET_NAME, libc, prctl
from .protocol import DEFAULT_NICE, PaceMode


def _set_comm(name: bytes) -> None:
    libc().prctl(PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)


def _set_cmdline(argv: list[str], trim: bool = True) -> None:
    """Make /proc/self/cmdline (what `ps` shows) read `python3 main.py` instead of the launcher's
    command line, by overwriting the argument area in place (as setproctitle does). trim=False keeps
    the area's length (NUL-padded), so a forked child can still write a longer command line of its own."""
    try:
        start, end = procfs.arg_area()
        new = b"\0".join(a.encode() for a in argv) + b"\0"
        if len(new) > end - start:
            return
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(new.ljust(end - start, b"\0"))
        # Trim the area to the new length where allowed (CAP_SYS_RESOURCE); otherwise NULs pad it.
        if trim:
            libc().prctl(PR_SET_MM, PR_SET_MM_ARG_END, ctypes.c_ulong(start + len(new)), 0, 0)
    except (OSError, ValueError, IndexError):
        pass


def fork_child(body: Callable[[], object], what: str) -> int:
    """Fork a child that runs body() and never comes back to the caller's code. If body raises (its set-up
    failed), the child says so on its stderr, the pipe the supervisor reads, and exits 127, as a shell does
    for a command it could not start. Returns the child's pid (in the parent)."""
    pid = os.fork()
    if pid == 0:
        try:
            body()
        except BaseException as e:
            try:
                os.write(2, f"proclab: could not start {what}: {e}\n".encode())
            except OSError:
                pass
        os._exit(127)
    return pid


def run_nice(configured: int, cg: Any) -> int:
    """The nice a run's processes start at: 0, as on a plain Linux, when the runs' cgroup carries a
    low CPU weight (cgroup.RunCgroup.cpu_weight) that keeps the server responsive; otherwise the
    configured nice (PROCLAB_NICE) does that job, and run.started says so (`nice`)."""
    return 0 if cg is not None and getattr(cg, "cpu_weight", None) else configured


@dataclass
class RootSetup:
    """Everything the scenario's first process needs to know about its run (no file contents)."""

    main: str
    run_dir: str
    limits: dict[str, Any]
    uid: int | None
    gid: int | None
    layers: list[str]
    ro_paths: list[str]
    bin_dir: str
    shim_dir: str
    shim_path: str
    pace: str = PaceMode.NORMAL.value
    stdio: str = "terminal"  # protocol.Stdio: stdout line-buffered as on a terminal, or as into a pipe
    nice: int = DEFAULT_NICE
    cgroup: bool = False

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> RootSetup:
        return cls(**json.loads(data))


@dataclass
class PreparedRoot:
    """A warm spare's placeholder root: forked, in its cgroup, waiting for its RootSetup on `go_w`.

    The fds are the supervisor's ends; `inodes` are the three standard pipes' (hidden from the
    process's own fd list, as they are in a cold start).
    """

    pid: int
    go_w: int
    stdin_w: int
    out_r: int
    err_r: int
    inodes: tuple[int, int, int]
    cg: Any = None
    cg_error: str | None = None
    tmp_mb: int = 0
    dirs: PreparedDirs | None = None
    compiler: Any = None  # a compile.PreparedCompiler (C runs), in the cgroup too

    def close_fds(self) -> None:
        """The supervisor's ends; closing go_w with nothing written tells the placeholder to exit."""
        for fd in (self.go_w, self.stdin_w, self.out_r, self.err_r):
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class PreparedDirs:
    """A warm spare's run and control directories and shim listener, renamed to the run's id later."""

    uid: int
    run_dir: str
    ctl_dir: str
    listener: Any  # socket.socket bound at ctl_dir/shim.sock


def prepare_root(cg: Any, stdin_r: int, out_w: int, err_w: int, keep: tuple[int, ...] = ()) -> None:
    """The part that needs nothing of the run: after it, only `keep` and 0-2 stay open."""
    os.setpgid(0, 0)
    _set_comm(b"python3")  # what `ps` would show for `python3 main.py`; children inherit it
    if cg is not None:
        cg.add(os.getpid())  # before anything can fork: every descendant is counted
    os.dup2(stdin_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    lo = 3
    for fd in sorted(keep):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 65536)
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts: Ctrl+C raises KeyboardInterrupt
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


@dataclass
class _Ready:
    """What a warm placeholder did ahead of time, for the run it expects (see warm_up)."""

    main: str | None = None  # the command line already reads `python3 <main>`
    nice: int | None = None
    layers: tuple[str, ...] = ()
    ro_paths: tuple[str, ...] = ()
    seccomp: Any = None  # a seccomp.PreparedFilter
    landlock_fd: int = -1  # a Landlock ruleset with the read-only and the fixed read-write rules


_ready = _Ready()
_FIXED_RW = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/shm", "/tmp")


def warm_up(layers: list[str], ro_paths: list[str], nice: int) -> None:
    """In a warm placeholder, before the run is known: everything of finish_root that does not
    depend on the run. Each part is checked against the real RootSetup later and redone if it differs."""
    _set_cmdline(["python3", "main.py"])
    _ready.main = "main.py"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        _ready.nice = nice
    except OSError:
        pass
    prebuild(layers, ro_paths)
    from . import shim

    shim.install_hooks()  # inert until runner.run_main activates the shim


def prebuild(layers: list[str], ro_paths: list[str]) -> None:
    """Build the seccomp program and the Landlock ruleset ahead of `restrict`, which uses them when the
    layers and paths are the same (a warm placeholder; the compiler's process while it joins the cgroup)."""
    _ready.layers, _ready.ro_paths = tuple(layers), tuple(ro_paths)
    try:
        if "seccomp" in layers:
            from . import seccomp

            _ready.seccomp = seccomp.prepare_filter()
        if "landlock" in layers:
            from . import landlock

            _ready.landlock_fd = landlock.ruleset(ro_paths, _FIXED_RW)
    except (OSError, RuntimeError):
        pass  # finish_root builds them the ordinary way and reports what fails there


def finish_root(setup: RootSetup) -> None:
    """Drop everything the run must not have, then run main. Never returns."""
    restrict(setup)
    from . import runner

    runner.run_main(setup.run_dir, setup.main)


def restrict(setup: RootSetup) -> None:
    """Everything of finish_root before main runs (the compiler runs under it too, see compile.py)."""
    if _ready.main != setup.main:
        _set_cmdline(["python3", setup.main])  # before Landlock makes /proc read-only
    lim = Limits.from_dict(setup.limits)
    if _ready.nice != setup.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, setup.nice)  # absolute: below the supervisor
        except OSError:
            pass
    mem = lim.memory_mb * 2**20
    if setup.cgroup:
        mem *= 4  # the cgroup limits the whole run; AS only stops one absurd allocation early
    nproc = lim.processes
    if setup.uid is None:
        # No uid of its own: NPROC counts all of this user's processes, so leave room for them.
        nproc += len(cleanup.list_uid_pids(os.getuid()))
    cpu = int(lim.cpu_s) + 1
    for res, value in ((resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_AS, mem + 64 * 2**20),
                       (resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, lim.files_mb * 2**20),
                       (resource.RLIMIT_NOFILE, lim.fds), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_STACK, 4 * 2**20)):
        soft, hard = value if isinstance(value, tuple) else (value, value)
        resource.setrlimit(res, (soft, hard))
    if setup.uid is not None:
        gid = setup.gid or setup.uid
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(setup.uid, setup.uid, setup.uid)
        # setresuid made the process non-dumpable, which hides /proc/PID/{fd,syscall,wchan} from a
        # supervisor without CAP_SYS_PTRACE (a default docker run). The run has nothing to hide from it.
        prctl(PR_SET_DUMPABLE, 1)
    same = _ready.layers == tuple(setup.layers) and _ready.ro_paths == tuple(setup.ro_paths)
    if _ready.landlock_fd >= 0 and not (same and "landlock" in setup.layers):
        os.close(_ready.landlock_fd)  # not for this run: the scenario must not inherit it
        _ready.landlock_fd = -1
    if "seccomp" in setup.layers:
        from . import seccomp

        seccomp.install_filter(_ready.seccomp if same else None)
    if "landlock" in setup.layers:
        from . import landlock

        if same and _ready.landlock_fd >= 0:
            landlock.restrict_with(_ready.landlock_fd, [setup.run_dir])
        else:
            landlock.restrict(setup.ro_paths, [setup.run_dir, *_FIXED_RW])
    os.chdir(setup.run_dir)
    os.environ.clear()
    os.environ.update(scenario_env(setup))


def scenario_env(setup: RootSetup) -> dict[str, str]:
    native = os.path.join(setup.shim_dir, "proclab_native.so")  # built by the launcher (sandbox/native)
    return {
        **({"LD_PRELOAD": native} if os.path.exists(native) else {}),
        "PATH": f"{setup.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": setup.run_dir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": setup.shim_dir,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # glibc reserves 64 MiB of address space per thread arena: under RLIMIT_AS that starves threads.
        "MALLOC_ARENA_MAX": "2",
        "TERM": "dumb",
        "USER": "student",
        "PROCLAB_SHIM": setup.shim_path,
        "PROCLAB_RUN_DIR": setup.run_dir,
        "PROCLAB_PACE": setup.pace,
        "PROCLAB_STDIO": setup.stdio,
    }


def wait_for_setup(go_r: int) -> RootSetup | None:
    """In a warm placeholder: block until the supervisor writes the RootSetup and closes the pipe.

    None when the pipe closes empty: the spare is being retired (or its supervisor died).
    """
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(go_r, 1 << 16)
        except InterruptedError:
            continue
        if not data:
            break
        chunks.append(data)
    os.close(go_r)
    return RootSetup.decode(b"".join(chunks)) if chunks else None
