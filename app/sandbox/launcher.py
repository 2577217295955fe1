"""The launcher ("zygote"): a pre-imported interpreter that forks one supervisor per run.

Started by the web process (or the CLI) with a clean environment, before any
secret is read, as a fresh interpreter: its memory never held the server's
environment, tokens or sockets, so nothing of them can reach a run.

It talks with its parent over one SOCK_SEQPACKET socket: JSON requests, one
per datagram; a "run" request carries the run's own stream socket (SCM_RIGHTS),
which the forked supervisor keeps.
"""

from __future__ import annotations

import array

# Pre-import what scenarios use, so that a forked run starts in ~2 ms.
import atexit  # noqa: F401
import codecs  # noqa: F401
import collections  # noqa: F401
import ctypes  # noqa: F401
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
from typing import Any

from . import cleanup, runner, shim, supervisor  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))


def prepare_runtime(runtime: str, pool: list[int]) -> dict[str, str]:
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
    return {"shim_dir": shim_dir, "bin_dir": bin_dir}


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
    for sub in ("runs", "ctl"):
        d = os.path.join(runtime, sub)
        if os.path.isdir(d) and not os.path.islink(d):
            for name in os.listdir(d):
                cleanup.remove_tree_nofollow(os.path.join(d, name))
                removed.append(os.path.join(d, name))
    return removed


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _probe(pool: list[int], disabled: set[str]) -> dict[str, Any]:
    from . import probe

    result = probe.probe_all(pool[0] if pool else 65534)
    for name in disabled:
        if name in result:
            result[name] = {"ok": False, "detail": "turned off by PROCLAB_DISABLE_LAYERS"}
    return result


def _run_in_namespaces(sock: socket.socket, tmp_mb: int) -> None:
    """Enter new pid/mount/net/ipc/uts namespaces; the supervisor becomes PID 1 of the run.

    This process stays outside the new pid namespace (unshare affects children only), waits
    for the supervisor and exits. If the namespaces cannot be made, it returns and the caller
    runs the supervisor without them (the run then says so in run.started).
    """
    from . import namespaces as ns

    try:
        supervisor.prctl(supervisor.PR_SET_PDEATHSIG, signal.SIGKILL)
        ns.unshare(ns.CLONE_NEWPID | ns.CLONE_NEWNS | ns.CLONE_NEWNET | ns.CLONE_NEWIPC | ns.CLONE_NEWUTS)
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
        supervisor.main(sock)
    sock.close()
    while True:
        try:
            os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    os._exit(0)


def main(ctl_fd: int) -> None:
    ctl = socket.socket(fileno=ctl_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the server's terminal is for the server
    first = json.loads(ctl.recv(1 << 20))
    runtime: str = first["runtime_dir"]
    pool: list[int] = list(first.get("uid_pool", []))
    disabled = set(first.get("disable", []))
    started = time.monotonic()
    paths = prepare_runtime(runtime, pool)
    try:
        layers = _probe(pool, disabled)
    except Exception as e:  # a broken probe must not take the server down: report it
        layers = {"probe": {"ok": False, "detail": f"{type(e).__name__}: {e}"}}
    ctl.send(json.dumps({"ok": True, "pid": os.getpid(), "python": sys.executable,
                         "version": sys.version.split()[0], "layers": layers, **paths,
                         "startup_ms": int((time.monotonic() - started) * 1000)}).encode())
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ)
    while True:
        ready = sel.select(0.5)
        _reap()
        if not ready:
            continue
        fds = array.array("i")
        try:
            data, anc, _flags, _ = ctl.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
        except InterruptedError:
            continue
        except OSError:
            data, anc = b"", []
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:
            os._exit(0)  # the parent is gone; supervisors notice their sockets closing
        try:
            req = json.loads(data)
        except ValueError:
            req = {}
        op = req.get("op")
        if op == "run" and len(fds) == 1:
            pid = os.fork()
            if pid == 0:
                sel.close()
                ctl.close()
                sock = socket.socket(fileno=fds[0])
                if req.get("namespaces"):
                    _run_in_namespaces(sock, int(req.get("tmp_mb", 64)))
                supervisor.main(sock)
            os.close(fds[0])
            ctl.send(json.dumps({"ok": True, "supervisor": pid}).encode())
        elif op == "sweep":
            ctl.send(json.dumps({"ok": True, "removed": sweep(runtime, pool)}).encode())
        elif op == "ping":
            ctl.send(json.dumps({"ok": True}).encode())
        else:
            for fd in fds:
                os.close(fd)
            ctl.send(json.dumps({"ok": False, "error": f"unknown request {op!r}"}).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
