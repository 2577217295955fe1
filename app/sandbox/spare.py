"""A warm spare: a supervisor made ready before anyone asks for its run.

Starting a run the cold way does everything in a row after the request: fork the
supervisor, make its namespaces and mounts, create the run's cgroup, fork the root and
move it into the cgroup. The move alone waits ~10 ms for an RCU grace period (cgroup
v1 and v2 alike, unless the host mounts cgroups with `favordynmods`). A spare does all
of that ahead of time, for one run uid, and then waits on its control socket. A run
request hands it the run's stream socket; it reads the spec, sets the cgroup's limits,
writes the run's files and releases the placeholder root, which only has to drop its
uid, install seccomp and Landlock and run `main.py`.

The launcher keeps at most one spare per free run uid and replaces each one used.
A spare that is retired (its control socket closes) kills its placeholder, removes its
cgroup and exits. The placeholder never runs student code before it is released, and
runs nothing as the run's uid, so a spare left waiting for hours is harmless.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any, NoReturn

from . import rootproc, supervisor
from .limits import Limits
from .protocol import DEFAULT_NICE


def cgroup_name(uid: int) -> str:
    """One name per uid: a stale cgroup of a crashed spare is emptied and reused by the next one."""
    return f"uid-{uid}"


def _make_cgroup(uid: int, lim: Limits) -> tuple[Any, str | None]:
    from . import cgroup

    try:
        cg = cgroup.RunCgroup.create(cgroup_name(uid), pids_max=lim.processes, memory_max=lim.memory_mb * 2**20,
                                     cpu_quota_pct=None)
    except OSError as e:
        return None, str(e)
    return cg, (None if cg is not None else "no writable cgroup file system")


def _fork_placeholder(cfg: dict[str, Any], cg: Any, tmp_mb: int, cg_error: str | None) -> rootproc.PreparedRoot:
    stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    inodes = (os.fstat(stdin_r).st_ino, os.fstat(out_w).st_ino, os.fstat(err_w).st_ino)

    def placeholder() -> None:
        rootproc.prepare_root(cg, stdin_r, out_w, err_w, keep=(go_r,))
        rootproc.warm_up(list(cfg.get("layers") or []), list(cfg.get("ro_paths") or []),
                         rootproc.run_nice(int(cfg.get("nice", DEFAULT_NICE)), cg))
        setup = rootproc.wait_for_setup(go_r)
        if setup is None:
            os._exit(0)  # retired before any run
        rootproc.finish_root(setup)

    pid = rootproc.fork_child(placeholder, "the scenario")
    for fd in (stdin_r, out_w, err_w, go_r):
        os.close(fd)
    return rootproc.PreparedRoot(pid=pid, go_w=go_w, stdin_w=stdin_w, out_r=out_r, err_r=err_r, inodes=inodes,
                                 cg=cg, cg_error=cg_error, tmp_mb=tmp_mb)


def _await_run(ctl: socket.socket) -> socket.socket | None:
    """Block until the launcher hands over a run's stream socket; None when the spare is retired."""
    try:
        data, fds, _flags, _ = socket.recv_fds(ctl, 4096, 4)
    except OSError:
        return None
    if not data or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        return None
    return socket.socket(fileno=fds[0])


def _make_dirs(runtime: str, uid: int) -> rootproc.PreparedDirs:
    run_dir = os.path.join(runtime, "runs", f"spare-{uid}")
    ctl_dir = os.path.join(runtime, "ctl", f"spare-{uid}")
    supervisor.make_run_dirs(runtime, [run_dir, ctl_dir], uid, uid)
    listener = supervisor.shim_listener(os.path.join(ctl_dir, "shim.sock"), uid, uid)
    return rootproc.PreparedDirs(uid, run_dir, ctl_dir, listener)


def _retire(root: rootproc.PreparedRoot) -> NoReturn:
    root.close_fds()
    if root.compiler is not None:
        from . import compile

        compile.drop_compiler(root.compiler)
    try:
        os.waitpid(root.pid, 0)
    except ChildProcessError:
        pass
    if root.cg is not None:
        root.cg.kill()
        root.cg.remove()
    if root.dirs is not None:
        from . import cleanup

        for d in (root.dirs.run_dir, root.dirs.ctl_dir):
            try:
                cleanup.remove_tree_nofollow(d)
            except OSError:
                pass
    os._exit(0)


class _Retired(Exception):
    pass


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Retired  # the launcher or the server is going away: clean up rather than die as we are


def main(ctl: socket.socket, uid: int, cfg: dict[str, Any]) -> NoReturn:
    """Entry point in the spare's supervisor process (PID 1 of the run's namespaces when they are used)."""
    try:
        supervisor.become_supervisor()
    except BaseException:
        os._exit(1)
    lim = Limits.from_dict(cfg.get("limits", {}))
    cg, cg_error = _make_cgroup(uid, lim) if cfg.get("cgroup") else (None, None)
    root = _fork_placeholder(cfg, cg, int(cfg.get("tmp_mb", lim.files_mb)), cg_error)
    if cg is not None:
        # Only worth it with a cgroup: what the compiler's process saves is the wait of its move into it.
        from . import compile

        try:
            root.compiler = compile.fork_compiler(cg, list(cfg.get("layers") or []), list(cfg.get("ro_paths") or []))
        except OSError:
            root.compiler = None  # a C run then forks its compiler the cold way
    try:
        root.dirs = _make_dirs(cfg["runtime_dir"], uid)
    except (OSError, KeyError):
        root.dirs = None  # the run makes them itself, as a cold start does
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
        sock = _await_run(ctl)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except _Retired:
        sock = None
    ctl.close()
    if sock is None:
        _retire(root)
    supervisor.serve(sock, root)
    os._exit(0)  # serve never returns
