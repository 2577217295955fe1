"""The shim: imported into every scenario process to report what the lessons teach.

It runs inside student code, so it must never change behaviour beyond what a
terminal would do, never raise into the student's program, and stay cheap.
It is stdlib only and copied into the run's runtime directory as
``proclab_shim.py``; ``sitecustomize.py`` there activates it in any Python
started inside a run (exec, subprocess, multiprocessing spawn).

What it does:
- gives each process its own stdout/stderr pipes (passed to the supervisor
  with SCM_RIGHTS), so output stays attributed to the pid that wrote it, even
  after exec; stdout is line-buffered, as on a terminal;
- reports fork, exec, wait, kill, signal handlers, pipes, reads and writes on
  pipes/FIFOs, dup2, mkfifo, multiprocessing and threading objects, sockets,
  each with the source line that made the call;
- honours pacing: in step or slow mode each traced call waits for the supervisor.

The supervisor trusts nothing in these messages but their content: the pid
comes from SO_PEERCRED.
"""

from __future__ import annotations

import _socket
import array
import json
import os
import signal
import socket
import stat
import sys
import threading
import time
import types

_ENV_SOCK = "PROCLAB_SHIM"
# The shim's own plumbing uses the unpatched calls, so it never reports itself.
_raw_pipe = os.pipe
_raw_dup2 = os.dup2
_raw_send = _socket.socket.send
_raw_recv = _socket.socket.recv
_PREVIEW = 48

_sock: socket.socket | None = None
_sock_pid = -1
_lock = threading.RLock()
_run_dir = ""
_mode = "normal"  # normal | step | slow (paused is done by the supervisor with the freezer/SIGSTOP)
_out_inodes: set[int] = set()
_fd_kinds: dict[int, tuple[str, int]] = {}  # fd -> (kind, inode) cache, cleared when an fd changes
_orig: dict[str, object] = {}
_active = False
_hooked = False  # install_hooks() has run
_in_shim = threading.local()


def _now() -> int:
    return time.monotonic_ns()


_SHIM_FILE = __file__


def _where(strict: bool = False) -> dict[str, object] | None:
    """The source line in the scenario that made the traced call.

    strict: only when the scenario's code called it directly (not a library on its
    behalf), so that e.g. multiprocessing's internal reads do not drown the lesson.
    """
    f: types.FrameType | None = sys._getframe(1)
    while f is not None and f.f_code.co_filename == _SHIM_FILE:
        f = f.f_back
    if f is None:
        return None
    if strict:
        fn = f.f_code.co_filename
        if _run_dir and fn.startswith(_run_dir):
            return {"file": os.path.relpath(fn, _run_dir), "line": f.f_lineno}
        return None
    while f is not None:
        fn = f.f_code.co_filename
        if _run_dir and fn.startswith(_run_dir):
            return {"file": os.path.relpath(fn, _run_dir), "line": f.f_lineno}
        f = f.f_back
    return None


class _quiet:
    """Suppress nested traced calls (a Queue.get reads a pipe and takes a lock inside)."""

    def __enter__(self) -> None:
        self.prev = getattr(_in_shim, "busy", False)
        _in_shim.busy = True

    def __exit__(self, *exc: object) -> None:
        _in_shim.busy = self.prev


def _connect() -> None:
    """(Re)connect this process to the supervisor: one connection per pid."""
    global _sock, _sock_pid
    path = os.environ.get(_ENV_SOCK)
    if not path:
        return
    old = _sock
    _sock = None
    if old is not None:
        try:
            os.close(old.detach())  # the parent's connection: close our copy only, never shut it down
        except OSError:
            pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return
    _sock = _move_high(s)
    _sock_pid = os.getpid()


def _move_high(s: socket.socket) -> socket.socket:
    """Move the shim's socket to the highest free fd below RLIMIT_NOFILE, so the program's own
    fds are numbered as on a plain Linux: the first os.pipe() is (3, 4), the first socket 3."""
    import fcntl
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    top = min(soft if soft != resource.RLIM_INFINITY else 1024, 1024) - 1
    for fd in range(top, max(top - 64, s.fileno()), -1):
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
            continue  # taken (by the program): never clobber one of its fds
        except OSError:
            pass
        os.dup2(s.fileno(), fd, inheritable=False)
        s.close()
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fd)
    return s


def _sock_ino() -> int | None:
    try:
        return os.fstat(_sock.fileno()).st_ino if _sock is not None else None
    except OSError:
        return None


def _send(msg: dict[str, object], fds: list[int] | None = None, sync: bool = False) -> None:
    """Send one message; with sync, wait for the supervisor's go (step/slow pacing)."""
    if _sock is None or _sock_pid != os.getpid():
        return
    msg.setdefault("t", _now())
    if sync:
        msg["sync"] = True
    data = json.dumps(msg, separators=(",", ":"), default=str).encode()
    with _lock:
        try:
            if fds:
                _sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                _raw_send(_sock, data)
            if sync:
                _wait_go()
        except OSError:
            pass


def _control(data: bytes) -> dict[str, object]:
    """A message from the supervisor ({"mode": …} and/or {"go": true}); applies a mode change."""
    global _mode
    try:
        m = json.loads(data)
    except ValueError:
        return {}
    if not isinstance(m, dict):
        return {}
    if m.get("mode"):
        _mode = m["mode"]
    return m


def _poll_mode() -> None:
    """Apply pacing changes the supervisor pushed since the last call."""
    if _sock is None:
        return
    while True:
        try:
            data = _raw_recv(_sock, 4096, socket.MSG_DONTWAIT)
        except OSError:  # BlockingIOError included: nothing pending
            return
        if not data:
            return
        _control(data)


