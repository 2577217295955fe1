"""The run's process model, kept true to the kernel: states, reasons, tree, IPC ends.

The supervisor feeds it samples of /proc and the shim's reports; it answers
with events (dicts without seq/t, which the supervisor adds). Only changes are
reported. A state shorter than the sampling interval may be missed; nothing
is ever invented.
"""

from __future__ import annotations

import enum
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import procfs, protocol

Event = dict[str, Any]


class State(enum.StrEnum):
    NEW = "new"
    READY = "ready"
    RUNNING = "running"
    BLOCKED = "blocked"
    STOPPED = "stopped"
    ZOMBIE = "zombie"


# wchan symbol fragments -> (code, words). Names change between kernels: match on parts.
_WCHAN = (
    ("pipe_read", "pipe_read", "reading a pipe"),
    ("pipe_wait", "pipe_read", "reading a pipe"),
    ("pipe_write", "pipe_write", "writing to a full pipe"),
    ("wait_for_partner", "fifo_open", "opening a FIFO, waiting for the other end"),
    ("fifo_open", "fifo_open", "opening a FIFO, waiting for the other end"),
    ("do_wait", "wait", "waiting for a child (wait)"),
    ("nanosleep", "sleep", "sleeping"),
    ("hrtimer", "sleep", "sleeping"),
    ("futex", "futex", "waiting on a lock or queue (futex)"),
    ("poll_schedule", "poll", "waiting in select()/poll()"),
    ("do_select", "select", "waiting in select()"),
    ("do_sys_poll", "poll", "waiting in poll()"),
    ("ep_poll", "epoll", "waiting in epoll_wait()"),
    ("inet_csk_accept", "accept", "waiting for a connection (accept)"),
    ("unix_stream", "socket_read", "waiting for data on a socket"),
    ("sk_wait", "socket_read", "waiting for data on a socket"),
    ("sigsuspend", "signal", "waiting for a signal"),
    ("do_sigtimedwait", "signal", "waiting for a signal"),
)


# A futex wait while the shim has seen an operation begin: what the wait is for.
# The shims' own connection sits at fd >= 200 (native: the first free from 200; Python: the highest below
# RLIMIT_NOFILE). A poll on it alone is ProcLab waiting for the supervisor (a hello's answer, a step's go).
SHIM_FD_MIN = 200
SHIM_WAIT: dict[str, Any] = {"code": "shim_wait"}  # never emitted: the sample is skipped

_FUTEX_FOR = {
    "semaphore": ("semaphore", "waiting on semaphore #{n}"),
    "lock": ("lock", "waiting for lock #{n}"),
    "event": ("event", "waiting for event #{n} to be set"),
    "condition": ("condition", "waiting on condition #{n}"),
    "queue": ("queue", "waiting on queue #{n}"),  # a get() on an empty or a put() on a full queue
}


def _newest_child(pid: int) -> int | None:
    """The newest child of pid (a vfork child being started), from /proc/PID/task/*/children."""
    kids = procfs.children(pid)
    return max(kids) if kids else None


@dataclass
class Channels:
    """Numbers channels per kind in order of appearance: pipe#1, fifo#1, queue#1 ..."""

    by_key: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    alias: dict[str, str] = field(default_factory=dict)  # kernel name of a queue's pipe -> queue#n
    named: set[str] = field(default_factory=set)  # channels already shown with the program's own name

    def get(self, key: str) -> str | None:
        key = self.alias.get(key, key)
        return self.by_key.get(key)

    def ensure(self, key: str, kind: str) -> tuple[str, bool]:
        """(channel id, created now)."""
        key = self.alias.get(key, key)
        cid = self.by_key.get(key)
        if cid is not None:
            return cid, False
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        cid = f"{kind}#{n}"
        self.by_key[key] = cid
        self.kinds[cid] = kind
        return cid, True


@dataclass
class Task:
    tid: int
    files: procfs.ProcFiles | None
    state: State | None = None
    stat: str = ""
    reason: str | None = None
    run_ns: int = 0
    wait_ns: int = 0


