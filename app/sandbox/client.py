"""The web process's (and the CLI's) handle on the launcher.

Starts the launcher as a fresh interpreter with a clean environment, asks it
for runs, and hands back each run's own stream socket.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BOOT = "import sys; sys.path.insert(0, sys.argv[2]); from app.sandbox.launcher import main; main(int(sys.argv[1]))"
_PROBE = "import multiprocessing, ctypes, json, socket, select, threading, subprocess, sqlite3; print('ok')"


class LauncherError(RuntimeError):
    pass


def _usable_by(python: str, uid: int | None) -> bool:
    """Can this interpreter run as uid (or as we are) and import the stdlib the lessons use?"""
    kwargs: dict[str, Any] = {}
    if uid is not None:
        kwargs = {"user": uid, "group": uid, "extra_groups": []}
    try:
        r = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, timeout=20, cwd="/",
                           env={"PATH": "/usr/bin:/bin"}, **kwargs)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and r.stdout.strip() == b"ok"


def find_run_python(configured: str, probe_uid: int | None) -> str:
    """The first interpreter a run's uid can use: runs exec Python too (subprocess, spawn)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [configured] if configured else []
    candidates += [
        os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        os.path.realpath(sys.executable),
        f"/usr/local/bin/python{version}",
        f"/usr/bin/python{version}",
        "/usr/local/bin/python3",
        "/usr/bin/python3",
    ]
    seen: set[str] = set()
    for c in candidates:
        if not c or c in seen or not os.path.exists(c):
            continue
        seen.add(c)
        if _usable_by(c, probe_uid):
            return c
    who = f"uid {probe_uid}" if probe_uid is not None else "this user"
    raise LauncherError(
        f"no Python 3 interpreter usable by {who} was found (tried {', '.join(seen) or 'none'}); "
        "set PROCLAB_RUN_PYTHON to one that other users can execute (e.g. /usr/bin/python3)")


def claim_uids(lock_dir: str, base: int, count: int, span: int = 1000) -> tuple[list[int], list[int]]:
    """Claim `count` uids from [base, base+span) with flock, so a server and CLI runs never share one.

    Returns (uids, lock fds); the locks are held for the life of this process.
    """
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    import fcntl

    uids: list[int] = []
    fds: list[int] = []
    for uid in range(base, base + span):
        if len(uids) == count:
            break
        fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        uids.append(uid)
        fds.append(fd)
    if len(uids) < count:
        raise LauncherError(f"only {len(uids)} of {count} run uids are free in {base}..{base + span - 1}")
    return uids, fds


@dataclass
class Launcher:
    runtime_dir: str
    uid_pool: list[int]
    run_python: str = ""
    disable: set[str] = field(default_factory=set)
    info: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    ctl: socket.socket | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @classmethod
    def create(cls, shared_dir: str, uid_base: int, concurrency: int, run_python: str = "",
               disable: set[str] | None = None) -> Launcher:
        """A launcher with uids of its own and a runtime dir of its own under shared_dir."""
        uids: list[int] = []
        if os.geteuid() == 0:
            uids, _fds = claim_uids(os.path.join(shared_dir, "uids"), uid_base, concurrency)
        return cls(runtime_dir=os.path.join(shared_dir, f"i-{os.getpid()}"), uid_pool=uids,
                   run_python=run_python, disable=disable or set())

    def start(self) -> dict[str, Any]:
        python = find_run_python(self.run_python, self.uid_pool[0] if self.as_root and self.uid_pool else None)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen(
            [python, "-I", "-c", BOOT, str(theirs.fileno()), str(ROOT)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, cwd="/", close_fds=True)
        theirs.close()
        self.ctl = ours
        ours.send(json.dumps({"runtime_dir": self.runtime_dir, "uid_pool": self.uid_pool if self.as_root else [],
                              "disable": sorted(self.disable)}).encode())
        ours.settimeout(60)
        try:
            data = ours.recv(1 << 20)
        except OSError as e:
            raise LauncherError(f"the launcher did not start: {e}") from e
        if not data:
            raise LauncherError("the launcher exited during start-up (see the log above)")
        self.info = json.loads(data)
        ours.settimeout(30)
        return self.info

    def request(self, msg: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        if self.ctl is None:
            raise LauncherError("the launcher is not running")
        with self.lock:
            try:
                if fds:
                    socket.send_fds(self.ctl, [json.dumps(msg).encode()], fds)
                else:
                    self.ctl.send(json.dumps(msg).encode())
                data = self.ctl.recv(1 << 20)
            except OSError as e:
                raise LauncherError(f"the launcher is not answering: {e}") from e
        if not data:
            raise LauncherError("the launcher has exited")
        return json.loads(data)

    def open_run(self, spec: dict[str, Any]) -> socket.socket:
        """Start a run; returns our end of its event stream (the spec already sent)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.request({"op": "run", "run_id": spec["run_id"],
                                  "namespaces": "namespaces" in spec.get("layers", []),
                                  "tmp_mb": spec.get("limits", {}).get("files_mb", 64)}, [theirs.fileno()])
        finally:
            theirs.close()
        if not reply.get("ok"):
            ours.close()
            raise LauncherError(reply.get("error", "the launcher refused the run"))
        spec = {**spec, "runtime_dir": self.runtime_dir, "shim_dir": self.info["shim_dir"],
                "bin_dir": self.info["bin_dir"]}
        ours.sendall(json.dumps(spec).encode() + b"\n")
        return ours

    def restart(self) -> dict[str, Any]:
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            self.proc.poll()
            self.proc = None
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