def _wait_go() -> None:
    assert _sock is not None
    while True:
        data = _raw_recv(_sock, 4096)
        if not data:
            return
        if _control(data).get("go") or _mode == "normal":
            return


_OPS_PER_OBJECT = 500
_op_counts: dict[object, int] = {}


def _over_budget(msg: dict[str, object]) -> bool:
    """After _OPS_PER_OBJECT operations on one lock/queue/pipe, stop reporting it (once, saying so):
    40,000 lock operations would be 120,000 events and slow the lesson fifty-fold."""
    if msg.get("type") not in ("ipc.op", "ipc.op.begin", "ipc.transfer", "ipc.read.begin"):
        return False
    key = (msg.get("kind"), msg.get("obj") or msg.get("ino"))
    n = _op_counts.get(key, 0) + 1
    _op_counts[key] = n
    if n == _OPS_PER_OBJECT + 1:
        _send({"type": "ipc.op", "kind": msg.get("kind"), "obj": msg.get("obj"), "ino": msg.get("ino"),
               "op": "more", "value": f"after {_OPS_PER_OBJECT} operations, the rest are not shown"})
    return n > _OPS_PER_OBJECT


def _event(msg: dict[str, object], fds: list[int] | None = None, strict: bool = False) -> None:
    """Report a traced call; pacing applies here. strict: only calls the scenario made itself."""
    if getattr(_in_shim, "busy", False) or not _active:
        return
    if _over_budget(msg):
        return
    line = _where(strict)
    if strict and line is None:
        return
    if msg.get("type") in ("ipc.op.begin", "ipc.op"):
        msg["tid"] = threading.get_native_id()  # which thread waits: a process's threads wait apart
    _in_shim.busy = True
    try:
        _poll_mode()
        msg.setdefault("line", line)
        _send(msg, fds, sync=_mode in ("step", "slow"))
    finally:
        _in_shim.busy = False


# fd -> inode of the regular files the program opened with os.open() in its directory or /tmp (`file`
# channels, as for open()); checked against fstat, so a reused fd number is not taken for the file.
_file_fds: dict[int, int] = {}


