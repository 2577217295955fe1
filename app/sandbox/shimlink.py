"""The supervisor's side of the shim: connections (pid from SO_PEERCRED), messages, pacing.

Nothing in a message is trusted but its content: types are whitelisted, strings cut, numbers
checked; the pid is the kernel's. Channels are keyed by kernel names where there is one, so
the shim's reports and the /proc fd scan meet on the same channel.
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import signal
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from . import procfs, protocol
from .native.lines import LineResolver
from .output import OutputPipes
from .protocol import PaceMode
from .tracker import Tracker

# Shim message types that pass straight through as events (after checks).
_PASS_THROUGH = {"signal.sent", "signal.handler", "signal.handled", "proc.wait", "ipc.op", "ipc.transfer",
                 "ipc.channel"}
ACCEPT, SHIM = "accept", "shim"  # the selector's tags of the listener and of a connection
_WAITABLE = ("semaphore", "lock", "event", "condition", "queue")  # ops a futex wait can be about
_PIPE_NAME = re.compile(r"pipe:\[\d+\]")


def _str(msg: dict[str, Any], key: str, n: int = 200) -> str:
    return str(msg.get(key, ""))[:n]


def _int(msg: dict[str, Any], key: str) -> int | None:
    v = msg.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


class ShimLink:
    """The run's shim connections and what they said that is not yet an event: execs waiting for the
    kernel to show them, forks in progress, the programs native shims run in; and the pace the shims
    are told (traced calls that wait for their go in step and slow modes)."""

    def __init__(self, sel: selectors.BaseSelector, tracker: Tracker, output: OutputPipes,
                 lines: LineResolver, uid: int | None, run_dir: str, emit: Callable[..., None],
                 limit_hit: Callable[[str, str], None]) -> None:
        self.sel = sel
        self.listener: socket.socket | None = None  # the run's shim socket, once prepared (listen())
        self.tracker = tracker
        self.output = output
        self.lines = lines
        self.uid = uid
        self.run_dir = run_dir
        self.emit = emit
        self.limit_hit = limit_hit  # a shim saw a fork or an allocation fail at a limit
        self.root_pid = -1  # set once the root is forked
        self.conns: dict[int, tuple[socket.socket, int]] = {}  # fd -> (conn, pid from SO_PEERCRED)
        self.mode = PaceMode.NORMAL
        self.delay_ms = 300
        self.pending_go: list[tuple[socket.socket, float]] = []  # traced calls waiting: (conn, when due)
        self.pending_exec: dict[int, dict[str, Any]] = {}
        self.native_exe: dict[int, str] = {}  # pid -> its program, as the native shim said (for source lines)
        self.native_execd: set[int] = set()  # the native shim reported this image's exec: the Python hello must not
        self.exec_confirmed: set[int] = set()  # an exec emitted from /proc before the new image's native hello came
        self.fork_begin: dict[int, tuple[str, Any]] = {}  # parent pid -> (fork | vfork, line) of its call in progress
        # pid -> when its latest image said hello (the sender's CLOCK_MONOTONIC). The exec a program reports goes
        # on its own connection, the new image's hello on a new one, and the selector may read the new one first:
        # an exec report sent before a hello already read is the old image's, and that hello has reported it.
        self.image_t: dict[int, int] = {}
        self._handlers: dict[str, Callable[[int, dict[str, Any], int | None, Any], None]] = {
            "proc.fork": self._fork, "proc.fork.begin": self._fork_begin, "proc.exec": self._exec,
            "proc.exec.failed": self._exec_failed, "proc.wait": self._wait, "limit.hit": self._limit_hit,
            "ipc.hide": self._hide, "thread.start": self._nothing, "ipc.op.begin": self._op_begin,
            "proc.wait.begin": self._wait_begin, "ipc.read.begin": self._line_only, "proc.exiting": self._exiting,
            **{kind: self._pass_through for kind in _PASS_THROUGH if kind != "proc.wait"},
        }
        self._outgoing: dict[str, Callable[[int, dict[str, Any], int | None, Any], None]] = {
            "signal.sent": self._out_signal_sent, "signal.handler": self._out_signal_handler,
            "signal.handled": self._out_signal_handled, "proc.wait": self._out_wait,
            "ipc.channel": self._out_channel, "ipc.transfer": self._out_transfer, "ipc.op": self._out_op,
        }

    def fork_in_progress(self, ppid: int) -> bool:
        """A child of a traced fork/vfork still in progress says hello itself (at its fork or exec)."""
        return ppid in self.fork_begin

    def listen(self, listener: socket.socket) -> None:
        self.listener = listener
        self.sel.register(listener, selectors.EVENT_READ, ACCEPT)

    def close(self) -> None:
        for conn, _ in list(self.conns.values()):
            conn.close()
        self.conns.clear()
        if self.listener is not None:
            self.listener.close()

    def drain_shim(self) -> None:
        """Read every message still queued: a late hello.output carries the pipes of the last output."""
        self.accept()
        for fd in list(self.conns):
            if fd in self.conns:
                self.read_shim(fd)

    def accept(self) -> None:
        if self.listener is None:
            return
        for _ in range(64):
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, _gid = struct.unpack("3i", creds)
            if self.uid is not None and uid != self.uid:
                conn.close()
                continue
            conn.setblocking(False)
            self.conns[conn.fileno()] = (conn, pid)
            self.sel.register(conn, selectors.EVENT_READ, SHIM)
            if self.mode is not PaceMode.NORMAL:
                self._send_mode(conn)

    def read_shim(self, fd: int) -> None:
        conn, pid = self.conns[fd]
        for _ in range(256):
            try:
                data, ancdata, _flags, _ = conn.recvmsg(65536, socket.CMSG_SPACE(8 * 4))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancdata = b"", []
            fds: list[int] = []
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.extend(struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) - len(payload) % 4]))
            if not data:
                for f in fds:
                    os.close(f)
                self.sel.unregister(conn)
                del self.conns[fd]
                conn.close()
                return
            try:
                msg = json.loads(data)
                if not isinstance(msg, dict):
                    raise ValueError
            except ValueError:
                for f in fds:
                    os.close(f)
                continue
            self.on_shim(conn, pid, msg, fds)

    def on_shim(self, conn: socket.socket, pid: int, msg: dict[str, Any], fds: list[int]) -> None:
        kind = msg.get("type")
        t = msg.get("t") if isinstance(msg.get("t"), int) else None
        line = msg.get("line") if isinstance(msg.get("line"), dict) else None
        if line is None and isinstance(msg.get("pc"), int):
            exe = self.native_exe.get(pid)
            if exe is None and kind == "hello" and isinstance(msg.get("ppid"), int):
                exe = self.native_exe.get(msg["ppid"])  # a fork child runs its parent's program
            line = msg["line"] = self.lines.line(exe, msg["pc"])  # a C call: its file:line
        if kind == "signal.handler" and isinstance(msg.get("hpc"), int):
            msg["handler"] = self.lines.function(self.native_exe.get(pid), msg["hpc"]) or msg.get("handler")
        if kind == "hello.output":
            self._hello_output(pid, msg, fds)
            return
        for f in fds:
            os.close(f)
        if kind in ("proc.exec", "proc.exec.failed") and t is not None and t < self.image_t.get(pid, t):
            return  # sent by the image before the one whose hello came first: that hello reported the exec
        if kind == "hello":
            if t is not None and msg.get("how") != "fork":
                self.image_t[pid] = max(t, self.image_t.get(pid, t))
            if msg.get("native") is True:
                self._native_hello(conn, pid, msg, line)  # answered there: the program waits for it
                return
            self._hello(pid, msg, line)
        else:
            if pid not in self.tracker.procs:
                # The sender is not known yet (its hello is still in flight): learn it now.
                self.tracker.add(pid, 0, "observed")
            handler = self._handlers.get(str(kind))
            if handler is not None:
                handler(pid, msg, t, line)
        self._release(conn, msg)

    def _hello_output(self, pid: int, msg: dict[str, Any], fds: list[int]) -> None:
        """A Python process's own output pipes (passed with SCM_RIGHTS), so its output is credited to it."""
        p = self.tracker.procs.get(pid)
        streams = [x for x in msg.get("streams") or ("stdout", "stderr") if x in ("stdout", "stderr")]
        for stream, f in zip(streams, fds, strict=False):
            self.output.add(f, pid, stream)
            if p is not None:
                p.hidden_inodes.add(f"pipe:[{os.fstat(f).st_ino}]")
        if p is not None:
            p.io_ready = True  # its fds can be shown now that its own plumbing is known
        for f in fds[len(streams):]:
            os.close(f)

    def _hello(self, pid: int, msg: dict[str, Any], line: Any) -> None:
        """A Python process's first word: how it started (a fork, a new interpreter, the root)."""
        p = self.tracker.procs.get(pid)
        how = msg.get("how") if msg.get("how") in ("fork", "python", "root") else "python"
        raw_ppid = msg.get("ppid")
        ppid = raw_ppid if isinstance(raw_ppid, int) else 0
        argv = [str(a) for a in msg.get("argv", [])][:32]
        if p is None:
            p = self.tracker.add(pid, ppid, str(how), line)
            if how == "python":
                # Started by exec from C (subprocess, multiprocessing spawn): the exec is part of its story.
                self.emit(protocol.proc_exec(pid, ["python", *argv], None))
        elif how == "python" and pid in self.native_execd:
            self.native_execd.discard(pid)  # its exec, with the true argv, came with the native hello
        elif how == "python" and pid != self.root_pid:
            # A known process became a new Python: exec'd from Python (pending) or from C.
            pend = self.pending_exec.pop(pid, None) or {}
            self.emit(protocol.proc_exec(pid, pend.get("argv") or ["python", *argv], pend.get("line")))
        if p is not None and isinstance(msg.get("sock_ino"), int):
            p.hidden_inodes.add(f"socket:[{msg['sock_ino']}]")
        if p is not None:
            p.hold = False

    # Shim messages that are not events themselves: each one's effect on what is known.

    def _fork(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        child = msg.get("child")
        self.fork_begin.pop(pid, None)
        if isinstance(child, int) and child > 0:
            self.tracker.add(child, pid, "fork", line)
            if pid in self.native_exe:
                self.native_exe.setdefault(child, self.native_exe[pid])

    def _fork_begin(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        self.fork_begin[pid] = ("vfork" if msg.get("call") == "vfork" else "fork", line)
        self._line_only(pid, msg, t, line)

    def _exec(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        argv = [str(a) for a in msg.get("argv", [])][:64]
        path = msg.get("path") if isinstance(msg.get("path"), str) else None
        self.pending_exec[pid] = {"argv": argv, "line": line, "exe": msg.get("exe") or self.native_exe.get(pid),
                                  "path": path[:1024] if path else None}

    def _exec_failed(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        """The exec* call returned: the pending exec never happened; the attempt is part of the story.
        With `child`: a Python parent tells of its subprocess child's exec, which failed in C code."""
        code = msg.get("errno") if isinstance(msg.get("errno"), int) else None
        error = str(msg.get("error") or "")[:32] or (errno.errorcode.get(code, "") if code is not None else "")
        raw_path = msg.get("path")
        path = raw_path[:1024] if isinstance(raw_path, str) else None
        child = _int(msg, "child")
        if child is not None:
            p = self.tracker.procs.get(child)
            if p is None or p.ppid != pid:  # only of a child it is known to have had
                return
            argv = [str(a)[:1024] for a in msg.get("argv", [])][:64] if isinstance(msg.get("argv"), list) else []
            # Stamped when it is read: the parent learnt of it after the child's end, whose stamp (from the
            # kernel's report or /proc) may trail the shim's clock; its timeline mark must not precede the spawn.
            self.emit(protocol.proc_exec_failed(child, argv, path, error or "unknown", code, line))
            return
        pend = self.pending_exec.pop(pid, None) or {}
        self.emit(protocol.proc_exec_failed(pid, pend.get("argv") or [], path or pend.get("path"), error or "unknown",
                                            code, pend.get("line") or line), t=t)

    def _wait_begin(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        p = self.tracker.procs.get(pid)
        if p is not None:
            p.in_wait_since = time.monotonic_ns()
        self._line_only(pid, msg, t, line)

    def _wait(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        result, status = msg.get("result"), msg.get("status")
        p = self.tracker.procs.get(pid)
        if p is not None and msg.get("call") != "waitid":  # waitid reports no begin
            p.in_wait_since = None
        self._pass_through(pid, msg, t, line)
        if isinstance(result, int) and result > 0 and isinstance(status, int) and not msg.get("nowait"):
            self.tracker.reaped(result, pid, str(msg.get("call")), status)

    def _limit_hit(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        what = msg.get("what")
        if what in ("processes", "memory"):
            self.limit_hit(str(what), str(msg.get("detail", ""))[:200])

    def _hide(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        """A library's internal pipe: never shown as the lesson's IPC."""
        names = msg.get("names")
        if isinstance(names, list):
            self.tracker.hidden.update(n for n in names[:8] if isinstance(n, str) and _PIPE_NAME.fullmatch(n))

    def _nothing(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        """thread.start: threads are read from /proc/PID/task; the hook only triggers a prompt scan."""

    def _op_begin(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        if msg.get("kind") in _WAITABLE:
            # What a futex wait that follows is about: "waiting on semaphore #1", not a bare futex.
            tid = msg["tid"] if isinstance(msg.get("tid"), int) else pid
            self.tracker.pending_op[(pid, tid)] = (str(msg["kind"]), self._channel(msg, str(msg["kind"])))
        self._line_only(pid, msg, t, line)

    def _exiting(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        code = msg.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            self.tracker.exiting(pid, code & 0xFF)
        self._line_only(pid, msg, t, line)

    def _line_only(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        """A call about to block: the line it is on (the state follows from /proc)."""
        if line:
            self.emit(protocol.proc_line(pid, line), t=t)

    def _native_hello(self, conn: socket.socket, pid: int, msg: dict[str, Any], line: Any) -> None:
        """A program's first word, from the native shim's constructor before its main: who it is (true argv),
        who its parent is, and whether it needs output pipes of its own. Answered at once: it waits."""
        raw_ppid = msg.get("ppid")
        ppid = raw_ppid if isinstance(raw_ppid, int) else 0
        p = self.tracker.procs.get(pid)
        if msg.get("how") == "fork":
            if ppid in self.native_exe:
                self.native_exe.setdefault(pid, self.native_exe[ppid])
            if p is None:
                self.fork_begin.pop(ppid, None)
                p = self.tracker.add(pid, ppid, "fork", line)
        else:
            exe = str(msg.get("exe", ""))[:1024]
            self.native_exe[pid] = exe
            if p is None:
                # Started from C without a traced fork (system(), posix_spawn, a vfork): seen at its exec.
                call, fline = self.fork_begin.pop(ppid, ("spawn", None))
                p = self.tracker.add(pid, ppid, "vfork" if call == "vfork" else "spawn", fline)
            pend = self.pending_exec.pop(pid, None)
            if p is not None and pid == self.root_pid and p.hold_exe is not None:
                # A C root becoming the student's program: the end of its set-up, not an exec of the lesson
                # (the student typed ./main; nothing in it called exec).
                p.hold = False
                p.hold_exe = None
            elif pid in self.exec_confirmed:
                self.exec_confirmed.discard(pid)  # already told from /proc (its argv was the caller's)
            else:
                argv = [str(a)[:256] for a in msg.get("argv", []) if isinstance(a, str)][:64]
                self.emit(protocol.proc_exec(pid, argv or (pend or {}).get("argv") or [exe], (pend or {}).get("line")))
            if msg.get("python") is True:
                self.native_execd.add(pid)
        if p is not None and isinstance(msg.get("sock_ino"), int):
            p.hidden_inodes.add(f"socket:[{msg['sock_ino']}]")
        owners = self.output.owners()
        raw_out = msg.get("out")
        out: list[Any] = raw_out if isinstance(raw_out, list) else []
        own = [isinstance(i, int) and i in owners and owners[i] != pid for i in out[:2]]
        if p is not None and not any(own) and msg.get("python") is not True:
            p.io_ready = True  # no pipes of its own to wait for (a pipeline's member): its fds are the lesson's
        try:
            conn.send(json.dumps({"own": own + [False] * (2 - len(own))}, separators=(",", ":")).encode())
        except OSError:
            pass

    def _channel(self, msg: dict[str, Any], kind: str) -> str:
        """The channel id (pipe#1, queue#2 …) for a shim report, creating it on first sight.

        Keys are kernel names where there is one (pipe:[ino], socket:[ino], a FIFO's path), so the
        shim's reports and the /proc fd scan meet on the same channel; objects made of several kernel
        objects (a Queue's pipe, a duplex Pipe's two sockets) are aliased to one key.
        """
        ch = self.tracker.channels
        ino, obj = msg.get("ino"), msg.get("obj")
        ckind = kind
        shown: str | None = None
        if kind == "mp_pipe":
            inos = [i for i in (msg.get("inos") or [ino]) if isinstance(i, int)]
            key = next((ch.alias[n] for i in inos for n in (f"pipe:[{i}]", f"socket:[{i}]") if n in ch.alias),
                       f"mp_pipe:{inos[0] if inos else obj}")
            for i in inos:
                ch.alias.setdefault(f"pipe:[{i}]", key)
                ch.alias.setdefault(f"socket:[{i}]", key)
        elif kind == "pipe" and isinstance(ino, int):
            key = f"pipe:[{ino}]"
        elif kind == "socket" and isinstance(ino, int):
            key = f"socket:[{ino}]"
            if isinstance(msg.get("path"), str):
                shown = str(msg["path"])[:108]  # an AF_UNIX socket's path, as the program named it
        elif kind == "fifo":
            name = msg.get("name")
            if name:
                key = os.path.normpath(os.path.join(self.run_dir, str(name)))
                shown = str(name)  # as the program named it (`fifo_file`, `./fifo`), not the sandbox path
                if isinstance(ino, int):
                    ch.alias[f"fifo-ino:{ino}"] = key  # a FIFO's fds link to its path; reads name the inode
            else:
                key = ch.alias.get(f"fifo-ino:{ino}", f"fifo-ino:{ino}")
        elif kind == "file" and isinstance(ino, int):
            key = f"file-ino:{ino}"  # one file, one channel, however each process spelled its name
            shown = str(msg.get("name") or "")[:200] or None
        elif kind == "queue" and isinstance(obj, str) and obj.startswith("queue:"):
            key = obj
            ino_s = obj.split(":", 1)[1]
            if ino_s.isdigit():
                ch.alias[f"pipe:[{ino_s}]"] = obj  # the queue's pipe is the queue
        else:
            key = str(obj if obj is not None else f"{kind}:{ino}")
        cid, created = ch.ensure(key, ckind)
        if created or (shown and kind == "socket" and cid not in ch.named):
            # A socket the fd scan found first gets its path once the shim sees it bound or connected:
            # the same channel again, now with its name.
            # A threading object has no kernel name: none is shown.
            self.emit(protocol.ipc_channel(cid, ch.kinds[cid],
                                           shown or (None if key.startswith("thread-") else self.tracker.shown(key)),
                                           msg.get("line")))
        if shown:
            ch.named.add(cid)
        return cid

    def _pass_through(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        """A shim report that becomes an event of the same type, after its fields are checked."""
        kind = str(msg.get("type"))
        ino = msg.get("ino")
        if kind.startswith("ipc.") and isinstance(ino, int) and f"pipe:[{ino}]" in self.tracker.hidden:
            return  # the run's stdin or a sandbox pipe: plumbing, not a channel of the lesson
        if kind == "ipc.op":
            self.tracker.pending_op.pop((pid, msg["tid"] if isinstance(msg.get("tid"), int) else pid), None)
        self._outgoing[kind](pid, msg, t, line)

    def _out_signal_sent(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        to = _int(msg, "to")
        if to is None:
            return
        self.emit(protocol.signal_sent(pid, to, _str(msg, "signal", 16), line), t=t)
        self._ignored(to, _str(msg, "signal", 16), t)

    def _out_signal_handler(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        self.emit(protocol.signal_handler(pid, _str(msg, "signal", 16), _str(msg, "handler", 80), line), t=t)

    def _out_signal_handled(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        self.emit(protocol.signal_handled(pid, _str(msg, "signal", 16), "handler"), t=t)

    def _out_wait(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        self.emit(protocol.proc_wait(pid, _str(msg, "call", 16), _int(msg, "target"), _int(msg, "options") or 0,
                                     _int(msg, "result") or 0, _int(msg, "status"), line), t=t)

    def _out_channel(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        ck = _str(msg, "kind", 16)
        if ck in ("pipe", "fifo", "file", "queue", "value", "array", "mp_pipe"):
            self._channel(msg, ck)

    def _out_transfer(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        ck = _str(msg, "kind", 16)
        if ck not in ("pipe", "fifo", "socket", "mp_pipe", "file"):
            return
        cid = self._channel(msg, ck)
        direction = _str(msg, "direction", 8)
        if direction not in ("read", "write"):
            return
        self.emit(protocol.ipc_transfer(cid, pid, direction, max(0, _int(msg, "bytes") or 0),
                                        _str(msg, "preview", 64), line), t=t)

    def _out_op(self, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        op = _str(msg, "op", 16)
        ck = str(msg.get("kind"))
        if op == "dup2":
            dup_cid = self._channel(msg, ck) if ck in ("pipe", "fifo", "socket") else None
            self.emit(protocol.ipc_op(dup_cid or f"fd {_int(msg, 'fd')}", pid, "dup2",
                                      {"fd": _int(msg, "fd"), "fd2": _int(msg, "fd2")}, line), t=t)
            return
        if ck not in ("queue", "semaphore", "lock", "event", "condition", "socket", "value", "array", "mp_pipe",
                      "pipe", "fifo"):
            return
        cid = self._channel(msg, ck)
        value = msg.get("value")
        if not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)[:64]
        if isinstance(value, str):
            value = value[:64]
        self.emit(protocol.ipc_op(cid, pid, op, value, line), t=t)

    def _ignored(self, to: int, name: str, t: int | None) -> None:
        """A signal sent to a run process that ignores it (SIG_IGN) is discarded by the kernel: no code runs in
        the target, so no shim can say so. The target's SigIgn mask, read now, does (it could change its
        disposition in the microseconds between the kill and this read; lessons do not race that)."""
        try:
            num = int(signal.Signals[name])
        except KeyError:
            return
        if to <= 0 or to not in self.tracker.procs:
            return
        mask = procfs.ignored_signals(to)
        if mask is not None and mask >> (num - 1) & 1:
            self.emit(protocol.signal_handled(to, name, "ignore"), t=t)

    def _send_mode(self, conn: socket.socket) -> None:
        try:
            conn.send(json.dumps({"mode": self.mode.value}).encode())
        except OSError:
            pass

    def _release(self, conn: socket.socket, msg: dict[str, Any]) -> None:
        """Answer a traced call that waits for its go (step and slow modes)."""
        if not msg.get("sync"):
            return
        if self.mode is PaceMode.NORMAL:
            self._go(conn)
        elif self.mode is PaceMode.SLOW:
            self.pending_go.append((conn, time.monotonic() + self.delay_ms / 1000))
        else:
            self.pending_go.append((conn, float("inf")))

    def _go(self, conn: socket.socket) -> None:
        try:
            conn.send(b'{"go":true}')
        except OSError:
            pass

    def release_due(self) -> None:
        if not self.pending_go:
            return
        now = time.monotonic()
        keep = []
        for conn, due in self.pending_go:
            if due <= now:
                self._go(conn)
            else:
                keep.append((conn, due))
        self.pending_go = keep

    def step(self) -> None:
        """Let the oldest waiting traced call go (step mode)."""
        if self.pending_go:
            conn, _ = self.pending_go.pop(0)
            self._go(conn)

    def release_all(self) -> None:
        for conn, _ in self.pending_go:
            self._go(conn)
        self.pending_go.clear()

    def set_mode(self, mode: PaceMode, delay_ms: int | None) -> None:
        """Tell every shim the new pace; back to normal, every waiting call goes."""
        if delay_ms is not None:
            self.delay_ms = delay_ms
        self.mode = mode
        for conn, _pid in list(self.conns.values()):
            self._send_mode(conn)
        if mode is PaceMode.NORMAL:
            self.release_all()

    def confirm_execs(self) -> None:
        """Report an exec once the kernel shows it: a new program image, or the process ended
        without the shim reporting a failed exec (a short-lived `ls` may be gone before we look)."""
        for pid, pend in list(self.pending_exec.items()):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                exe = None
            if exe is not None and exe == pend.get("exe"):
                continue
            self.pending_exec.pop(pid, None)
            self.exec_confirmed.add(pid)  # the new image's native hello, if any, must not report it again
            self.emit(protocol.proc_exec(pid, pend["argv"], pend.get("line")))