@dataclass
class Proc:
    pid: int
    ppid: int
    files: procfs.ProcFiles | None
    name: str = ""
    state: State = State.NEW
    stat: str = ""
    reason: str | None = None
    why: dict[str, Any] | None = None
    run_ns: int = 0
    wait_ns: int = 0
    slices: int = 0  # times scheduled: unchanged means it has not run, so nothing about it can have changed
    cpu_ticks: int = 0
    rss_pages: int = 0
    alive: bool = True
    exit_reported: bool = False
    reaped: bool = False
    threads: dict[int, Task] = field(default_factory=dict)
    ends: dict[int, tuple[str, str]] = field(default_factory=dict)  # fd -> (channel, end)
    hidden_inodes: set[str] = field(default_factory=set)  # its own output pipes and shim socket
    last_fd_scan: int = 0
    last_thread_scan: int = 0
    vanished_at: int | None = None  # gone from /proc, waiting briefly for a traced wait() to say who reaped it
    hold: bool = False  # still in sandbox set-up (the root before its hello): its states are not the lesson's
    hold_exe: str | None = None  # or until it runs this program (a C root: its exec ends the set-up)
    io_ready: bool = False  # the shim has told which of its fds are plumbing (or it has no shim)
    first_seen: int = 0
    exit_hint: int | None = None  # wait status it told the shim on its way out (exit(), _exit, main's return)
    in_wait_since: int | None = None  # in a traced wait call (its shim said so): a child it reaps will be told


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def decode_status(status: int) -> tuple[int | None, str | None, bool]:
    """(exit code, signal name, core dumped) from a wait status."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None, False
    if os.WIFSIGNALED(status):
        return None, signal_name(os.WTERMSIG(status)), bool(status & 0x80)
    return None, None, False


class Tracker:
    """All processes of one run and what is known of them."""

    def __init__(self, init_pid: int, emit: Callable[[Event], None], hidden: Iterable[str] = (),
                 run_dir: str = "") -> None:
        self.init_pid = init_pid
        self.run_dir = run_dir.rstrip("/")
        # (pid, tid) -> (kind, channel) of an operation the shim saw begin in that thread, not yet done
        self.pending_op: dict[tuple[int, int], tuple[str, str]] = {}
        self.emit = emit
        self.procs: dict[int, Proc] = {}
        self.channels = Channels()
        self.hidden = set(hidden)  # kernel names never shown as IPC (the supervisor's own pipes)
        self.max_alive = 0
        self.max_threads = 0
        self.total_cpu_ticks_dead = 0
        self.thread_interval_ns = 20_000_000
        self.fd_interval_ns = 30_000_000

    # ------------------------------------------------------------ membership

    def alive(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.alive]

    def add(self, pid: int, ppid: int, how: str, line: Any = None, name: str | None = None,
            held_exe: str | None = None, held: bool = False) -> Proc | None:
        """Start tracking pid (idempotent). Emits proc.spawn and its first state.

        held: still in the sandbox's set-up (the root, until its hello or, with held_exe, until it runs
        that program): it is `new`, and its STAT letter is left out, since what the kernel shows then
        (a D while it joins its cgroup or waits in vfork for the compiler) is ProcLab's, not the program's."""
        if pid in self.procs:
            return self.procs[pid]
        try:
            files = procfs.ProcFiles(pid)
        except OSError:
            files = None  # already gone: still worth a spawn event if the shim saw it
        st = files.stat() if files else None
        # The shim says who forked it; /proc may already show init if that parent died meanwhile.
        born_to = ppid if ppid > 0 and how in ("fork", "python") else (st.ppid if st else ppid)
        # Gone before /proc was read (subprocess's child whose exec failed, reaped at once): until an exec a
        # child runs its parent's program, so it has the parent's name, as `ps` would have shown.
        parent = self.procs.get(born_to)
        p = Proc(pid=pid, ppid=born_to, files=files,
                 name=name or (st.comm if st else "") or (parent.name if parent is not None else ""),
                 first_seen=time.monotonic_ns())
        p.hold, p.hold_exe = held or held_exe is not None, held_exe
        self.procs[pid] = p
        self.emit(protocol.proc_spawn(pid, p.ppid, how, p.name, line))
        self.emit(protocol.proc_state(pid, State.NEW.value, None, st.state if st and not p.hold else "", None))
        if st is not None:
            run_ns, wait_ns, slices = files.schedstat() if files else (0, 0, 0)
            p.run_ns, p.wait_ns, p.slices = run_ns, wait_ns, slices
            if st.ppid != p.ppid and st.state not in ("Z", "X"):
                self.emit(protocol.proc_reparent(pid, p.ppid, st.ppid))
                p.ppid = st.ppid
        n = len(self.alive())
        self.max_alive = max(self.max_alive, n)
        return p

    # ------------------------------------------------------------ sampling

    def sweep(self, now_ns: int, want_fds: bool = True) -> None:
        for p in list(self.procs.values()):
            if p.hold and p.hold_exe and _exe(p.pid) == p.hold_exe:
                p.hold = False
            if p.alive and not p.hold:
                self._sample(p, now_ns, want_fds)
        self.settle(now_ns)

    def _sample(self, p: Proc, now_ns: int, want_fds: bool) -> None:
        st = p.files.stat() if p.files else None
        if st is None:
            self.gone(p.pid)
            return
        if st.ppid != p.ppid and st.state != "X":
            old = p.ppid
            p.ppid = st.ppid
            self.emit(protocol.proc_reparent(p.pid, old, st.ppid))
        if st.comm != p.name:
            p.name = st.comm
        p.cpu_ticks = st.utime + st.stime
        p.rss_pages = st.rss_pages
        run_ns, wait_ns, slices = p.files.schedstat() if p.files else (0, 0, 0)
        d_run, d_wait = run_ns - p.run_ns, wait_ns - p.wait_ns
        ran = slices != p.slices or d_run > 0
        p.run_ns, p.wait_ns, p.slices = run_ns, wait_ns, slices
        letter = st.state
        why: dict[str, Any] | None = None
        reason: str | None = None
        if letter == "Z":
            state = State.ZOMBIE
            if not p.exit_reported:
                code, sig, core = decode_status(st.exit_code)
                self._exit(p, code, sig, core)
        elif letter in ("T", "t"):
            state = State.STOPPED
            reason = "stopped by a signal" if letter == "T" else "stopped by a tracer"
        elif letter in ("S", "D", "I", "W", "P"):
            state = State.BLOCKED
            if not ran and p.state == State.BLOCKED and p.stat == letter:
                # Still asleep in the same call: the kernel has not run it since, so the reason stands.
                why, reason = p.why, p.reason
            else:
                why = self.explain(p.pid, p.files.base if p.files else f"/proc/{p.pid}", letter)
                if why is SHIM_WAIT:
                    return  # waiting for the supervisor's answer to a shim's hello: not the program's state
                reason = why["text"] if why else None
        elif letter == "R":
            if d_wait > d_run and d_wait > 0:
                state = State.READY
            elif d_run > 0:
                state = State.RUNNING
            elif p.state in (State.READY, State.RUNNING):
                state = p.state  # schedstat moves at ticks: no news is no change
            else:
                state = State.RUNNING
        else:  # X: dead, about to vanish
            return
        if state != p.state or reason != p.reason or letter != p.stat:
            if state != p.state or reason != p.reason or (letter != p.stat and state != State.BLOCKED):
                self.emit(protocol.proc_state(p.pid, state.value, p.state.value, letter, reason, why))
            p.state, p.reason, p.stat, p.why = state, reason, letter, why
        if st.num_threads > 1 or p.threads:
            if now_ns - p.last_thread_scan >= self.thread_interval_ns or st.num_threads != len(p.threads) + 1:
                p.last_thread_scan = now_ns
                self._threads(p)
            else:
                self._thread_states(p)
        if not p.io_ready and now_ns - p.first_seen > 100_000_000:
            p.io_ready = True  # no shim in this process (e.g. an exec'd `ls`): nothing of its fds is plumbing
        if (want_fds and p.io_ready and state != State.ZOMBIE and (ran or not p.ends)
                and now_ns - p.last_fd_scan >= self.fd_interval_ns):
            p.last_fd_scan = now_ns
            self.scan_fds(p)

    def _threads(self, p: Proc) -> None:
        tids = set(procfs.list_tids(p.pid)) - {p.pid}
        for tid in tids - set(p.threads):
            try:
                files = procfs.ProcFiles(p.pid, tid)
            except OSError:
                continue
            st = files.stat()
            t = Task(tid=tid, files=files)
            p.threads[tid] = t
            self.emit(protocol.proc_thread_spawn(p.pid, tid, st.comm if st else None))
        for tid in set(p.threads) - tids:
            t = p.threads.pop(tid)
            if t.files:
                t.files.close()
            self.emit(protocol.proc_thread_exit(p.pid, tid))
        self.max_threads = max(self.max_threads, len(p.threads) + 1)
        self._thread_states(p)

    def _thread_states(self, p: Proc) -> None:
        for t in p.threads.values():
            st = t.files.stat() if t.files else None
            if st is None:
                continue
            run_ns, wait_ns, _slices = t.files.schedstat() if t.files else (0, 0, 0)
            d_run, d_wait = run_ns - t.run_ns, wait_ns - t.wait_ns
            t.run_ns, t.wait_ns = run_ns, wait_ns
            reason = None
            why: dict[str, Any] | None = None
            if st.state == "R":
                state = State.READY if d_wait > d_run and d_wait > 0 else (
                    State.RUNNING if d_run > 0 or t.state is None else t.state)
            elif st.state in ("T", "t"):
                state = State.STOPPED
            elif st.state == "Z":
                continue
            else:
                state = State.BLOCKED
                why = self.explain(p.pid, t.files.base if t.files else "", st.state, t.tid)
                if why is SHIM_WAIT:
                    continue
                reason = why["text"] if why else None
            if state != t.state or reason != t.reason:
                t.state, t.reason, t.stat = state, reason, st.state
                self.emit(protocol.proc_thread_state(p.pid, t.tid, state.value, st.state, reason, why))

    # ------------------------------------------------------------ why blocked

    def explain(self, pid: int, base: str, letter: str, tid: int | None = None) -> dict[str, Any] | None:
        name, args = procfs.blocked_syscall(base)
        for _ in range(3):
            if name is None:
                break
            why = self._explain_syscall(pid, name, args, tid or pid)
            if not why or "fd" not in why:
                if why:
                    return why
                break
            # /proc/PID/syscall and /proc/PID/fd are two reads: if the call ended in between, the fd
            # may already name another file (a .pyc opened by an import). Believe it only if the
            # process is still in the same call afterwards.
            again = procfs.blocked_syscall(base)
            if again == (name, args):
                return why
            name, args = again
        wchan = procfs.read_text(f"{base}/wchan", 128) or ""
        for part, code, text in _WCHAN:
            if part in wchan:
                return {"code": code, "text": text, "wchan": wchan}
        if letter == "D":
            return {"code": "disk", "text": "uninterruptible wait in the kernel", "wchan": wchan}
        if name:
            return {"code": "syscall", "text": f"in {name}()", "syscall": name}
        return {"code": "sleep", "text": "sleeping", "wchan": wchan} if wchan else None

    def _shim_socket(self, pid: int, fd: int | None) -> bool:
        """Is fd the shim's own connection? The shims keep it at fd >= 200 (the native shim's first free
        one from 200, the Python shim's the highest below RLIMIT_NOFILE); the program's own sockets there
        are channels or were named by a shim's report. Before a hello is read, its inode is not known yet."""
        if fd is None or fd < 3:
            return False
        cid, target = self._channel_for_fd(pid, fd)
        if cid is not None or not str(target or "").startswith("socket:"):
            return False
        if fd >= SHIM_FD_MIN:
            return True
        # A low RLIMIT_NOFILE puts it just below the limit (the native shim: limit - 8 or higher).
        for line in (procfs.read_text(f"/proc/{pid}/limits", 4096) or "").splitlines():
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return soft.isdigit() and fd >= int(soft) - 8
        return False

    def shown(self, path: str) -> str:
        """A path as the program sees it: relative to the run's directory (its cwd), not a sandbox path."""
        if self.run_dir and path.startswith(self.run_dir + "/"):
            return path[len(self.run_dir) + 1:]
        return path

    def _channel_for_fd(self, pid: int, fd: int) -> tuple[str | None, str | None]:
        target = procfs.fd_target(pid, fd)
        if target is None:
            return None, None
        if target.startswith("pipe:"):
            return self.channels.get(target), target
        if target.startswith("socket:"):
            return self.channels.get(target), target
        if target.startswith("/"):
            return self.channels.get(target), target
        return None, target

    def _explain_syscall(self, pid: int, name: str, args: list[int], tid: int = 0) -> dict[str, Any] | None:
        fd = args[0] if args else -1
        if name in ("read", "readv", "pread64", "recvfrom", "recvmsg", "recvmmsg"):
            cid, target = self._channel_for_fd(pid, fd)
            if target and target in self.hidden and fd == 0:
                return {"code": "stdin", "text": "waiting for input (stdin)", "syscall": name, "fd": fd}
            if target and target.startswith("pipe:"):
                label = f"pipe {cid.replace('#', ' #')}" if cid else "a pipe"
                label = label.replace("pipe pipe", "pipe")
                return {"code": "pipe_read", "text": f"reading {label} (fd {fd})", "syscall": name, "fd": fd,
                        "channel": cid, "name": target}
            if target and target.startswith("socket:") and cid and self.channels.kinds.get(cid) == "mp_pipe":
                return {"code": "socket_read", "text": f"waiting on multiprocessing Pipe {cid.split('#')[1]}"
                        f" (a socket pair, fd {fd})", "syscall": name, "fd": fd, "channel": cid, "name": target}
            if target and target.startswith("socket:"):
                label = cid.replace("#", " #") if cid else "a socket"
                return {"code": "socket_read", "text": f"waiting for data on {label} (fd {fd})",
                        "syscall": name, "fd": fd, "channel": cid, "name": target}
            if target and target.startswith("/") and procfs.is_fifo(pid, fd):
                base = os.path.basename(target)
                return {"code": "fifo_read", "text": f"reading FIFO '{base}' (fd {fd})", "syscall": name,
                        "fd": fd, "channel": cid, "name": self.shown(target)}
            return {"code": "read", "text": f"reading fd {fd}", "syscall": name, "fd": fd}
        if name in ("write", "writev", "pwrite64", "sendto", "sendmsg"):
            cid, target = self._channel_for_fd(pid, fd)
            if target and target in self.hidden:
                return {"code": "output", "text": "writing output (the output is being throttled)",
                        "syscall": name, "fd": fd}
            label = cid.replace("#", " #") if cid else (target or f"fd {fd}")
            return {"code": "pipe_write", "text": f"writing to {label}, which is full (fd {fd})", "syscall": name,
                    "fd": fd, "channel": cid, "name": target}
        if name in ("wait4", "waitid"):
            who = args[1] if name == "waitid" else args[0]
            if name == "wait4" and who > 0x7FFFFFFF:
                who -= 1 << 64
            target = f"child {who}" if name == "wait4" and 0 < who < 1 << 31 else "a child"
            return {"code": "wait", "text": f"waiting for {target} ({name})", "syscall": name,
                    **({"pid": who} if target != "a child" else {})}
        if name in ("nanosleep", "clock_nanosleep"):
            return {"code": "sleep", "text": "sleeping", "syscall": name}
        if name == "futex":
            pending = self.pending_op.get((pid, tid or pid))
            if pending is not None:
                kind, cid = pending
                code, text = _FUTEX_FOR[kind]
                return {"code": code, "text": text.format(n=cid.split("#")[-1]), "syscall": name, "channel": cid}
            return {"code": "futex", "text": "waiting on a lock or queue (futex)", "syscall": name}
        if name in ("vfork", "clone", "clone3"):
            # The parent of a vfork child (subprocess, os.posix_spawn) sleeps until the child execs.
            kid = _newest_child(pid)
            return {"code": "child_start", "text": f"starting child {kid}" if kid else "starting a child",
                    "syscall": name, "pid": kid}
        if name in ("select", "pselect6"):
            return {"code": "select", "text": f"select() on fds below {fd}", "syscall": name, "nfds": fd}
        if name in ("poll", "ppoll"):
            n = args[1] if len(args) > 1 else 0
            if n == 1 and args and self._shim_socket(pid, procfs.read_user_int(pid, args[0])):
                return SHIM_WAIT
            return {"code": "poll", "text": f"poll() on {n} fds", "syscall": name, "count": n}
        if name.startswith("epoll"):
            return {"code": "epoll", "text": "waiting in epoll_wait()", "syscall": name}
        if name in ("accept", "accept4"):
            return {"code": "accept", "text": f"waiting for a connection (accept on fd {fd})", "syscall": name,
                    "fd": fd}
        if name == "connect":
            return {"code": "connect", "text": "connecting a socket", "syscall": name}
        if name in ("openat", "open"):
            path_arg, flags = (args[1], args[2]) if name == "openat" and len(args) > 2 else (
                args[0] if args else 0, args[1] if len(args) > 1 else 0)
            path = procfs.read_user_string(pid, path_arg) or "?"
            other = "writer" if flags & 3 == os.O_RDONLY else "reader"
            return {"code": "fifo_open", "text": f"opening FIFO '{os.path.basename(path)}', waiting for a {other}",
                    "syscall": name, "path": path, "peer": other}
        if name in ("pause", "rt_sigsuspend", "rt_sigtimedwait"):
            return {"code": "signal", "text": f"waiting for a signal ({name})", "syscall": name}
        if name in ("semop", "semtimedop"):
            return {"code": "semaphore", "text": "waiting on a semaphore", "syscall": name}
        if name == "msgrcv":
            return {"code": "message", "text": "waiting for a message", "syscall": name}
        if name in ("flock", "fcntl"):
            return {"code": "lock", "text": "waiting for a file lock", "syscall": name}
        return None

    # ------------------------------------------------------------ IPC ends

    def scan_fds(self, p: Proc) -> None:
        current: dict[int, tuple[str, str]] = {}
        for fd, target in procfs.list_fds(p.pid).items():
            if target in self.hidden or target in p.hidden_inodes:
                continue
            if target.startswith("pipe:"):
                kind = "pipe"
            elif target.startswith("socket:"):
                if fd >= SHIM_FD_MIN and self.channels.get(target) is None:
                    # The shim's own connection until its hello names it (a busy machine can take over the
                    # 100 ms io_ready wait); a program's socket up there is a channel once a shim reports it.
                    continue
                kind = "socket"
            else:
                cid = self.channels.get(target)
                if cid is None:
                    continue
                kind = self.channels.kinds[cid]
            prev = p.ends.get(fd)
            if prev is not None and self.channels.get(target) == prev[0]:
                current[fd] = prev
                continue
            cid, created = self.channels.ensure(target, kind)
            if created:
                self.emit(protocol.ipc_channel(cid, self.channels.kinds[cid], target, None))
            flags = procfs.fd_flags(p.pid, fd)
            acc = (flags or 0) & 3
            end = "read" if acc == os.O_RDONLY else "write" if acc == os.O_WRONLY else "both"
            current[fd] = (cid, end)
        for fd, (cid, end) in p.ends.items():
            if current.get(fd) != (cid, end):
                self.emit(protocol.ipc_end(cid, p.pid, fd, end, "close"))
        for fd, (cid, end) in current.items():
            if p.ends.get(fd) != (cid, end):
                self.emit(protocol.ipc_end(cid, p.pid, fd, end, "open"))
        p.ends = current

    # ------------------------------------------------------------ endings

    def _exit(self, p: Proc, code: int | None, sig: str | None, core: bool) -> None:
        if p.exit_reported:
            return
        p.exit_reported = True
        self.emit(protocol.proc_exit(p.pid, code, sig, core))

    def exited(self, pid: int, status: int | None) -> None:
        """An exit known from a wait status (the supervisor's or the shim's)."""
        p = self.procs.get(pid)
        if p is None:
            return
        if status is None:
            self._exit(p, None, None, False)
        else:
            self._exit(p, *decode_status(status))

    def reaped(self, pid: int, by: int | None, call: str | None, status: int | None) -> None:
        p = self.procs.get(pid)
        if p is None or p.reaped:
            return
        if not p.exit_reported:
            self.exited(pid, status)
        if by == self.init_pid and p.ppid and p.ppid != self.init_pid:
            # A zombie whose parent died is adopted by init before init reaps it, faster than a sample.
            self.emit(protocol.proc_reparent(pid, p.ppid, by))
            p.ppid = by
        for fd, (cid, end) in p.ends.items():
            self.emit(protocol.ipc_end(cid, pid, fd, end, "close"))
        p.ends = {}
        for tid in list(p.threads):
            self.emit(protocol.proc_thread_exit(pid, tid))
        p.reaped = True
        p.alive = False
        self.total_cpu_ticks_dead += p.cpu_ticks
        self.emit(protocol.proc_reaped(pid, by, call, status))
        self._close(p)

    # A traced wait() reaches the supervisor a little after the pid leaves /proc: hold it this long.
    SETTLE_NS = 30_000_000
    WAIT_REPORT_NS = 2_000_000_000  # ... and this long when its parent is inside a traced wait

    def gone(self, pid: int) -> None:
        """/proc/PID vanished: reaped by someone. Settled as 'by its parent' unless a traced wait says more."""
        p = self.procs.get(pid)
        if p is None or p.reaped or p.vanished_at is not None:
            return
        p.vanished_at = time.monotonic_ns()
        p.alive = False

    def exiting(self, pid: int, code: int) -> None:
        """A shim saw the process on its way out with exit code `code` (_exit, exit, main's return)."""
        p = self.procs.get(pid)
        if p is not None:
            p.exit_hint = (code & 0xFF) << 8

    def settle(self, now_ns: int, force: bool = False) -> None:
        for p in list(self.procs.values()):
            if p.vanished_at is None or p.reaped:
                continue
            parent = self.procs.get(p.ppid)
            # A parent inside a traced wait reaped it: that wait's report, with the real status, is on its way
            # (a busy machine once delayed it past SETTLE_NS, and a SIGPIPE death was settled as unknown).
            hold = self.WAIT_REPORT_NS if parent is not None and parent.in_wait_since is not None else self.SETTLE_NS
            if force or now_ns - p.vanished_at > hold:
                # Gone without a zombie anyone saw (SIGCHLD ignored, or reaped inside system()): the status it
                # told a shim on its way out is the status then (only a signal in the instant between its report
                # and the syscall would make it wrong).
                self.reaped(p.pid, p.ppid if p.ppid else None, None, None if p.exit_reported else p.exit_hint)

    def _close(self, p: Proc) -> None:
        if p.files:
            p.files.close()
            p.files = None
        for t in p.threads.values():
            if t.files:
                t.files.close()
        p.threads.clear()

    def close(self) -> None:
        for p in self.procs.values():
            self._close(p)

    # ------------------------------------------------------------ aggregates

    def cpu_seconds(self) -> float:
        live = sum(p.cpu_ticks for p in self.procs.values() if p.alive)
        return (live + self.total_cpu_ticks_dead) / procfs.CLK_TCK

    def rss_bytes(self) -> int:
        return sum(p.rss_pages for p in self.procs.values() if p.alive) * procfs.PAGE

    def pss_bytes(self) -> int:
        """Proportional set size of the live processes (slower: walks their page tables)."""
        total = 0
        for p in self.procs.values():
            if not p.alive:
                continue
            total += procfs.pss_bytes(p.pid) or 0
        return total

    def task_count(self) -> int:
        return sum(1 + len(p.threads) for p in self.procs.values() if p.alive)