def _fd_kind(fd: int) -> tuple[str, int] | None:
    """('pipe'|'fifo'|'socket'|'file', inode) for IPC fds, None for others (terminal pipes included)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    if st.st_ino in _out_inodes:
        return None
    if stat.S_ISREG(st.st_mode):
        return ("file", st.st_ino) if _file_fds.get(fd) == st.st_ino else None
    if stat.S_ISFIFO(st.st_mode):
        # Anonymous pipes live on pipefs (no name); FIFOs have a path on a real filesystem.
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            link = ""
        return ("pipe" if link.startswith("pipe:") else "fifo", st.st_ino)
    if stat.S_ISSOCK(st.st_mode):
        return ("socket", st.st_ino)
    return None


def _preview(data: bytes | bytearray | memoryview) -> str:
    b = bytes(data[:_PREVIEW])
    return b.decode("utf-8", "replace")


# ---------------------------------------------------------------- output pipes


def _own_output() -> None:
    """Give this process fresh stdout/stderr pipes and hand the read ends to the supervisor."""
    global _out_inodes
    fds: list[int] = []
    inodes: set[int] = set()
    for target in (1, 2):
        r, w = _raw_pipe()
        _raw_dup2(w, target)
        os.close(w)
        fds.append(r)
        inodes.add(os.fstat(target).st_ino)
    _out_inodes = inodes
    _fd_kinds.clear()
    _send({"type": "hello.output"}, fds)
    for r in fds:
        os.close(r)


def _line_buffered() -> None:
    # A terminal makes stdout line-buffered; a pipe would make it block-buffered and
    # duplicate a print() made before fork(). Students must see the terminal behaviour.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


# ---------------------------------------------------------------- process calls


def _after_fork_child() -> None:
    _connect()
    _send({"type": "hello", "how": "fork", "ppid": os.getppid(), "sock_ino": _sock_ino(),
           "line": _where()})
    _own_output()


def _wrap(module: object, name: str, make: object) -> None:
    orig = getattr(module, name, None)
    if orig is None:
        return
    _orig[f"{getattr(module, '__name__', module)}.{name}"] = orig
    setattr(module, name, make(orig))  # type: ignore[operator]


def _w_fork(orig):  # type: ignore[no-untyped-def]
    def fork() -> int:
        try:
            pid = orig()
        except OSError as e:
            _event({"type": "limit.hit", "what": "processes", "detail": f"fork() failed: {e.strerror}"})
            raise
        if pid:
            _event({"type": "proc.fork", "child": pid})
        return pid

    fork.__doc__ = orig.__doc__
    return fork


def _w_wait(orig, call: str):  # type: ignore[no-untyped-def]
    def waiter(*args, **kwargs):  # type: ignore[no-untyped-def]
        target = args[0] if call in ("waitpid", "wait4") and args else -1
        options = args[1] if call in ("waitpid", "wait4") and len(args) > 1 else (args[0] if call == "wait3" and args else 0)
        _event({"type": "proc.wait.begin", "call": call, "target": target, "options": options})
        result = orig(*args, **kwargs)
        pid, status = result[0], result[1]
        _event({"type": "proc.wait", "call": call, "target": target, "options": options, "result": pid,
                "status": status if pid else None})
        return result

    return waiter


def _w_waitid(orig):  # type: ignore[no-untyped-def]
    def waitid(idtype, ident, options):  # type: ignore[no-untyped-def]
        result = orig(idtype, ident, options)
        if result is not None:
            code = result.si_status if result.si_code == os.CLD_EXITED else None
            _event({"type": "proc.wait", "call": "waitid", "target": ident, "options": options,
                    "result": result.si_pid, "status": (code << 8) if code is not None else result.si_status,
                    "nowait": bool(options & getattr(os, "WNOWAIT", 0))})
        return result

    return waitid


def _w_exec(orig, name: str):  # type: ignore[no-untyped-def]
    def execer(path, *args):  # type: ignore[no-untyped-def]
        if name.endswith(("l", "lp", "le", "lpe")):
            argv = list(args[:-1] if name.endswith("e") else args)
        else:
            argv = list(args[0]) if args else []
        try:
            exe = os.readlink("/proc/self/exe")
        except OSError:
            exe = None
        _event({"type": "proc.exec", "argv": [os.fsdecode(a) for a in argv] or [os.fsdecode(path)],
                "path": os.fsdecode(path), "exe": exe})
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        try:
            with _quiet():  # os.execlp calls os.execvp, which calls os.execve: one exec, reported once
                return orig(path, *args)
        except OSError as e:
            import errno  # only here: a program that never fails an exec never loads it

            _event({"type": "proc.exec.failed", "errno": e.errno, "error": errno.errorcode.get(e.errno or 0, "")})
            raise

    return execer


def _w_execute_child(orig):  # type: ignore[no-untyped-def]
    """subprocess's child execs inside _posixsubprocess (C code, no Python frame to trace): when that exec
    fails, the parent learns the errno through a pipe and raises. Its child, already reaped by then, is
    told to have failed its exec, as an os.exec* in Python or an exec in C is."""
    def _execute_child(self, args, executable, *rest):  # type: ignore[no-untyped-def]
        try:
            return orig(self, args, executable, *rest)
        except OSError as e:
            cwd = rest[3] if len(rest) > 3 else None  # (preexec_fn, close_fds, pass_fds, cwd, ...)
            pid = getattr(self, "pid", None)
            # A failed chdir(cwd) comes back the same way, naming cwd: no exec was tried.
            if getattr(self, "_child_created", False) and pid and e.filename is not None and e.filename != cwd:
                import errno  # only here, as in _w_exec

                argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
                _event({"type": "proc.exec.failed", "child": pid, "argv": [os.fsdecode(a) for a in argv],
                        "path": os.fsdecode(executable or e.filename), "errno": e.errno,
                        "error": errno.errorcode.get(e.errno or 0, "")})
            raise

    return _execute_child


def _w_kill(orig, call: str):  # type: ignore[no-untyped-def]
    def kill(pid, sig):  # type: ignore[no-untyped-def]
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        to = -pid if call == "killpg" else pid
        if sig != 0:
            _event({"type": "signal.sent", "to": to, "signal": name})
        return orig(pid, sig)

    return kill


def _handler_name(handler: object) -> str:
    if handler is signal.SIG_IGN:
        return "SIG_IGN"
    if handler is signal.SIG_DFL:
        return "SIG_DFL"
    return getattr(handler, "__qualname__", None) or repr(handler)


def _w_signal(orig):  # type: ignore[no-untyped-def]
    def install(signum, handler):  # type: ignore[no-untyped-def]
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        wrapped = handler
        if callable(handler) and handler not in (signal.SIG_IGN, signal.SIG_DFL):
            def wrapped(s, frame, _h=handler, _name=name):  # type: ignore[no-untyped-def]
                _event({"type": "signal.handled", "signal": _name, "action": "handler"})
                return _h(s, frame)
            wrapped.__qualname__ = getattr(handler, "__qualname__", "handler")
            wrapped._proclab_original = handler  # type: ignore[attr-defined]
        previous = orig(signum, wrapped)
        _event({"type": "signal.handler", "signal": name, "handler": _handler_name(handler)})
        return getattr(previous, "_proclab_original", previous)

    return install


def _w_getsignal(orig):  # type: ignore[no-untyped-def]
    def getsignal(signum):  # type: ignore[no-untyped-def]
        h = orig(signum)
        return getattr(h, "_proclab_original", h)

    return getsignal


def _w_exit(orig):  # type: ignore[no-untyped-def]
    def _exit(code):  # type: ignore[no-untyped-def]
        _event({"type": "proc.exiting", "code": code})
        return orig(code)

    return _exit


def _rebind_defaults() -> None:
    """subprocess.Popen._internal_poll keeps os.waitpid in a default argument, bound when the module
    was imported (before the shim): give it the traced one, so poll() reaps are reported too."""
    import subprocess

    orig = _orig.get("os.waitpid")
    fn = getattr(subprocess.Popen, "_internal_poll", None)
    if orig is None or fn is None:
        return
    if fn.__kwdefaults__:
        fn.__kwdefaults__ = {k: (os.waitpid if v is orig else v) for k, v in fn.__kwdefaults__.items()}
    if fn.__defaults__:
        fn.__defaults__ = tuple(os.waitpid if v is orig else v for v in fn.__defaults__)


# ---------------------------------------------------------------- pipes and FIFOs


def _w_pipe(orig, name: str):  # type: ignore[no-untyped-def]
    def pipe(*args):  # type: ignore[no-untyped-def]
        r, w = orig(*args)
        try:
            ino = os.fstat(r).st_ino
        except OSError:
            return r, w
        if _active and not getattr(_in_shim, "busy", False) and _where(strict=True) is None:
            # A library's own pipe (a Process's sentinel, a Pool's SimpleQueue): not the lesson's, so
            # the /proc fd scan must not show it either. A Queue's or Pipe's is made quietly (their
            # channel stands for it) and is not hidden.
            _send({"type": "ipc.hide", "names": [f"pipe:[{ino}]"]})
            return r, w
        _event({"type": "ipc.channel", "kind": "pipe", "ino": ino, "fds": [r, w], "call": name}, strict=True)
        return r, w

    return pipe


def _w_read(orig):  # type: ignore[no-untyped-def]
    def read(fd, n):  # type: ignore[no-untyped-def]
        kind = _fd_kind(fd) if _active else None
        if kind is not None and kind[0] != "file":  # a regular file's read never waits for a writer
            _event({"type": "ipc.read.begin", "fd": fd, "kind": kind[0], "ino": kind[1], "want": n}, strict=True)
        data = orig(fd, n)
        if kind is not None:
            _event({"type": "ipc.transfer", "fd": fd, "kind": kind[0], "ino": kind[1], "direction": "read",
                    "bytes": len(data), "preview": _preview(data)}, strict=True)
        return data

    return read


def _w_write(orig):  # type: ignore[no-untyped-def]
    def write(fd, data):  # type: ignore[no-untyped-def]
        kind = _fd_kind(fd) if _active else None
        n = orig(fd, data)
        if kind is not None:
            _event({"type": "ipc.transfer", "fd": fd, "kind": kind[0], "ino": kind[1], "direction": "write",
                    "bytes": n, "preview": _preview(memoryview(data)[:n])}, strict=True)
        return n

    return write


def _w_dup2(orig):  # type: ignore[no-untyped-def]
    def dup2(fd, fd2, inheritable=True):  # type: ignore[no-untyped-def]
        kind = _fd_kind(fd)
        result = orig(fd, fd2, inheritable)
        _fd_kinds.pop(fd2, None)
        _event({"type": "ipc.op", "op": "dup2", "fd": fd, "fd2": fd2,
                "kind": kind[0] if kind else None, "ino": kind[1] if kind else None}, strict=True)
        return result

    return dup2


def _w_mkfifo(orig):  # type: ignore[no-untyped-def]
    def mkfifo(path, mode=0o666, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = orig(path, mode, *args, **kwargs)
        try:
            ino = os.stat(path).st_ino
        except OSError:
            ino = None
        _event({"type": "ipc.channel", "kind": "fifo", "ino": ino, "name": os.fsdecode(path), "call": "mkfifo"}, strict=True)
        return result

    return mkfifo


# ---------------------------------------------------------------- files


def _patch_open() -> None:
    """Files the program shares through the file system (the notes' file communication: one process writes a
    file, another reads it) are `file` channels with transfers. Only open() calls the scenario makes
    itself, on files in its directory or /tmp, other than .py files; everything else is untouched."""
    import builtins
    import io

    orig_open = builtins.open
    _orig["builtins.open"] = orig_open

    def report(raw: io.FileIO, direction: str, data: bytes | memoryview) -> None:
        ino = getattr(raw, "_proclab_ino", None)
        _event({"type": "ipc.transfer", "kind": "file", "ino": ino, "fd": raw.fileno(), "direction": direction,
                "bytes": len(data), "preview": _preview(data)}, strict=True)

    class TracedFileIO(io.FileIO):
        # Buffered readers and writers call these from C, so the caller's frame is the program's line.
        def readinto(self, b):  # type: ignore[no-untyped-def, override]
            n = super().readinto(b)
            if n:
                report(self, "read", memoryview(b)[:n])
            return n

        def readall(self) -> bytes:
            data = super().readall()
            if data:
                report(self, "read", data)
            return data

        def write(self, b):  # type: ignore[no-untyped-def, override]
            n = super().write(b)
            if n:
                report(self, "write", memoryview(b)[:n])
            return n

    # What type() and repr() say of an unbuffered binary file: the plain class's name.
    TracedFileIO.__name__ = TracedFileIO.__qualname__ = "FileIO"
    TracedFileIO.__module__ = "_io"

    def traced_path(file: object) -> str | None:
        if not _active or getattr(_in_shim, "busy", False) or not isinstance(file, str | bytes | os.PathLike):
            return None
        path = os.path.realpath(os.fsdecode(file))  # type: ignore[arg-type]
        if path.endswith((".py", ".pyc")) or not (path.startswith(_run_dir) or path.startswith("/tmp/")):
            return None
        return path if _where(strict=True) is not None else None

    def traced_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,  # type: ignore[no-untyped-def]
                    closefd=True, opener=None):
        kinds = set(mode)
        simple = (isinstance(mode, str) and kinds <= set("rwxabt+") and len(mode) == len(kinds)
                  and len(kinds & set("rwxa")) == 1 and not ({"b", "t"} <= kinds))
        if not simple or traced_path(file) is None:
            return orig_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        # io.open's own assembly (as in _pyio.open), with a raw file that reports what passes.
        rawmode = "".join(c for c in "xrwa+" if c in kinds)
        raw = TracedFileIO(file, rawmode, closefd, opener=opener)
        try:
            ino = os.fstat(raw.fileno()).st_ino
            raw._proclab_ino = ino  # type: ignore[attr-defined]
            _event({"type": "ipc.channel", "kind": "file", "ino": ino, "name": os.fsdecode(file)}, strict=True)
            line_buffering = buffering == 1 and "b" not in kinds
            if buffering in (1, -1):
                buffering = io.DEFAULT_BUFFER_SIZE
            if buffering == 0:
                if "b" not in kinds:
                    raise ValueError("can't have unbuffered text I/O")
                return raw
            if "+" in kinds:
                buffer: io.BufferedIOBase = io.BufferedRandom(raw, buffering)
            elif kinds & set("wxa"):
                buffer = io.BufferedWriter(raw, buffering)
            else:
                buffer = io.BufferedReader(raw, buffering)
            if "b" in kinds:
                return buffer
            text = io.TextIOWrapper(buffer, encoding, errors, newline, line_buffering)
            text.mode = mode  # type: ignore[misc]
            return text
        except BaseException:
            raw.close()
            raise

    traced_open.__doc__ = orig_open.__doc__
    builtins.open = traced_open  # type: ignore[assignment]
    io.open = traced_open  # type: ignore[assignment]

    def w_os_open(orig):  # type: ignore[no-untyped-def]
        def open(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
            fd = orig(path, flags, mode, dir_fd=dir_fd)
            if dir_fd is None and traced_path(path) is not None:
                try:
                    st = os.fstat(fd)
                except OSError:
                    return fd
                if stat.S_ISREG(st.st_mode):
                    _file_fds[fd] = st.st_ino  # os.read/os.write on it are then transfers (_fd_kind)
                    _event({"type": "ipc.channel", "kind": "file", "ino": st.st_ino, "name": os.fsdecode(path),
                            "fd": fd, "call": "os.open"}, strict=True)
            return fd

        return open

    _wrap(os, "open", w_os_open)


# ---------------------------------------------------------------- sockets


def _sock_channel(s: socket.socket, address: object = None) -> dict[str, object]:
    try:
        ino = os.fstat(s.fileno()).st_ino
    except OSError:
        ino = None
    ch: dict[str, object] = {"kind": "socket", "ino": ino, "fd": s.fileno()}
    if s.family == socket.AF_UNIX and isinstance(address, str | bytes) and address:
        ch["path"] = os.fsdecode(address)  # as the program named it ("./sock")
    return ch


def _patch_socket() -> None:
    cls = socket.socket

    def wrap_method(name: str, build):  # type: ignore[no-untyped-def]
        orig = getattr(cls, name)
        _orig[f"socket.{name}"] = orig
        setattr(cls, name, build(orig))

    def w_connect(orig):  # type: ignore[no-untyped-def]
        def connect(self, address):  # type: ignore[no-untyped-def]
            r = orig(self, address)
            _event({"type": "ipc.op", "op": "connect", "value": os.fsdecode(address)
                    if isinstance(address, str | bytes) else str(address), **_sock_channel(self, address)}, strict=True)
            return r
        return connect

    def w_bind(orig):  # type: ignore[no-untyped-def]
        def bind(self, address):  # type: ignore[no-untyped-def]
            r = orig(self, address)
            _event({"type": "ipc.op", "op": "bind", "value": os.fsdecode(address) if isinstance(address, str | bytes)
                    else str(address), **_sock_channel(self, address)}, strict=True)
            return r
        return bind

    def w_accept(orig):  # type: ignore[no-untyped-def]
        def accept(self):  # type: ignore[no-untyped-def]
            conn, addr = orig(self)
            _event({"type": "ipc.op", "op": "accept", "value": str(addr), **_sock_channel(conn)}, strict=True)
            return conn, addr
        return accept

    def w_send(orig, name: str):  # type: ignore[no-untyped-def]
        def send(self, data, *args):  # type: ignore[no-untyped-def]
            r = orig(self, data, *args)
            n = len(data) if r is None else r
            _event({"type": "ipc.transfer", "direction": "write", "bytes": n,
                    "preview": _preview(memoryview(data)[:n]), **_sock_channel(self)}, strict=True)
            return r
        return send

    def w_recv(orig, name: str):  # type: ignore[no-untyped-def]
        def recv(self, *args):  # type: ignore[no-untyped-def]
            r = orig(self, *args)
            data = r[0] if isinstance(r, tuple) else r
            if isinstance(data, bytes | bytearray):
                _event({"type": "ipc.transfer", "direction": "read", "bytes": len(data),
                        "preview": _preview(data), **_sock_channel(self)}, strict=True)
            return r
        return recv

    wrap_method("connect", w_connect)
    wrap_method("bind", w_bind)
    wrap_method("accept", w_accept)
    for name in ("send", "sendall", "sendto"):
        wrap_method(name, lambda o, n=name: w_send(o, n))
    for name in ("recv", "recvfrom"):
        wrap_method(name, lambda o, n=name: w_recv(o, n))


# ---------------------------------------------------------------- multiprocessing and threading


def _patch_threading() -> None:
    orig_start = threading.Thread.start
    _orig["threading.Thread.start"] = orig_start

    def start(self):  # type: ignore[no-untyped-def]
        try:
            orig_start(self)
        except RuntimeError as e:
            _event({"type": "limit.hit", "what": "processes", "detail": f"thread start failed: {e}"})
            raise
        _event({"type": "thread.start", "name": self.name, "tid": getattr(self, "native_id", None)})

    threading.Thread.start = start  # type: ignore[method-assign]


def _patch_threading_sync() -> None:
    """threading.Lock, RLock, Semaphore, BoundedSemaphore, Event and Condition as channels, with the
    operations of their multiprocessing twins (only calls the scenario makes itself are reported).
    Modules that bound the originals before the shim (queue, logging …) keep them: not the lesson's."""
    raw_lock, raw_rlock = threading.Lock, threading.RLock

    def begin(kind: str, oid: str, op: str) -> None:
        _event({"type": "ipc.op.begin", "kind": kind, "obj": oid, "op": op}, strict=True)

    def done(kind: str, oid: str, op: str, value: object = None) -> None:
        _event({"type": "ipc.op", "kind": kind, "obj": oid, "op": op, "value": value}, strict=True)

    class _Traced:
        """A threading.Lock or RLock that reports acquire and release (delegates everything else)."""

        def __init__(self, inner: object) -> None:
            self._inner = inner
            self._oid = f"thread-lock:{id(self)}"

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            begin("lock", self._oid, "acquire")
            with _quiet():
                r = self._inner.acquire(blocking, timeout)  # type: ignore[attr-defined]
            done("lock", self._oid, "acquire", r)
            return bool(r)

        def release(self) -> None:
            self._inner.release()  # type: ignore[attr-defined]
            done("lock", self._oid, "release")

        __enter__ = acquire

        def __exit__(self, *exc: object) -> None:
            self.release()

        def __getattr__(self, name: str) -> object:  # locked(), _is_owned(), _at_fork_reinit() …
            return getattr(self._inner, name)

        def __repr__(self) -> str:
            return repr(self._inner)

    def lock_factory(*a: object, **k: object) -> object:
        return _Traced(raw_lock(*a, **k)) if _where(strict=True) else raw_lock(*a, **k)

    def rlock_factory(*a: object, **k: object) -> object:
        return _Traced(raw_rlock(*a, **k)) if _where(strict=True) else raw_rlock(*a, **k)

    def sem_class(base: type) -> type:
        class Sem(base):  # type: ignore[misc, valid-type]
            def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
                oid = f"thread-semaphore:{id(self)}"
                begin("semaphore", oid, "acquire")
                with _quiet():
                    r = super().acquire(blocking, timeout)
                done("semaphore", oid, "acquire", r)
                return bool(r)

            __enter__ = acquire

            def release(self, n: int = 1) -> None:
                with _quiet():
                    super().release(n)
                done("semaphore", f"thread-semaphore:{id(self)}", "release")

            def __exit__(self, *exc: object) -> None:
                self.release()  # defined here, so the `with` line is the caller (threading's is not the lesson)

        Sem.__name__ = Sem.__qualname__ = base.__name__
        Sem.__module__ = "threading"
        return Sem

    class Event(threading.Event):
        def set(self) -> None:
            with _quiet():
                super().set()
            done("event", f"thread-event:{id(self)}", "set")

        def clear(self) -> None:
            with _quiet():
                super().clear()
            done("event", f"thread-event:{id(self)}", "clear")

        def wait(self, timeout: float | None = None) -> bool:
            oid = f"thread-event:{id(self)}"
            begin("event", oid, "wait")
            with _quiet():
                r = super().wait(timeout)
            done("event", oid, "wait", r)
            return r

    class Condition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            oid = f"thread-condition:{id(self)}"
            begin("condition", oid, "wait")
            with _quiet():
                r = super().wait(timeout)
            done("condition", oid, "wait", r)
            return r

        def notify(self, n: int = 1) -> None:
            with _quiet():
                super().notify(n)
            done("condition", f"thread-condition:{id(self)}", "notify", n)

        def notify_all(self) -> None:
            with _quiet():
                super().notify_all()
            done("condition", f"thread-condition:{id(self)}", "notify_all")

    Event.__module__ = Condition.__module__ = "threading"
    threading.Lock = lock_factory  # type: ignore[assignment, misc]
    threading.RLock = rlock_factory  # type: ignore[assignment]
    threading.Semaphore = sem_class(threading.Semaphore)  # type: ignore[misc, assignment]
    threading.BoundedSemaphore = sem_class(threading.BoundedSemaphore)  # type: ignore[misc, assignment]
    threading.Event = Event  # type: ignore[misc]
    threading.Condition = Condition  # type: ignore[misc]


