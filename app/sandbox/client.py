"""The web process's (and the CLI's) handle on the launcher.

Starts the launcher as a fresh interpreter with a clean environment, asks it
for runs, and hands back each run's own stream socket.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import protocol
from .protocol import RunSpec

# The package this module belongs to (`app` in a checkout, `proclab` once installed), loaded by the launcher
# from its own folder under its own name: no sys.path entry, so nothing else beside it (site-packages) is seen.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_NAME = __name__.split(".")[0]
BOOT = ("import sys, importlib.util as u; fd, where, name = sys.argv[1:4]; "
        "s = u.spec_from_file_location(name, where + '/__init__.py', submodule_search_locations=[where]); "
        "sys.modules[name] = m = u.module_from_spec(s); s.loader.exec_module(m); "
        "__import__(name + '.sandbox.launcher', fromlist=['main']).main(int(fd))")
_PROBE = "import multiprocessing, ctypes, json, socket, select, threading, subprocess, sqlite3; print('ok')"


def _send(sock: socket.socket, cmd: dict[str, Any]) -> None:
    try:
        sock.sendall(json.dumps(cmd).encode() + b"\n")
    except OSError:
        pass  # the run is over


def _forward_stdin(sock: socket.socket, fd: int) -> None:
    """The CLI's own stdin (a terminal, a pipe, /dev/null) becomes the run's: each chunk as it is typed
    or piped, then end-of-file, so input() gets EOFError at once."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while True:
        try:
            data = os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        text = decoder.decode(data, final=not data)
        if text:
            _send(sock, protocol.send_input(text))
        if not data:
            _send(sock, protocol.eof())
            return


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
class StartingRun:
    """A run request on its way to the launcher (see Launcher.start_run)."""

    sock: socket.socket
    rest: bytes  # what of the spec did not fit the socket's buffer yet
    reply: asyncio.Future[bytes]


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
    _waiting: deque[asyncio.Future[bytes]] = field(default_factory=deque)
    _reader: asyncio.Task[None] | None = None

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
            [python, "-I", "-c", BOOT, str(theirs.fileno()), str(PACKAGE_DIR), PACKAGE_NAME],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, cwd="/", close_fds=True)
        theirs.close()
        self.ctl = ours
        self._waiting = deque()
        self._reader = None
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
                self.ctl.settimeout(30)  # the async path may have left it non-blocking
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

    @staticmethod
    def _run_request(spec: RunSpec) -> dict[str, Any]:
        return {"op": "run", "run_id": spec.run_id, "uid": spec.uid, "namespaces": "namespaces" in spec.layers,
                "cgroup": "cgroup" in spec.layers, "tmp_mb": spec.limits.files_mb,
                "compiles": spec.main.endswith(".c")}

    def spec_line(self, spec: RunSpec) -> bytes:
        """The first line the supervisor reads: the spec, with where this launcher keeps its files."""
        return replace(spec, runtime_dir=self.runtime_dir, shim_dir=self.info["shim_dir"],
                       bin_dir=self.info["bin_dir"]).to_json()

    def open_run(self, spec: RunSpec) -> socket.socket:
        """Start a run; returns our end of its event stream (the spec already sent). Blocking (CLI)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.request(self._run_request(spec), [theirs.fileno()])
        finally:
            theirs.close()
        if not reply.get("ok"):
            ours.close()
            raise LauncherError(reply.get("error", "the launcher refused the run"))
        ours.sendall(self.spec_line(spec))
        return ours

    def stream(self, spec: RunSpec, stdin_fd: int | None = None) -> Iterator[dict[str, Any]]:
        """Start a run and yield the supervisor's messages until its exit report (blocking: CLI, check).

        With stdin_fd, that fd feeds the run's stdin, as for `python3 FILE`; Ctrl+C is passed on to the
        run as SIGINT (a second one stops it)."""
        sock = self.open_run(spec)
        buf = b""
        interrupts = 0

        def interrupt(_signum: int = signal.SIGINT, _frame: object = None) -> None:
            nonlocal interrupts
            interrupts += 1
            _send(sock, protocol.interrupt() if interrupts == 1 else protocol.stop())

        # A handler, not `except KeyboardInterrupt` around recv: Ctrl+C may land while the caller is
        # still printing the last event, and must not end the command there.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, interrupt) if main_thread else None
        if stdin_fd is not None:
            threading.Thread(target=_forward_stdin, args=(sock, stdin_fd), daemon=True).start()
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except KeyboardInterrupt:
                    interrupt()
                    continue
                if not chunk:
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line:
                        ev = json.loads(line)
                        yield ev
                        if ev["type"] == "run.finished":
                            return
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
            sock.close()

    # ---------------------------------------------------------------- from an event loop (the web process)
    #
    # Requests are sent at once, without a lock or a worker thread: the launcher answers in order,
    # so one reader task hands each reply to the oldest waiting request. The web process must not
    # use the blocking request() once it has used these.

    def send_now(self, msg: dict[str, Any], fds: list[int] | None = None) -> asyncio.Future[bytes]:
        """Send a request now (one small datagram: it does not block); the future gets the reply."""
        ctl = self.ctl
        if ctl is None:
            raise LauncherError("the launcher is not running")
        loop = asyncio.get_running_loop()
        ctl.setblocking(False)
        try:
            socket.send_fds(ctl, [json.dumps(msg).encode()], fds or [])
        except OSError as e:
            raise LauncherError(f"the launcher is not answering: {e}") from e
        fut: asyncio.Future[bytes] = loop.create_future()
        self._waiting.append(fut)
        if self._reader is None or self._reader.done():
            self._reader = loop.create_task(self._read_replies(ctl, self._waiting))
        return fut

    async def _read_replies(self, ctl: socket.socket, waiting: deque[asyncio.Future[bytes]]) -> None:
        loop = asyncio.get_running_loop()
        while waiting:
            try:
                data = await asyncio.wait_for(loop.sock_recv(ctl, 1 << 20), 30)
            except (TimeoutError, OSError) as e:
                if self.ctl is ctl:
                    self.ctl = None  # a late reply would answer the wrong request: treat the launcher as dead
                    ctl.close()
                err = LauncherError("the launcher did not answer within 30 s" if isinstance(e, TimeoutError)
                                    else f"the launcher is not answering: {e}")
                while waiting:
                    fut = waiting.popleft()
                    if not fut.done():
                        fut.set_exception(err)
                return
            fut = waiting.popleft()
            if not fut.done():  # a cancelled caller's reply is read all the same
                fut.set_result(data)

    async def request_async(self, msg: dict[str, Any]) -> dict[str, Any]:
        data = await self.send_now(msg)
        if not data:
            raise LauncherError("the launcher has exited")
        reply: dict[str, Any] = json.loads(data)
        return reply

    def start_run(self, spec: RunSpec) -> StartingRun:
        """Ask for a run right now, with its spec already in the run's socket (a warm spare reads it
        the moment it gets the socket). Finish with `await finish_run(...)`."""
        line = self.spec_line(spec)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            ours.setblocking(False)
            rest = line[ours.send(line):]  # all of it unless the files are larger than the socket's buffer
            reply = self.send_now(self._run_request(spec), [theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the launcher has its own copy now
        return StartingRun(ours, rest, reply)

    async def finish_run(self, starting: StartingRun) -> tuple[socket.socket, dict[str, Any]]:
        """Wait for the launcher's reply; returns the run's stream socket and the reply."""
        ours = starting.sock
        try:
            data = await starting.reply
            if not data:
                raise LauncherError("the launcher has exited")
            reply: dict[str, Any] = json.loads(data)
            if not reply.get("ok"):
                raise LauncherError(reply.get("error", "the launcher refused the run"))
            if starting.rest:
                await asyncio.get_running_loop().sock_sendall(ours, starting.rest)
        except BaseException:
            ours.close()  # a supervisor that got this socket sees it close and ends the run
            raise
        return ours, reply

    def _warm_request(self, spares: int, spec: RunSpec) -> dict[str, Any]:
        req = self._run_request(spec)
        return {"op": "warm", "spares": spares, "namespaces": req["namespaces"], "cgroup": req["cgroup"],
                "tmp_mb": req["tmp_mb"], "limits": spec.limits.to_dict(), "layers": spec.layers,
                "ro_paths": spec.ro_paths, "nice": spec.nice}

    async def keep_warm_async(self, spares: int, spec: RunSpec) -> dict[str, Any]:
        """Ask the launcher to keep `spares` supervisors ready for runs like `spec` (see spare.py)."""
        return await self.request_async(self._warm_request(spares, spec))

    def restart(self) -> dict[str, Any]:
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            if self.proc.poll() is None:  # alive but not answering: it must not keep runs' uids busy
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.ctl is not None and self.proc.poll() is None

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
