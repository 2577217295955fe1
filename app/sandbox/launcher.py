"""The launcher ("zygote"): a pre-imported interpreter that forks one supervisor per run.

Started by the web process (or the CLI) with a clean environment, before any
secret is read, as a fresh interpreter: its memory never held the server's
environment, tokens or sockets, so nothing of them can reach a run.

It talks with its parent over one SOCK_SEQPACKET socket: JSON requests, one
per datagram; a "run" request carries the run's own stream socket (SCM_RIGHTS),
which the forked supervisor keeps.
"""

from __future__ import annotations

# Pre-import what scenarios use, so that a forked run starts in ~2 ms.
import atexit  # noqa: F401
import codecs  # noqa: F401
import collections  # noqa: F401
import ctypes  # noqa: F401
import enum
import fcntl  # noqa: F401
import json
import multiprocessing  # noqa: F401
import multiprocessing.connection  # noqa: F401
import multiprocessing.pool  # noqa: F401
import multiprocessing.queues  # noqa: F401
import multiprocessing.sharedctypes  # noqa: F401
import multiprocessing.synchronize  # noqa: F401
import os
import queue  # noqa: F401
import random  # noqa: F401
import resource  # noqa: F401
import runpy  # noqa: F401
import select  # noqa: F401
import selectors
import shutil
import signal
import socket
import struct  # noqa: F401
import subprocess  # noqa: F401
import sys
import threading  # noqa: F401
import time
import traceback  # noqa: F401
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import cleanup, landlock, linux, rootproc, runner, seccomp, shim, spare, supervisor  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
# Making a spare (namespaces, mounts, forks, cgroup moves: these hold the kernel's cgroup_threadgroup_rwsem
# for writing, and every fork waits meanwhile) competes with gcc, which forks cc1, as, collect2 and ld: no
# spare is made while a C run's compile is likely under way.
COMPILE_QUIET_S = 0.4


class DiscoveryMode(enum.StrEnum):
    PRELOAD = "preload"  # the native shim's hello, before main (every dynamically linked program)
    SCAN = "scan"  # /proc scanned by uid every 10 ms


def prepare_runtime(runtime: str, pool: list[int], native: bool = True) -> dict[str, Any]:
    """Runtime directory (one per launcher, in a shared parent): shim, bin with python/python3, runs, ctl."""
    shared = os.path.dirname(runtime)
    for d in (shared, runtime):
        os.makedirs(d, mode=0o711, exist_ok=True)
        os.chmod(d, 0o711)  # run uids may traverse it, not list it
    shim_dir = os.path.join(runtime, "shim")
    bin_dir = os.path.join(runtime, "bin")
    for d in (shim_dir, bin_dir):
        os.makedirs(d, mode=0o755, exist_ok=True)
        os.chmod(d, 0o755)
    for src, dst in (("shim.py", "proclab_shim.py"), ("sitecustomize.py", "sitecustomize.py")):
        tmp = os.path.join(shim_dir, dst + ".tmp")
        shutil.copyfile(os.path.join(HERE, src), tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(shim_dir, dst))
    for name in ("python", "python3"):
        link = os.path.join(bin_dir, name)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(sys.executable, link)
    sweep(runtime, pool)
    sweep_dead_instances(shared)
    from .native import build

    lib = os.path.join(shim_dir, build.LIB_NAME)
    if native:
        built = build.install(os.path.join(shared, "native"), shim_dir)
    else:
        if os.path.exists(lib):
            os.unlink(lib)  # the runs' environment preloads it only if it is there
        built = build.Built(None, "turned off by PROCLAB_DISABLE_LAYERS (native)")
    return {"shim_dir": shim_dir, "bin_dir": bin_dir, "discovery": discovery_info(built)}


def discovery_info(native: Any) -> dict[str, Any]:
    """How new processes are found (for /healthz): the native shim's hello where it is preloaded, /proc
    scans for what it cannot reach (static programs, a cleared environment)."""
    modes = [DiscoveryMode.PRELOAD.value] if native.path else []
    return {"modes": [*modes, DiscoveryMode.SCAN.value], "active": modes[0] if modes else DiscoveryMode.SCAN.value,
            "native": native.path, "detail": native.detail}



