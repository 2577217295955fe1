"""The supervisor's side of the shim: connections (pid from SO_PEERCRED), messages, pacing.

Nothing in a message is trusted but its content: types are whitelisted, strings cut, numbers
checked; the pid is the kernel's. Channels are keyed by kernel names where there is one, so
the shim's reports and the /proc fd scan meet on the same channel.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import time
from typing import Any

from .tracker import Tracker

# Shim message types that pass straight through as events (after checks).
_PASS_THROUGH = {"signal.sent", "signal.handler", "signal.handled", "proc.wait", "ipc.op", "ipc.transfer",
                 "ipc.channel"}


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
        if kind == "hello.output":
            for stream, f in zip(("stdout", "stderr"), fds, strict=False):
                self.add_pipe(f, pid, stream)
                if p is not None:
                    p.hidden_inodes.add(f"pipe:[{os.fstat(f).st_ino}]")
            if p is not None:
                p.io_ready = True  # its fds can be shown now that its own plumbing is known
            for f in fds[2:]:
                os.close(f)
            return
        for f in fds:
            os.close(f)
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
            if isinstance(child, int) and child > 0:
                self.tracker.add(child, pid, "fork", line)
        elif kind == "proc.exec":
            argv = [str(a) for a in msg.get("argv", [])][:64]
            self.pending_exec[pid] = {"argv": argv, "line": line, "exe": msg.get("exe")}
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
        elif kind == "thread.start":
            pass  # threads are read from /proc/PID/task; the hook only triggers a prompt scan
        elif kind in ("proc.wait.begin", "ipc.read.begin", "ipc.op.begin", "proc.exiting"):
            if line:
                self.emit({"type": "proc.line", "pid": pid, "line": line}, t=t)
        elif kind in _PASS_THROUGH:
            self._pass(kind, pid, msg, t, line)
        if line and kind not in ("proc.wait.begin", "ipc.read.begin", "ipc.op.begin", "proc.exiting"):
            pass
        self._release(conn, msg)

    def _channel(self, msg: dict[str, Any], kind: str) -> str:
        """The channel id (pipe#1, queue#2 …) for a shim report, creating it on first sight.

        Keys are kernel names where there is one (pipe:[ino], socket:[ino], a FIFO's path), so the
        shim's reports and the /proc fd scan meet on the same channel; objects made of several kernel
        objects (a Queue's pipe, a duplex Pipe's two sockets) are aliased to one key.
        """
        ch = self.tracker.channels
        ino, obj = msg.get("ino"), msg.get("obj")
        ckind = kind
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
        elif kind == "fifo":
            name = msg.get("name")
            if name:
                key = os.path.join(self.run_dir, str(name)) if not str(name).startswith("/") else str(name)
                if isinstance(ino, int):
                    ch.alias[f"fifo-ino:{ino}"] = key  # a FIFO's fds link to its path; reads name the inode
            else:
                key = ch.alias.get(f"fifo-ino:{ino}", f"fifo-ino:{ino}")
        elif kind == "queue" and isinstance(obj, str) and obj.startswith("queue:"):
            key = obj
            ino_s = obj.split(":", 1)[1]
            if ino_s.isdigit():
                ch.alias[f"pipe:[{ino_s}]"] = obj  # the queue's pipe is the queue
        else:
            key = str(obj if obj is not None else f"{kind}:{ino}")
        cid, created = ch.ensure(key, ckind)
        if created:
            self.emit({"type": "ipc.channel", "channel": cid, "kind": ch.kinds[cid], "name": key,
                       "line": msg.get("line")})
        return cid

    def _pass(self, kind: str, pid: int, msg: dict[str, Any], t: int | None, line: Any) -> None:
        def s(key: str, n: int = 200) -> str:
            return str(msg.get(key, ""))[:n]

        def i(key: str) -> int | None:
            v = msg.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        if kind == "signal.sent":
            to = i("to")
            if to is None:
                return
            self.emit({"type": kind, "from": pid, "to": to, "signal": s("signal", 16), "line": line}, t=t)
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
            if ck in ("pipe", "fifo", "queue", "value", "array", "mp_pipe"):
                self._channel(msg, ck)
        elif kind == "ipc.transfer":
            ck = s("kind", 16)
            if ck not in ("pipe", "fifo", "socket", "mp_pipe"):
                return
            cid = self._channel(msg, ck)
            direction = s("direction", 8)
            if direction not in ("read", "write"):
                return
            self.emit({"type": kind, "channel": cid, "pid": pid, "direction": direction,
                       "bytes": max(0, i("bytes") or 0), "preview": s("preview", 64), "line": line}, t=t)
        elif kind == "ipc.op":
            op = s("op", 16)
            op_kind = msg.get("kind")
            if op == "dup2":
                dup_cid = self._channel(msg, str(op_kind)) if op_kind in ("pipe", "fifo", "socket") else None
                self.emit({"type": kind, "channel": dup_cid or f"fd {i('fd')}", "pid": pid, "op": "dup2",
                           "value": {"fd": i("fd"), "fd2": i("fd2")}, "line": line}, t=t)
                return
            if op_kind not in ("queue", "semaphore", "lock", "event", "socket", "value", "array", "mp_pipe", "pipe",
                               "fifo"):
                return
            cid = self._channel(msg, str(op_kind))
            value = msg.get("value")
            if not isinstance(value, str | int | float | bool | type(None)):
                value = str(value)[:64]
            if isinstance(value, str):
                value = value[:64]
            self.emit({"type": kind, "channel": cid, "pid": pid, "op": op, "value": value, "line": line}, t=t)

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