def _patch_multiprocessing() -> None:
    """Trace the multiprocessing objects the lessons use (only calls made by the scenario itself)."""
    try:
        import multiprocessing.connection as mc
        import multiprocessing.queues as mq
        import multiprocessing.sharedctypes as msc
        import multiprocessing.synchronize as ms
    except ImportError:
        return

    def ino_of(fd_owner: object) -> int | None:
        try:
            return os.fstat(fd_owner.fileno()).st_ino  # type: ignore[attr-defined]
        except (OSError, AttributeError, ValueError):
            return None

    def queue_id(q: object) -> str:
        return f"queue:{ino_of(getattr(q, '_reader', None))}"

    q_init, q_put, q_get = mq.Queue.__init__, mq.Queue.put, mq.Queue.get

    def queue_init(self, *a, **k):  # type: ignore[no-untyped-def]
        with _quiet():
            q_init(self, *a, **k)
        _event({"type": "ipc.channel", "kind": "queue", "obj": queue_id(self)})  # any caller: a queue is always news

    def qput(self, obj, *a, **k):  # type: ignore[no-untyped-def]
        # put() blocks while a bounded queue is full: its futex wait is then "waiting on queue #n".
        _event({"type": "ipc.op.begin", "kind": "queue", "obj": queue_id(self), "op": "put"}, strict=True)
        with _quiet():
            r = q_put(self, obj, *a, **k)
        _event({"type": "ipc.op", "kind": "queue", "obj": queue_id(self), "op": "put",
                "value": repr(obj)[:_PREVIEW]}, strict=True)
        return r

    def qget(self, *a, **k):  # type: ignore[no-untyped-def]
        _event({"type": "ipc.op.begin", "kind": "queue", "obj": queue_id(self), "op": "get"}, strict=True)
        with _quiet():
            r = q_get(self, *a, **k)
        _event({"type": "ipc.op", "kind": "queue", "obj": queue_id(self), "op": "get",
                "value": repr(r)[:_PREVIEW]}, strict=True)
        return r

    mq.Queue.__init__, mq.Queue.put, mq.Queue.get = queue_init, qput, qget  # type: ignore[method-assign]

    c_send, c_recv = mc.Connection.send, mc.Connection.recv
    from multiprocessing.reduction import ForkingPickler

    def pickled_size(obj: object) -> int:
        try:
            return len(ForkingPickler.dumps(obj)) + 4  # what send() writes: a 4-byte length, then the pickle
        except Exception:
            return 0

    def send(self, obj):  # type: ignore[no-untyped-def]
        with _quiet():
            r = c_send(self, obj)
        _event({"type": "ipc.transfer", "kind": "mp_pipe", "ino": ino_of(self), "direction": "write",
                "bytes": pickled_size(obj), "preview": repr(obj)[:_PREVIEW]}, strict=True)
        return r

    def recv(self):  # type: ignore[no-untyped-def]
        _event({"type": "ipc.read.begin", "kind": "mp_pipe", "ino": ino_of(self)}, strict=True)
        with _quiet():
            r = c_recv(self)
        _event({"type": "ipc.transfer", "kind": "mp_pipe", "ino": ino_of(self), "direction": "read",
                "bytes": pickled_size(r), "preview": repr(r)[:_PREVIEW]}, strict=True)
        return r

    mc.Connection.send, mc.Connection.recv = send, recv  # type: ignore[method-assign]

    orig_pipe = mc.Pipe

    def mp_pipe(duplex=True):  # type: ignore[no-untyped-def]
        # One channel for the student, though a duplex Pipe is two kernel sockets (a socketpair).
        with _quiet():
            a, b = orig_pipe(duplex)
        _event({"type": "ipc.channel", "kind": "mp_pipe", "inos": [ino_of(a), ino_of(b)], "duplex": duplex})
        return a, b

    mc.Pipe = mp_pipe
    import multiprocessing.context as _ctx

    _ctx.BaseContext.Pipe = lambda self, duplex=True: mp_pipe(duplex)  # type: ignore[method-assign]

    kinds = {"Semaphore": "semaphore", "BoundedSemaphore": "semaphore", "Lock": "lock", "RLock": "lock"}
    make_methods = ms.SemLock._make_methods  # type: ignore[attr-defined]  # private, absent from typeshed

    def _make_methods(self):  # type: ignore[no-untyped-def]
        # SemLock binds acquire/release per instance, so they are wrapped here, not on the class.
        make_methods(self)
        kind = kinds.get(type(self).__name__)
        if kind is None:
            return
        raw_acquire, raw_release = self.acquire, self.release
        oid = f"{kind}:{getattr(self._semlock, 'name', None) or self._semlock.handle}"

        def acquire(*a, **k):  # type: ignore[no-untyped-def]
            _event({"type": "ipc.op.begin", "kind": kind, "obj": oid, "op": "acquire"}, strict=True)
            r = raw_acquire(*a, **k)
            _event({"type": "ipc.op", "kind": kind, "obj": oid, "op": "acquire", "value": r}, strict=True)
            return r

        def release():  # type: ignore[no-untyped-def]
            r = raw_release()
            _event({"type": "ipc.op", "kind": kind, "obj": oid, "op": "release"}, strict=True)
            return r

        self.acquire, self.release = acquire, release

    ms.SemLock._make_methods = _make_methods  # type: ignore[attr-defined]
    ms.SemLock.__enter__ = lambda self: self.acquire()  # type: ignore[method-assign]
    ms.SemLock.__exit__ = lambda self, *a: self.release()  # type: ignore[method-assign]

    ev_set, ev_wait = ms.Event.set, ms.Event.wait

    def event_id(e: object) -> str:
        flag = getattr(e, "_flag", None)
        sem = getattr(flag, "_semlock", None)
        return f"event:{getattr(sem, 'name', None) or getattr(sem, 'handle', id(e))}"

    def e_set(self):  # type: ignore[no-untyped-def]
        with _quiet():
            r = ev_set(self)
        _event({"type": "ipc.op", "kind": "event", "obj": event_id(self), "op": "set"}, strict=True)
        return r

    def e_wait(self, timeout=None):  # type: ignore[no-untyped-def]
        _event({"type": "ipc.op.begin", "kind": "event", "obj": event_id(self), "op": "wait"}, strict=True)
        with _quiet():
            r = ev_wait(self, timeout)
        _event({"type": "ipc.op", "kind": "event", "obj": event_id(self), "op": "wait", "value": r}, strict=True)
        return r

    ms.Event.set, ms.Event.wait = e_set, e_wait  # type: ignore[method-assign]

    import ctypes

    for fname, kind in (("Value", "value"), ("Array", "array")):
        orig = getattr(msc, fname)

        def make(*a, _orig=orig, _kind=kind, **k):  # type: ignore[no-untyped-def]
            with _quiet():
                obj = _orig(*a, **k)
            try:
                addr = ctypes.addressof(obj.get_obj() if hasattr(obj, "get_obj") else obj)
            except TypeError:
                addr = id(obj)
            _event({"type": "ipc.channel", "kind": _kind, "obj": f"{_kind}:{addr}",
                    "value": repr(a[1])[:_PREVIEW] if len(a) > 1 else None}, strict=True)
            return obj

        setattr(msc, fname, make)
        # multiprocessing.Value is bound through the context: patch the context methods too.
    import multiprocessing.context as mctx

    def ctx_value(self, typecode_or_type, *args, lock=True):  # type: ignore[no-untyped-def]
        return msc.Value(typecode_or_type, *args, lock=lock, ctx=self.get_context())

    def ctx_array(self, typecode_or_type, size_or_initializer, *, lock=True):  # type: ignore[no-untyped-def]
        return msc.Array(typecode_or_type, size_or_initializer, lock=lock, ctx=self.get_context())

    mctx.BaseContext.Value, mctx.BaseContext.Array = ctx_value, ctx_array  # type: ignore[method-assign]
    # `from multiprocessing import Value, Array, Pipe` (the notes' form) binds the default context's
    # methods when multiprocessing is imported, before the shim: bind the patched ones again.
    import multiprocessing

    for name in ("Value", "Array", "Pipe"):
        setattr(multiprocessing, name, getattr(mctx._default_context, name))