def sweep_dead_instances(shared: str) -> None:
    """Remove the runtime dirs of launchers whose owner process is gone."""
    for name in os.listdir(shared):
        if not name.startswith("i-") or not name[2:].isdigit():
            continue
        if not os.path.exists(f"/proc/{name[2:]}"):
            cleanup.remove_tree_nofollow(os.path.join(shared, name))


def sweep(runtime: str, pool: list[int]) -> list[str]:
    """Kill and remove whatever an earlier crash left (processes, files, IPC of pool uids)."""
    removed: list[str] = []
    if os.geteuid() == 0:
        for uid in pool:
            if cleanup.list_uid_pids(uid):
                cleanup.kill_uid(uid, signal.SIGKILL)
                removed.append(f"processes of uid {uid}")
            removed += cleanup.sweep_uid_files(uid)
            removed += cleanup.remove_sysv_ipc(uid)
        from . import cgroup

        removed += [f"cgroup {n}" for n in cgroup.sweep_stale(only=[f"uid-{uid}" for uid in pool])]
    for sub in ("runs", "ctl"):
        d = os.path.join(runtime, sub)
        if os.path.isdir(d) and not os.path.islink(d):
            for name in os.listdir(d):
                cleanup.remove_tree_nofollow(os.path.join(d, name))
                removed.append(os.path.join(d, name))
    return removed


def _reap() -> list[int]:
    gone: list[int] = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return gone
        if pid == 0:
            return gone
        gone.append(pid)


def _probe(pool: list[int], disabled: set[str]) -> dict[str, Any]:
    from . import probe

    result = probe.probe_all(pool[0] if pool else 65534)
    for name in disabled:
        if name in result:
            result[name] = {"ok": False, "detail": "turned off by PROCLAB_DISABLE_LAYERS"}
    return result


def _in_namespaces(tmp_mb: int, body: Callable[[], None], drop: socket.socket,
                   uid: int | None = None, scratch: str = "") -> None:
    """Enter new pid/mount/net/ipc/uts namespaces and run body() as PID 1 of them.

    This process stays outside the new pid namespace (unshare affects children only): it
    closes `drop` (its copy of the socket body() uses), waits for PID 1 and exits. If the
    namespaces cannot be made, it returns and the caller runs body() without them (the run
    then says so in run.started).
    """
    from . import namespaces as ns

    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        ns.unshare(linux.CLONE_NEWPID | linux.CLONE_NEWNS | linux.CLONE_NEWNET | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS)
        ns.private_tmp("/tmp", size_bytes=max(1, tmp_mb) << 20)  # the files limit, enforced by tmpfs too
        ns.bring_up_loopback()
        try:
            socket.sethostname("proclab")
        except OSError:
            pass
        child = os.fork()
    except OSError as e:
        supervisor.NS_ERROR = f"namespaces: {e}"
        return
    if child == 0:
        try:
            ns.mount_proc("/proc")
        except OSError as e:
            supervisor.NS_ERROR = f"mounting /proc: {e}"
        _plain_init(uid, scratch)
        body()
        os._exit(0)
    drop.close()
    while True:
        try:
            os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    os._exit(0)


def _plain_init(uid: int | None, scratch: str) -> None:
    """What a run sees of its PID 1 and of its uid: `ps` shows PID 1 as `init` (not the launcher's
    command line and the server's checkout), and the uid is called `student` (namespaces.name_run_user)."""
    from . import namespaces as ns

    rootproc._set_cmdline(["init"])
    rootproc._set_comm(b"init")
    if uid is not None and scratch:
        try:
            ns.name_run_user(uid, uid, scratch)
        except (OSError, RuntimeError):
            pass  # the uid stays a number, as in the tiers without namespaces


@dataclass
class Spare:
    pid: int  # the launcher's child: the supervisor, or the process that waits for it outside the namespaces
    uid: int
    ctl: socket.socket
    key: tuple[bool, bool]  # (namespaces, cgroup): a run must want the same to use this spare


