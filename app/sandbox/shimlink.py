"""The supervisor's side of the shim: connections (pid from SO_PEERCRED), messages, pacing.

Nothing in a message is trusted but its content: types are whitelisted, strings cut, numbers
checked; the pid is the kernel's. Channels are keyed by kernel names where there is one, so
the shim's reports and the /proc fd scan meet on the same channel.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import struct
import time
from typing import Any

from . import procfs
from .native.lines import LineResolver
from .tracker import Tracker

# Shim message types that pass straight through as events (after checks).
_PASS_THROUGH = {"signal.sent", "signal.handler", "signal.handled", "proc.wait", "ipc.op", "ipc.transfer",
                 "ipc.channel"}
_WAITABLE = ("semaphore", "lock", "event", "condition", "queue")  # ops a futex wait can be about
_PIPE_NAME = re.compile(r"pipe:\[\d+\]")


class ShimMixin:
    """Part of Supervisor: needs self.sel, self.listener, self.conns, self.tracker, self.emit …"""

    sel: selectors.BaseSelector
    listener: socket.socket
    conns: dict[int, tuple[socket.socket, int]]
    tracker: Tracker
    uid: int | None
    mode: str
    delay_ms: int
    pending_go: list[tuple[socket.socket, float]]
    pending_exec: dict[int, dict[str, Any]]
    limit_hits: dict[str, str]
    root_pid: int
    run_dir: str
    pipes: dict[int, tuple[int, str, Any]]
    lines: LineResolver
    native_exe: dict[int, str]  # pid -> its program, as the native shim said (for source lines)
    native_execd: set[int]  # the native shim reported this image's exec: the Python shim's hello must not
    exec_confirmed: set[int]  # an exec emitted from /proc before the new image's native hello came
    fork_begin: dict[int, tuple[str, Any]]  # parent pid -> (fork | vfork, line) of its call in progress

    def emit(self, ev: dict[str, Any], t: int | None = None) -> None: ...
    def add_pipe(self, fd: int, pid: int, stream: str) -> None: ...

    def drain_shim(self) -> None:
        """Read every message still queued: a late hello.output carries the pipes of the last output."""
        self.accept()
        for fd in list(self.conns):
            if fd in self.conns:
                self.read_shim(fd)

    def accept(self) -> None:
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
            self.sel.register(conn, selectors.EVENT_READ, "shim")
            if self.mode != "normal":
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
        p = self.tracker.procs.get(pid)
        if line is None and isinstance(msg.get("pc"), int):
            exe = self.native_exe.get(pid)
            if exe is None and kind == "hello" and isinstance(msg.get("ppid"), int):
                exe = self.native_exe.get(msg["ppid"])  # a fork child runs its parent's program
            line = msg["line"] = self.lines.line(exe, msg["pc"])  # a C call: its file:line
        if kind == "signal.handler" and isinstance(msg.get("hpc"), int):
            msg["handler"] = self.lines.function(self.native_exe.get(pid), msg["hpc"]) or msg.get("handler")
        if kind == "hello.output":
            streams = [x for x in msg.get("streams") or ("stdout", "stderr") if x in ("stdout", "stderr")]
            for stream, f in zip(streams, fds, strict=False):
                self.add_pipe(f, pid, stream)
                if p is not None:
                    p.hidden_inodes.add(f"pipe:[{os.fstat(f).st_ino}]")
            if p is not None:
                p.io_ready = True  # its fds can be shown now that its own plumbing is known
            for f in fds[len(streams):]:
                os.close(f)
            return
        for f in fds:
            os.close(f)
        if kind == "hello" and msg.get("native") is True:
            self._native_hello(conn, pid, msg, line)
            return
        if kind == "hello":
            how = msg.get("how") if msg.get("how") in ("fork", "python", "root") else "python"
            raw_ppid = msg.get("ppid")
            ppid = raw_ppid if isinstance(raw_ppid, int) else 0
            argv = [str(a) for a in msg.get("argv", [])][:32]
            if p is None:
                p = self.tracker.add(pid, ppid, "fork" if how == "fork" else ("root" if how == "root" else "python"),
                                     line)
                if how == "python":
                    # Started by exec from C (subprocess, multiprocessing spawn): the exec is part of its story.
                    self.emit({"type": "proc.exec", "pid": pid, "argv": ["python", *argv], "line": None})
            elif how == "python" and pid in self.native_execd:
                self.native_execd.discard(pid)  # its exec, with the true argv, came with the native hello
            elif how == "python" and pid != self.root_pid:
                # A known process became a new Python: exec'd from Python (pending) or from C.
                pend = self.pending_exec.pop(pid, None)
                self.emit({"type": "proc.exec", "pid": pid, "argv": (pend or {}).get("argv") or ["python", *argv],
                           "line": (pend or {}).get("line")})
            if p is not None and isinstance(msg.get("sock_ino"), int):
                p.hidden_inodes.add(f"socket:[{msg['sock_ino']}]")
            if p is not None:
                p.hold = False
            self._release(conn, msg)
            return
        if p is None:
            # The sender is not known yet (its hello is still in flight): learn it now.
            p = self.tracker.add(pid, 0, "observed")
        if kind == "proc.fork":
            child = msg.get("child")
            self.fork_begin.pop(pid, None)
            if isinstance(child, int) and child > 0:
                self.tracker.add(child, pid, "fork", line)
                if pid in self.native_exe:
                    self.native_exe.setdefault(child, self.native_exe[pid])
        elif kind == "proc.fork.begin":
            self.fork_begin[pid] = ("vfork" if msg.get("call") == "vfork" else "fork", line)
            if line:
                self.emit({"type": "proc.line", "pid": pid, "line": line}, t=t)
        elif kind == "proc.exec":
            argv = [str(a) for a in msg.get("argv", [])][:64]
            self.pending_exec[pid] = {"argv": argv, "line": line, "exe": msg.get("exe") or self.native_exe.get(pid)}
        elif kind == "proc.exec.failed":
            self.pending_exec.pop(pid, None)
        elif kind == "proc.wait":
            result, status = msg.get("result"), msg.get("status")
            self._pass(kind, pid, msg, t, line)
            if isinstance(result, int) and result > 0 and isinstance(status, int):
                if not msg.get("nowait"):
                    self.tracker.reaped(result, pid, str(msg.get("call")), status)
        elif kind == "limit.hit":
            what = msg.get("what")
            if what in ("processes", "memory"):
                self.limit_hits[what] = str(msg.get("detail", ""))[:200]
        elif kind == "ipc.hide":  # a library's internal pipe: never shown as the lesson's IPC
            names = msg.get("names")
            if isinstance(names, list):
                self.tracker.hidden.update(n for n in names[:8] if isinstance(n, str) and _PIPE_NAME.fullmatch(n))
        elif kind == "thread.start":
            pass  # threads are read from /proc/PID/task; the hook only triggers a prompt scan
        elif kind == "ipc.op.begin" and msg.get("kind") in _WAITABLE:
            # What a futex wait that follows is about: "waiting on semaphore #1", not a bare futex.
            tid = msg["tid"] if isinstance(msg.get("tid"), int) else pid
            self.tracker.pending_op[(pid, tid)] = (str(msg["kind"]), self._channel(msg, str(msg["kind"])))
            if line:
                self.emit({"type": "proc.line", "pid": pid, "line": line}, t=t)
        elif kind in ("proc.wait.begin", "ipc.read.begin", "ipc.op.begin", "proc.exiting"):
            code = msg.get("code")
            if kind == "proc.exiting" and isinstance(code, int) and not isinstance(code, bool):
                self.tracker.exiting(pid, code & 0xFF)
            if line:
                self.emit({"type": "proc.line", "pid": pid, "line": line}, t=t)
        elif kind in _PASS_THROUGH:
            if kind == "ipc.op":
                self.tracker.pending_op.pop((pid, msg["tid"] if isinstance(msg.get("tid"), int) else pid), None)
            self._pass(kind, pid, msg, t, line)
        self._release(conn, msg)

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
                self.emit({"type": "proc.exec", "pid": pid, "argv": argv or (pend or {}).get("argv") or [exe],
                           "line": (pend or {}).get("line")})
            if msg.get("python") is True:
                self.native_execd.add(pid)
        if p is not None and isinstance(msg.get("sock_ino"), int):
            p.hidden_inodes.add(f"socket:[{msg['sock_ino']}]")
        owners = self._output_owners()
        raw_out = msg.get("out")
        out: list[Any] = raw_out if isinstance(raw_out, list) else []
        own = [isinstance(i, int) and i in owners and owners[i] != pid for i in out[:2]]
        if p is not None and not any(own) and msg.get("python") is not True:
            p.io_ready = True  # no pipes of its own to wait for (a pipeline's member): its fds are the lesson's
        try:
            conn.send(json.dumps({"own": own + [False] * (2 - len(own))}, separators=(",", ":")).encode())
        except OSError:
            pass

    def _output_owners(self) -> dict[int, int]:
        """Inode of each ProcLab output pipe -> the pid its output is credited to."""
        owners: dict[int, int] = {}
        for fd, (owner, _stream, _dec) in self.pipes.items():
            try:
                owners[os.fstat(fd).st_ino] = owner
            except OSError:
                pass
        return owners

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
            self.emit({"type": "ipc.channel", "channel": cid, "kind": ch.kinds[cid],
                       "name": shown or self.tracker.shown(key), "line": msg.get("line")})
        if shown:
            ch.named.add(cid)
        return cid

    def _pass(self, kind: str, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        def s(key: str, n: int = 200) -> str:
            return str(msg.get(key, ""))[:n]

        def i(key: str) -> int | None:
            v = msg.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        ino = msg.get("ino")
        if kind.startswith("ipc.") and isinstance(ino, int) and f"pipe:[{ino}]" in self.tracker.hidden:
            return  # the run's stdin or a sandbox pipe: plumbing, not a channel of the lesson
        if kind == "signal.sent":
            to = i("to")
            if to is None:
                return
            self.emit({"type": kind, "from": pid, "to": to, "signal": s("signal", 16), "line": line}, t=t)
            self._ignored(to, s("signal", 16), t)
        elif kind == "signal.handler":
            self.emit({"type": kind, "pid": pid, "signal": s("signal", 16), "handler": s("handler", 80),
                       "line": line}, t=t)
        elif kind == "signal.handled":
            self.emit({"type": kind, "pid": pid, "signal": s("signal", 16), "action": "handler"}, t=t)
        elif kind == "proc.wait":
            self.emit({"type": kind, "pid": pid, "call": s("call", 16), "target": i("target"),
                       "options": i("options") or 0, "result": i("result") or 0, "status": i("status"),
                       "line": line}, t=t)
        elif kind == "ipc.channel":
            ck = s("kind", 16)
            if ck in ("pipe", "fifo", "file", "queue", "value", "array", "mp_pipe"):
                self._channel(msg, ck)
        elif kind == "ipc.transfer":
            ck = s("kind", 16)
            if ck not in ("pipe", "fifo", "socket", "mp_pipe", "file"):
                return
            cid = self._channel(msg, ck)
            direction = s("direction", 8)
            if direction not in ("read", "write"):
                return
            self.emit({"type": kind, "channel": cid, "pid": pid, "direction": direction,
                       "bytes": max(0, i("bytes") or 0), "preview": s("preview", 64), "line": line}, t=t)
        elif kind == "ipc.op":
            op = s("op", 16)
            ck = str(msg.get("kind"))
            if op == "dup2":
                dup_cid = self._channel(msg, ck) if ck in ("pipe", "fifo", "socket") else None
                self.emit({"type": kind, "channel": dup_cid or f"fd {i('fd')}", "pid": pid, "op": "dup2",
                           "value": {"fd": i("fd"), "fd2": i("fd2")}, "line": line}, t=t)
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
            self.emit({"type": kind, "channel": cid, "pid": pid, "op": op, "value": value, "line": line}, t=t)

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
            self.emit({"type": "signal.handled", "pid": to, "signal": name, "action": "ignore"}, t=t)

    def _send_mode(self, conn: socket.socket) -> None:
        try:
            conn.send(json.dumps({"mode": self.mode}).encode())
        except OSError:
            pass

    def _release(self, conn: socket.socket, msg: dict[str, Any]) -> None:
        """Answer a traced call that waits for its go (step and slow modes)."""
        if not msg.get("sync"):
            return
        if self.mode == "normal":
            self._go(conn)
        elif self.mode == "slow":
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