# ---------------------------------------------------------------- tracebacks

_OWN_DIR = os.path.dirname(os.path.abspath(_SHIM_FILE)) + os.sep


def _own_frame(f: object) -> bool:
    """A frame of ProcLab's (this shim, sitecustomize, the runner), never of the program."""
    fn = f.f_code.co_filename  # type: ignore[attr-defined]
    return fn.startswith(_OWN_DIR) or fn == "<frozen runpy>"


def _hide_own_frames() -> None:
    """Tracebacks and stacks show only the program's frames, as under a plain `python3 main.py`:
    a wrapped os.wait() or os.read() must not add a frame of the shim's (3.11's traceback walkers)."""
    import traceback

    def filtered(walk):  # type: ignore[no-untyped-def]
        def walker(*args, **kwargs):  # type: ignore[no-untyped-def]
            for item in walk(*args, **kwargs):
                if not _own_frame(item[0]):
                    yield item
        return walker

    for name in ("walk_tb", "walk_stack", "_walk_tb_with_full_positions"):
        if hasattr(traceback, name):
            _orig[f"traceback.{name}"] = getattr(traceback, name)
            setattr(traceback, name, filtered(getattr(traceback, name)))

    def excepthook(tp, value, tb):  # type: ignore[no-untyped-def]
        # The interpreter's own printer is C code that would show every frame.
        try:
            sys.stderr.write("".join(traceback.format_exception(tp, value, tb)))
            sys.stderr.flush()
        except Exception:
            sys.__excepthook__(tp, value, tb)

    def thread_excepthook(args):  # type: ignore[no-untyped-def]
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else threading.get_ident()
        try:
            sys.stderr.write(f"Exception in thread {name}:\n")
            sys.stderr.write("".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                                args.exc_traceback)))
            sys.stderr.flush()
        except Exception:
            pass

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