class Launcher:
    """The request loop, the runs it forked, and the warm spares it keeps."""

    def __init__(self, ctl: socket.socket, runtime: str, pool: list[int]) -> None:
        self.ctl = ctl
        self.runtime = runtime
        self.pool = pool
        self.sel = selectors.DefaultSelector()
        self.busy: dict[int, int | None] = {}  # child pid -> the uid its run uses
        self.spares: dict[int, Spare] = {}  # uid -> its spare
        self.warm: dict[str, Any] = {"spares": 0}
        # When each uid last became free. The web process hands out free uids first in, first out, so
        # spares go to the uids free the longest: the ones the next runs will get.
        self.freed: dict[int, float] = {uid: 0.0 for uid in pool}
        self.retiring: set[int] = set()
        self.quiet_until = 0.0  # no new spare before this (monotonic): a C run is compiling (COMPILE_QUIET_S)
        # A child's exit wakes the loop, so a uid gets its spare back as soon as its run is over.
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    # -------------------------------------------------------------- children

    def _in_child(self, keep: socket.socket | None = None) -> None:
        """Right after fork: drop every socket of the launcher except `keep`."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.sel.close()
        self.ctl.close()
        for sp in self.spares.values():
            if sp.ctl is not keep:
                sp.ctl.close()

    def _key(self, req: dict[str, Any]) -> tuple[bool, bool]:
        return bool(req.get("namespaces")), bool(req.get("cgroup"))

    def start_spare(self, uid: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cfg = {**self.warm, "runtime_dir": self.runtime}
        key = self._key(cfg)
        pid = os.fork()
        if pid == 0:
            try:
                self._in_child(keep=theirs)
                ours.close()
                if key[0]:
                    _in_namespaces(int(cfg.get("tmp_mb", 64)), lambda: spare.main(theirs, uid, cfg), theirs,
                                   uid, self.runtime)
                spare.main(theirs, uid, cfg)
            finally:
                os._exit(1)
        theirs.close()
        self.spares[uid] = Spare(pid, uid, ours, key)

    def retire_spares(self) -> None:
        for sp in self.spares.values():
            sp.ctl.close()  # the spare sees EOF, kills its placeholder and exits; _reap collects it
            self.busy[sp.pid] = sp.uid  # its uid is not free until it is gone
            self.retiring.add(sp.pid)
        self.spares.clear()

    def replenish(self) -> bool:
        """Start at most one spare; True when more are wanted (the loop then comes back soon)."""
        want = int(self.warm.get("spares", 0))
        if want <= len(self.spares):
            return False
        if time.monotonic() < self.quiet_until:
            return True  # the loop comes back soon and makes it then
        taken = set(self.busy.values()) | set(self.spares)
        order = {u: i for i, u in enumerate(self.pool)}
        free = sorted((u for u in self.pool if u not in taken), key=lambda u: (self.freed.get(u, 0.0), order[u]))
        if not free:
            return False
        self.start_spare(free[0])
        return want > len(self.spares) and len(free) > 1

    def reaped(self, pids: list[int]) -> None:
        for pid in pids:
            uid = self.busy.pop(pid, None)
            if uid is not None and pid not in self.retiring:
                self.freed[uid] = time.monotonic()
            self.retiring.discard(pid)
            for uid, sp in list(self.spares.items()):
                if sp.pid == pid:  # a spare died while waiting (killed from outside): forget it
                    sp.ctl.close()
                    del self.spares[uid]

    # -------------------------------------------------------------- runs

    def run(self, req: dict[str, Any], fd: int) -> dict[str, Any]:
        uid = req.get("uid")
        sp = self.spares.get(uid) if isinstance(uid, int) else None
        if sp is not None and sp.key == self._key(req):
            del self.spares[sp.uid]
            try:
                socket.send_fds(sp.ctl, [b"run"], [fd])
                ok = True
            except OSError:
                ok = False  # the spare is gone: start this run the cold way
            sp.ctl.close()
            self.busy[sp.pid] = sp.uid
            if ok:
                os.close(fd)
                return {"ok": True, "supervisor": sp.pid, "warm": True}
        pid = os.fork()
        if pid == 0:
            self._in_child()
            sock = socket.socket(fileno=fd)
            try:
                if req.get("namespaces"):
                    _in_namespaces(int(req.get("tmp_mb", 64)), lambda: supervisor.main(sock), sock,
                                   uid if isinstance(uid, int) else None, self.runtime)
                supervisor.main(sock)
            finally:
                os._exit(1)
        os.close(fd)
        self.busy[pid] = uid if isinstance(uid, int) else None
        return {"ok": True, "supervisor": pid, "warm": False}

    def shutdown(self) -> None:
        """The parent is gone: retire the spares (they remove their cgroups) and exit. Supervisors of
        runs in flight notice their sockets closing and end their runs themselves."""
        retiring = {sp.pid for sp in self.spares.values()}
        self.retire_spares()
        deadline = time.monotonic() + 2.0
        while retiring and time.monotonic() < deadline:
            retiring -= set(_reap())
            time.sleep(0.01)
        os._exit(0)

    def serve(self) -> None:
        self.sel.register(self.ctl, selectors.EVENT_READ, "ctl")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        more = False
        while True:
            ready = [key.data for key, _ in self.sel.select(0.02 if more else 0.5)]
            if "wake" in ready:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except OSError:
                    pass
            self.reaped(_reap())
            if "ctl" not in ready:
                more = self.replenish()
                continue
            try:
                data, fds, _flags, _ = socket.recv_fds(self.ctl, 1 << 20, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                self.shutdown()
            try:
                req = json.loads(data)
            except ValueError:
                req = {}
            handler = self._requests.get(str(req.get("op")))
            if handler is None:
                for fd in fds:
                    os.close(fd)
                reply = {"ok": False, "error": f"unknown request {req.get('op')!r}; expected one of "
                                               f"{', '.join(sorted(self._requests))}"}
            else:
                reply = handler(req, fds)
            self.ctl.send(json.dumps(reply).encode())
            more = self.replenish()

    # The web side's requests (client.Launcher), one handler each: (request, passed fds) -> reply.

    @property
    def _requests(self) -> dict[str, Callable[[dict[str, Any], list[int]], dict[str, Any]]]:
        return {"run": self._req_run, "warm": self._req_warm, "sweep": self._req_sweep, "ping": self._req_ping}

    def _req_run(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        if len(fds) != 1:  # the run's socket to the web side travels with the request
            for fd in fds:
                os.close(fd)
            return {"ok": False, "error": f"a run request carries one socket, got {len(fds)}"}
        reply = self.run(req, fds[0])
        if req.get("compiles"):
            self.quiet_until = time.monotonic() + COMPILE_QUIET_S
        return reply

    def _req_warm(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        self.retire_spares()
        self.warm = {k: req.get(k) for k in ("spares", "namespaces", "cgroup", "limits", "tmp_mb", "layers",
                                             "ro_paths", "nice")}
        self.warm["spares"] = max(0, min(int(req.get("spares") or 0), len(self.pool)))
        return {"ok": True, "spares": self.warm["spares"]}

    def _req_sweep(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        self.retire_spares()
        return {"ok": True, "removed": sweep(self.runtime, self.pool)}

    def _req_ping(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        return {"ok": True, "spares": sorted(self.spares), "busy": len(self.busy)}


def main(ctl_fd: int) -> None:
    # Where no pid namespace hides it, a run's `ps aux` sees this process: a short name, not the boot code
    # with the package's path (the area keeps its length for the supervisors' and roots' own names).
    rootproc._set_cmdline(["proclab-launcher"], trim=False)
    rootproc._set_comm(b"proclab")
    ctl = socket.socket(fileno=ctl_fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the server's terminal is for the server
    first = json.loads(ctl.recv(1 << 20))
    runtime: str = first["runtime_dir"]
    pool: list[int] = list(first.get("uid_pool", []))
    disabled = set(first.get("disable", []))
    started = time.monotonic()
    paths = prepare_runtime(runtime, pool, native="native" not in disabled)
    try:
        layers = _probe(pool, disabled)
    except Exception as e:  # a broken probe must not take the server down: report it
        layers = {"probe": {"ok": False, "detail": f"{type(e).__name__}: {e}"}}
    ctl.send(json.dumps({"ok": True, "pid": os.getpid(), "python": sys.executable,
                         "version": sys.version.split()[0], "layers": layers, **paths,
                         "startup_ms": int((time.monotonic() - started) * 1000)}).encode())
    Launcher(ctl, runtime, pool).serve()


if __name__ == "__main__":
    main(int(sys.argv[1]))