# ---------------------------------------------------------------- activation


def install_hooks() -> None:
    """Wrap the calls the shim reports. Nothing is reported before activate(): a warm root
    installs these before its run is known (they cost ~0.4 ms) and activates them later."""
    global _hooked
    if _hooked:
        return
    os.register_at_fork(after_in_child=_after_fork_child)
    _wrap(os, "fork", _w_fork)
    for name in ("wait", "waitpid", "wait3", "wait4"):
        _wrap(os, name, lambda o, n=name: _w_wait(o, n))
    _wrap(os, "waitid", _w_waitid)
    _rebind_defaults()
    import subprocess  # already imported by _rebind_defaults

    _wrap(subprocess.Popen, "_execute_child", _w_execute_child)
    for name in ("execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe"):
        _wrap(os, name, lambda o, n=name: _w_exec(o, n))
    _wrap(os, "kill", lambda o: _w_kill(o, "kill"))
    _wrap(os, "killpg", lambda o: _w_kill(o, "killpg"))
    _wrap(signal, "signal", _w_signal)
    _wrap(signal, "getsignal", _w_getsignal)
    _wrap(os, "_exit", _w_exit)
    _wrap(os, "pipe", lambda o: _w_pipe(o, "pipe"))
    _wrap(os, "pipe2", lambda o: _w_pipe(o, "pipe2"))
    _wrap(os, "read", _w_read)
    _wrap(os, "write", _w_write)
    _wrap(os, "dup2", _w_dup2)
    _wrap(os, "mkfifo", _w_mkfifo)
    _patch_socket()
    _patch_open()
    _patch_threading()
    _patch_threading_sync()
    _patch_multiprocessing()
    _hide_own_frames()
    _hooked = True


def activate(run_dir: str, how: str = "python") -> None:
    """Connect to the supervisor and start reporting. Idempotent; never raises into the caller."""
    global _active, _run_dir, _mode
    if _active:
        return
    if os.environ.get("PROCLAB_PACE") in ("step", "slow"):
        _mode = os.environ["PROCLAB_PACE"]  # paced from the first call; the supervisor corrects it later
    _run_dir = os.path.realpath(run_dir or os.getcwd()) + os.sep
    try:
        _connect()
        _send({"type": "hello", "how": how, "ppid": os.getppid(), "argv": list(sys.argv),
               "executable": sys.executable, "sock_ino": _sock_ino()})
        _own_output()
        _line_buffered()
        install_hooks()
        _active = True
    except Exception as e:  # never break the student's program because of the shim
        try:
            sys.__stderr__.write(f"[proclab shim disabled: {e!r}]\n")  # type: ignore[union-attr]
        except Exception:
            pass


def report_exception(exc: BaseException) -> None:
    """Tell the supervisor about a MemoryError, so the run can say which limit caused it."""
    if isinstance(exc, MemoryError):
        _event({"type": "limit.hit", "what": "memory", "detail": "an allocation was refused (MemoryError)"})
