"""One supervisor per run: forks the scenario, watches it, enforces limits, tears down.

Forked by the launcher. It is the run's subreaper, so orphans (even
double-forked daemons) are adopted by it and can be reaped with certainty.
It speaks NDJSON with the web process over one stream socket: the run spec
and commands come in, events go out.

Life cycle (an explicit state machine, see Phase):
PREPARING -> RUNNING -> (DRAINING: root gone, others left) -> TEARDOWN -> FINISHED
"""

from __future__ import annotations

import enum
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from . import cleanup, compile, linux, procfs, protocol, rootproc
from .limitwatch import LimitWatch
from .linux import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, prctl
from .native.lines import LineResolver
from .output import PIPE, OutputPipes
from .protocol import Command, Op, PaceMode, RunSpec, UserSignal
from .shimlink import ACCEPT, SHIM, ShimLink
from .tracker import Tracker, signal_name

NS_ERROR: str | None = None  # set by the launcher when the namespaces could not be made


class _RunFsCreds:
    """Sample /proc with the run's fs uid/gid: /proc/PID/{syscall,fd,mem} need ptrace access, which a
    root without CAP_SYS_PTRACE (a default docker run) has only for processes of its own fs uid.
    The run's processes are dumpable and descendants of the supervisor, so Yama allows it too."""

    def __init__(self, uid: int | None, gid: int | None) -> None:
        self.uid, self.gid = uid, gid
        self.libc = linux.libc() if uid is not None and os.geteuid() == 0 else None

    def __enter__(self) -> None:
        if self.libc is not None:
            self.libc.setfsgid(self.gid)
            self.libc.setfsuid(self.uid)

    def __exit__(self, *exc: object) -> None:
        if self.libc is not None:
            self.libc.setfsuid(0)
            self.libc.setfsgid(0)


def make_run_dirs(runtime: str, dirs: list[str], uid: int | None, gid: int | None) -> None:
    """Empty private directories of the run's uid under runtime/runs and runtime/ctl."""
    for d in (os.path.join(runtime, "runs"), os.path.join(runtime, "ctl")):
        os.makedirs(d, mode=0o711, exist_ok=True)
    for d in dirs:
        if os.path.lexists(d):
            cleanup.remove_tree_nofollow(d)
        os.mkdir(d, 0o700)
        if uid is not None:
            os.chown(d, uid, gid or uid)


def shim_listener(path: str, uid: int | None, gid: int | None) -> socket.socket:
    """The socket the run's shims connect to; only the run's uid may."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(256)
    listener.setblocking(False)
    if uid is not None:
        os.chown(path, uid, gid or uid)
    os.chmod(path, 0o600)
    return listener


CMD, WAKE = "cmd", "wake"  # the selector's tags of the web side's socket and of the signal wake-up pipe


class Phase(enum.Enum):
    PREPARING = "preparing"
    RUNNING = "running"
    DRAINING = "draining"
    TEARDOWN = "teardown"
    FINISHED = "finished"


class Supervisor:
    """One run, from its spec to its run.finished. Its parts own their state: the output pipes
    (`output`), the shims' connections and pace (`link`), the limits' watch (`watch`), the process
    model (`tracker`); the supervisor owns the life cycle, the pause, discovery and teardown."""

    def __init__(self, sock: socket.socket, spec: RunSpec, warm: rootproc.PreparedRoot | None = None) -> None:
        self.sock = sock
        self.warm = warm  # a warm spare's placeholder root, already forked and in its cgroup
        self.spec = spec
        self.run_id = spec.run_id
        self.limits = spec.limits
        self.uid, self.gid = spec.uid, spec.gid
        self.runtime = spec.runtime_dir
        self.run_dir = os.path.join(self.runtime, "runs", self.run_id)  # as the run sees it (see _show_home)
        self.host_run_dir = self.run_dir  # where it is in the supervisor's file system: removed at teardown
        self.ctl_dir = os.path.join(self.runtime, "ctl", self.run_id)
        self.shim_path = os.path.join(self.ctl_dir, "shim.sock")
        self.phase = Phase.PREPARING
        self.t0 = time.monotonic_ns()
        self.seq = spec.seq_base  # after the web process's own events (run.queued)
        self.out: list[bytes] = []
        self.sel = selectors.DefaultSelector()
        self.root_pid = -1
        self.root_status: int | None = None
        self.root_gone_at: int | None = None
        self.status: str | None = None
        self.reason: str | None = None
        self.limit_fired: str | None = None
        self.finish_outcome: dict[str, Any] | None = None  # run.finished's outcome when a phase set it
        self.paused_at: float | None = None
        self.paused_total = 0.0
        self.stopped_by_us: set[int] = set()
        self.last_scan = 0
        self.stat_events = 0
        self.inbuf = b""
        self.cg: Any = None
        self.foreign: set[int] = set()
        self.candidates: dict[int, tuple[int, int]] = {}  # pid -> (first seen ns, ppid), found by scanning
        self.own_pid = os.getpid()
        self.pid_ns = self.own_pid == 1
        self.run_fs = _RunFsCreds(self.uid, self.gid if self.gid is not None else self.uid)
        self.tracker = Tracker(self.own_pid, self.emit, run_dir=self.run_dir)
        self.lines = LineResolver(self.run_dir, self.uid, self.gid)
        if warm is not None and warm.compiler is not None:
            self.lines.helper_pids.add(warm.compiler.pid)  # a warm spare's compiler process: never the run's
        self.watch = LimitWatch(self.limits, self.tracker, self.run_dir, self.uid)
        self.output = OutputPipes(self.sel, self.limits, self.emit, lambda detail: self.fire_limit("output", detail))
        self.link = ShimLink(self.sel, self.tracker, self.output, self.lines, self.uid, self.run_dir, self.emit,
                             self.watch.hit)
        self._commands: dict[Op, Callable[[Command], None]] = {
            Op.STOP: self._stop, Op.SIGNAL: self._signal, Op.INTERRUPT: self._interrupt,
            Op.INPUT: lambda c: self.output.write_stdin(c.text), Op.EOF: lambda c: self.output.close_stdin(),
            Op.PACE: lambda c: self.pace(c.mode or PaceMode.NORMAL, c.delay_ms), Op.STEP: lambda c: self.link.step(),
        }
        # What to do with a ready fd, by its selector tag.
        self._ready: dict[str, Callable[[int], None]] = {
            PIPE: self._read_pipe, SHIM: self._read_shim, ACCEPT: lambda fd: self.link.accept(),
            CMD: lambda fd: self.read_cmd(), WAKE: self._woken}

    # ------------------------------------------------------------ events

    # Event fields that name a process: each must have had its proc.spawn before (see introduce()).
    _PID_FIELDS = ("pid", "ppid", "from", "to", "by", "result", "old_ppid", "new_ppid")
    # ... and those that may name one already gone (its parent, its reaper, the child a wait returned).
    _MAY_BE_GONE = ("ppid", "by", "result", "old_ppid", "new_ppid")

    def emit(self, ev: dict[str, Any], t: int | None = None) -> None:
        if not ev["type"].startswith("run.") and not self.introduce(ev):
            return
        at = t if t is not None else time.monotonic_ns()
        ev = {"v": protocol.EVENT_VERSION, "seq": self.seq, "t": max(0, at - self.t0), **ev}
        self.seq += 1
        if ev["type"] == "proc.state":
            self.stat_events += 1
        self.out.append(json.dumps(ev, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")

    def introduce(self, ev: dict[str, Any]) -> bool:
        """No event names a pid without a proc.spawn before it: a run process not yet known (found by
        nobody so far) is spawned first; an event naming a pid that is no process of the run is dropped."""
        for key in self._PID_FIELDS:
            v = ev.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or (key == "pid" and ev["type"] == "proc.spawn"):
                continue
            pid = abs(v)
            if pid in (0, self.own_pid) or pid in self.tracker.procs:
                continue
            if not self._adopt(pid, key in self._MAY_BE_GONE, ev.get("pid") if key == "result" else None):
                if key in self._MAY_BE_GONE:
                    ev[key] = None if key == "by" else 0  # unknown, rather than a pid never introduced
                else:
                    return False
        return True

    def _adopt(self, pid: int, may_be_gone: bool, parent: Any = None, depth: int = 0) -> bool:
        """Spawn pid as observed if it is (or, when may_be_gone, was) a process of this run."""
        if pid in self.lines.helper_pids or depth > 16:
            return False
        st = procfs.read_stat(pid)
        if st is not None:
            ppid = st.ppid
            try:
                ours = os.stat(f"/proc/{pid}").st_uid == self.uid if self.uid is not None else (
                    ppid in self.tracker.procs or ppid == self.own_pid)
            except OSError:
                ours = False
            if not ours:
                return False
            if ppid not in self.tracker.procs and ppid not in (0, self.own_pid):
                self._adopt(ppid, True, None, depth + 1)
        elif may_be_gone and isinstance(parent, int) and parent in self.tracker.procs:
            ppid = parent  # a child its parent just reaped: it was the parent's
        else:
            return False
        self.candidates.pop(pid, None)
        self.tracker.add(pid, ppid if ppid in self.tracker.procs or ppid == self.own_pid else 0, "observed")
        return True

    def flush(self) -> None:
        if not self.out:
            return
        data = b"".join(self.out)
        self.out.clear()
        try:
            self.sock.sendall(data)
        except OSError:
            # Nobody listens any more: stop the run rather than run unobserved.
            if self.phase in (Phase.RUNNING, Phase.DRAINING):
                self.finish("stopped", "the server went away")

    # ------------------------------------------------------------ preparation

    def prepare(self) -> None:
        compile.kill_unused_compiler(self)
        made = self.warm.dirs if self.warm is not None else None
        if made is not None and made.uid == self.uid:
            # A warm spare made both directories and the shim's listener under its own names.
            for old, new in ((made.run_dir, self.run_dir), (made.ctl_dir, self.ctl_dir)):
                if os.path.lexists(new):
                    cleanup.remove_tree_nofollow(new)
                os.rename(old, new)
            listener = made.listener
        else:
            if made is not None:  # made for another uid: not usable, not to be left behind either
                made.listener.close()
                for d in (made.run_dir, made.ctl_dir):
                    cleanup.remove_tree_nofollow(d)
            make_run_dirs(self.runtime, [self.run_dir, self.ctl_dir], self.uid, self.gid)
            listener = shim_listener(self.shim_path, self.uid, self.gid)
        self.link.listen(listener)
        for name, content in self.spec.files.items():
            if "/" in name or name.startswith(".") or not name:
                raise ValueError(f"bad file name {name!r}")
            path = os.path.join(self.run_dir, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
            if self.uid is not None:
                os.chown(path, self.uid, self.gid or self.uid)
        if self.pid_ns:
            self._show_home()
        if self.warm is not None and self.pid_ns and self.warm.tmp_mb != self.limits.files_mb:
            from . import namespaces

            try:  # the spare mounted its tmpfs before the run's files limit was known
                namespaces.resize_tmp([t for t in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(t)],
                                      max(1, self.limits.files_mb) << 20)
            except OSError as e:
                self.emit(protocol.run_error(f"could not resize /tmp: {e}"))
        if self.warm is not None and (self.warm.cg is not None or self.warm.cg_error):
            self.cg = self.warm.cg
            if self.warm.cg_error:
                self.emit(protocol.run_error(f"cgroup not used: {self.warm.cg_error}"))
            else:
                self.cg.set_limits(pids_max=self.limits.processes, memory_max=self.limits.memory_mb * 2**20,
                                   cpu_quota_pct=None)
        elif "cgroup" in self.spec.layers:
            from . import cgroup

            try:
                # Named after the uid too, so a launcher that claims the uid after a crash can sweep it.
                name = f"uid-{self.uid}-{self.run_id}" if self.uid is not None else f"run-{self.run_id}"
                self.cg = cgroup.RunCgroup.create(name, pids_max=self.limits.processes,
                                                  memory_max=self.limits.memory_mb * 2**20, cpu_quota_pct=None)
            except OSError as e:
                self.emit(protocol.run_error(f"cgroup not used: {e}"))
        self.watch.cg = self.cg
        self.sel.register(self.sock, selectors.EVENT_READ, CMD)
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(self.wake_r, selectors.EVENT_READ, WAKE)

    def _show_home(self) -> None:
        """In the run's own mount namespace its directory is /home/student (namespaces.home_for_run): the run,
        the tracker (fd paths) and the line resolver (exe paths) all see it there from now on."""
        from . import namespaces

        try:
            view = namespaces.home_for_run(self.host_run_dir, self.uid)
        except (OSError, RuntimeError) as e:
            self.emit(protocol.run_error(f"run directory not shown as a home: {e}"))
            return
        self.run_dir = self.watch.run_dir = self.link.run_dir = view
        self.tracker.run_dir = view
        self.lines.run_dir = view + os.sep

    def start_root(self) -> None:
        pace = self.spec.pace
        if pace is not None and pace.mode in (PaceMode.STEP, PaceMode.SLOW):
            # Known before the fork: the root's shim starts paced, so even its first traced call waits.
            self.link.mode = pace.mode
            if pace.delay_ms is not None:
                self.link.delay_ms = pace.delay_ms
        warm = self.warm
        if warm is not None and not self._placeholder_alive(warm.pid):
            warm.close_fds()
            warm = None  # it died while waiting (it never ran student code): fork a root the cold way
            self.emit(protocol.run_error("the warm root process was gone; started a new one"))
        if warm is not None:
            pid, stdin_w, out_r, err_r = warm.pid, warm.stdin_w, warm.out_r, warm.err_r
            self.tracker.hidden.update(f"pipe:[{ino}]" for ino in warm.inodes)
            setup = self.root_setup().encode()
            while setup:  # the placeholder is blocked reading: this cannot deadlock
                setup = setup[os.write(warm.go_w, setup):]
            os.close(warm.go_w)
        else:
            stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            for fd in (stdin_r, out_w, err_w):
                self.tracker.hidden.add(f"pipe:[{os.fstat(fd).st_ino}]")
            setup_obj = self.root_setup()

            def become_root() -> None:
                rootproc.prepare_root(self.cg, stdin_r, out_w, err_w)
                rootproc.finish_root(setup_obj)

            pid = rootproc.fork_child(become_root, "the scenario")
            os.close(stdin_r)
            os.close(out_w)
            os.close(err_w)
        self.root_pid = self.link.root_pid = pid
        os.set_blocking(stdin_w, False)
        self.output.stdin_w = stdin_w
        self.output.add(out_r, pid, "stdout")
        self.output.add(err_r, pid, "stderr")
        layers = [x for x in self.spec.layers
                  if (x != "namespaces" or self.pid_ns) and (x != "cgroup" or self.cg is not None)]
        self.emit(protocol.run_started(pid, os.getpid(), layers, self.limits.to_dict(), self.spec.lesson, self.pid_ns,
                                       self.uid, warm is not None, rootproc.run_nice(self.spec.nice, self.cg)),
                  t=self.t0)
        if NS_ERROR:
            self.emit(protocol.run_error(f"running without namespaces: {NS_ERROR}"))
        if self.spec.stdin:
            self.output.write_stdin(self.spec.stdin)  # given up front: in the recording as io.input, like typed input
        if self.spec.close_stdin:
            self.output.close_stdin()
        if self.link.mode is not PaceMode.NORMAL:
            self.emit(protocol.run_pace(self.link.mode, self.link.delay_ms))
        if pace is not None and pace.mode is PaceMode.PAUSED:
            self.pace(PaceMode.PAUSED, None)
        # Held until its hello, or until it runs the C program: set-up (cgroup, seccomp, gcc …) is not the lesson.
        self.tracker.add(pid, os.getpid(), "root", None, compile.root_name(self.spec.main),
                         held_exe=compile.held_until_exe(self.run_dir, self.spec.main), held=True)
        self.phase = Phase.RUNNING
        self.flush()

    def root_setup(self) -> rootproc.RootSetup:
        spec = self.spec
        return rootproc.RootSetup(
            main=spec.main, run_dir=self.run_dir, limits=self.limits.to_dict(), uid=self.uid, gid=self.gid,
            layers=list(spec.layers), ro_paths=list(spec.ro_paths), bin_dir=spec.bin_dir, shim_dir=spec.shim_dir,
            shim_path=self.shim_path, pace=self.link.mode.value, stdio=spec.stdio.value,
            nice=rootproc.run_nice(spec.nice, self.cg), cgroup=self.cg is not None)

    @staticmethod
    def _placeholder_alive(pid: int) -> bool:
        try:
            return os.waitpid(pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    # ------------------------------------------------------------ commands from the web

    def read_cmd(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(self.sock)
            if self.phase in (Phase.RUNNING, Phase.DRAINING):
                self.finish("stopped", "the server went away")
            return
        self.inbuf += data
        self.drain_commands()

    def drain_commands(self) -> None:
        while b"\n" in self.inbuf:
            line, self.inbuf = self.inbuf.split(b"\n", 1)
            try:
                cmd = protocol.parse_command(json.loads(line))
            except ValueError:
                continue
            if cmd is not None:
                self._commands[cmd.op](cmd)

    def _stop(self, cmd: Command) -> None:
        if self.phase in (Phase.RUNNING, Phase.DRAINING):
            self.finish("stopped", "stopped by the user")

    def _signal(self, cmd: Command) -> None:
        p = self.tracker.procs.get(cmd.pid) if cmd.pid is not None else None
        if p is None or not p.alive or cmd.signal is None:
            return
        self.emit(protocol.signal_sent(None, p.pid, cmd.signal.value, None))
        try:
            os.kill(p.pid, signal.Signals[cmd.signal.value])
        except OSError:
            pass

    def _interrupt(self, cmd: Command) -> None:
        """Ctrl+C: SIGINT to the foreground process group."""
        self.emit(protocol.signal_sent(None, -self.root_pid, UserSignal.SIGINT.value, None))
        try:
            os.killpg(self.root_pid, signal.SIGINT)
        except OSError:
            pass

    def pace(self, mode: PaceMode, delay_ms: int | None) -> None:
        if mode is PaceMode.PAUSED:
            if delay_ms is not None:
                self.link.delay_ms = delay_ms
            if self.paused_at is None:
                self.paused_at = time.monotonic()
                for p in self.tracker.alive():
                    if p.stat not in ("T", "t", "Z"):
                        try:
                            os.kill(p.pid, signal.SIGSTOP)
                            self.stopped_by_us.add(p.pid)
                        except OSError:
                            pass
        else:
            if self.paused_at is not None:
                self.paused_total += time.monotonic() - self.paused_at
                self.paused_at = None
                for pid in self.stopped_by_us:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except OSError:
                        pass
                self.stopped_by_us.clear()
            self.link.set_mode(mode, delay_ms)
        self.emit(protocol.run_pace(mode, self.link.delay_ms))

    # ------------------------------------------------------------ children and discovery

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            if pid in self.lines.helper_pids:
                self.lines.helper_pids.discard(pid)
                continue
            if pid == self.root_pid:
                self.root_status = status
                self.root_gone_at = time.monotonic_ns()
            if pid not in self.tracker.procs:
                self.tracker.add(pid, os.getpid(), "observed")
            self.tracker.reaped(pid, os.getpid(), "wait" if pid == self.root_pid else "init", status)

    CANDIDATE_NS = 20_000_000
    # A child of a traced fork/vfork still in progress says hello itself (at its fork or exec): wait longer.
    VFORK_NS = 500_000_000
    MAX_EVENTS = 200_000  # a run that floods the shim socket is cut off like one that floods its output

    def discover(self) -> None:
        """Find processes no hook reported (forks from C code, e.g. os.system).

        A pid found by scanning is held briefly: the shim's report of the same fork (with its source line)
        is usually in flight, and the spawn should say how it really happened.
        """
        now = time.monotonic_ns()
        for pid, (seen, ppid) in list(self.candidates.items()):
            if pid in self.tracker.procs:
                del self.candidates[pid]
            elif now - seen > (self.VFORK_NS if self.link.fork_in_progress(ppid) else self.CANDIDATE_NS):
                del self.candidates[pid]
                if os.path.exists(f"/proc/{pid}"):
                    self.tracker.add(pid, ppid, "observed")
        known = self.tracker.procs
        alive_pids = {p.pid for p in self.tracker.alive()}
        try:
            pids = procfs.all_pids()
        except OSError:
            return
        current = set(pids)
        self.foreign &= current
        for pid in pids:
            if pid in known or pid in self.foreign or pid in self.candidates or pid in self.lines.helper_pids:
                continue
            if self.uid is not None:
                try:
                    if os.stat(f"/proc/{pid}").st_uid != self.uid:
                        self.foreign.add(pid)
                        continue
                except OSError:
                    continue
                st = procfs.read_stat(pid)
                self.candidates[pid] = (now, st.ppid if st is not None else 0)
            else:
                st = procfs.read_stat(pid)
                if st is None:
                    continue
                if st.ppid in alive_pids or st.ppid == os.getpid():
                    self.candidates[pid] = (now, st.ppid)
                    alive_pids.add(pid)
                else:
                    self.foreign.add(pid)

    # ------------------------------------------------------------ limits

    def elapsed(self) -> float:
        paused = self.paused_total + (time.monotonic() - self.paused_at if self.paused_at else 0.0)
        return (time.monotonic_ns() - self.t0) / 1e9 - paused

    def check_limits(self) -> None:
        if self.seq > self.MAX_EVENTS:
            self.fire_limit("output", f"more than {self.MAX_EVENTS} events")
            return
        if self.paused_at is not None and time.monotonic() - self.paused_at > 600:
            self.pace(PaceMode.NORMAL, None)
        if self.elapsed() > self.limits.wall_s:
            self.fire_limit("wall", f"{self.limits.wall_s:g} s of wall-clock time")
            return
        leftover_for = None
        if self.phase == Phase.DRAINING and self.root_gone_at is not None:
            leftover_for = (time.monotonic_ns() - self.root_gone_at) / 1e9
        hit = self.watch.check(leftover_for)
        if hit is not None:
            limit, detail, extra = hit
            self.fire_limit(limit, detail, **extra)

    def fire_limit(self, limit: str, detail: str, **extra: Any) -> None:
        if self.phase not in (Phase.RUNNING, Phase.DRAINING) or self.limit_fired:
            return
        self.limit_fired = limit
        self.emit(protocol.run_limit(limit, detail, self.limits.params(limit, **extra)))
        self.finish("limit", detail)

    def finish(self, status: str, reason: str | None) -> None:
        if self.phase in (Phase.TEARDOWN, Phase.FINISHED):
            return
        self.status = status
        self.reason = reason
        self.phase = Phase.TEARDOWN

    # ------------------------------------------------------------ main loop

    def interval(self) -> float:
        """Sampling period: fast for the small runs of most lessons (short states are seen), slower as a
        run grows so that the sampler's cost stays bounded (docs/benchmarks.md has the figures)."""
        n = len(self.tracker.alive())
        if n <= 4:
            return 0.0025
        return 0.005 if n <= 16 else min(0.05, 0.0003 * n)

    def _read_pipe(self, fd: int) -> None:
        if fd in self.output:
            self.output.read(fd)

    def _read_shim(self, fd: int) -> None:
        if fd in self.link.conns:
            self.link.read_shim(fd)

    def _woken(self, fd: int) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except OSError:
            pass
        self.reap()

    def loop(self) -> None:
        next_sample = 0.0
        while self.phase in (Phase.RUNNING, Phase.DRAINING):
            timeout = max(0.0, next_sample - time.monotonic())
            if self.link.pending_go:
                timeout = min(timeout, 0.01)
            for key, _ in self.sel.select(timeout):
                self._ready[key.data](key.fd)
            self.output.refill()
            self.link.release_due()
            now = time.monotonic()
            if now >= next_sample and self.paused_at is None:
                self.reap()
                now_ns = time.monotonic_ns()
                if now_ns - self.last_scan > 10_000_000:
                    self.last_scan = now_ns
                    self.discover()
                with self.run_fs:
                    self.link.confirm_execs()
                    self.tracker.sweep(now_ns)
                next_sample = now + self.interval()
                if self.root_gone_at is not None and self.phase == Phase.RUNNING:
                    self.phase = Phase.DRAINING
                    self.watch.look_now()
                    self.discover()  # a child forked from C just before the end must not be missed
                self.check_limits()  # before declaring the end: a limit passed at the last moment still counts
                if self.phase == Phase.DRAINING and not self.tracker.alive() and not self.candidates:
                    self.finish("ok", None)
            elif self.paused_at is not None:
                self.reap()
                self.check_limits()
                next_sample = now + 0.05
            self.flush()

    # ------------------------------------------------------------ teardown

    def run_pids(self) -> set[int]:
        pids = {p.pid for p in self.tracker.alive()}
        if self.uid is not None:
            pids |= set(cleanup.list_uid_pids(self.uid))
        pids.discard(os.getpid())
        return pids

    def teardown(self) -> list[str]:
        """SIGCONT+SIGTERM, a short grace, then SIGKILL until nothing of the run is left; then remove files."""
        self.lines.close()
        self.link.release_all()
        if self.cg is not None and self.status != "ok":
            self.cg.kill()  # frozen or cgroup.kill: nothing can fork away during the kill
        pids = self.run_pids()
        if pids:
            for pid in pids:
                for sig in (signal.SIGCONT, signal.SIGTERM):
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
            self._wait_gone(0.3)
        deadline = time.monotonic() + 5.0
        while self.run_pids() and time.monotonic() < deadline:
            if self.uid is not None:
                cleanup.kill_uid(self.uid, signal.SIGKILL)
            for pid in self.run_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self._wait_gone(0.2)
        self.reap()
        self.tracker.sweep(time.monotonic_ns(), want_fds=False)
        for p in self.tracker.alive():
            self.tracker.gone(p.pid)
        self.tracker.settle(time.monotonic_ns(), force=True)
        self.link.drain_shim()
        self.output.drain()
        self.output.close_stdin()
        self.link.close()
        for d in (self.host_run_dir, self.ctl_dir):
            try:
                cleanup.remove_tree_nofollow(d)
            except OSError:
                pass
        left: list[str] = []
        if self.cg is not None:
            self.cg.kill()
            if not self.cg.remove():
                left.append(f"cgroup {self.cg.name}")
        if self.uid is not None:
            cleanup.sweep_uid_files(self.uid)
            cleanup.remove_sysv_ipc(self.uid)
            return left + cleanup.leftovers(self.uid, [self.host_run_dir, self.ctl_dir])
        return [d for d in (self.host_run_dir, self.ctl_dir) if os.path.lexists(d)]

    def _wait_gone(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.reap()
            if not self.run_pids():
                return
            # Keep reading output so writers blocked on a full pipe can die.
            for key, _ in self.sel.select(0.01):
                if key.data == PIPE:
                    self._read_pipe(key.fd)
                elif key.data == SHIM:
                    self._read_shim(key.fd)
            self.flush()

    def outcome(self, status: str, code: int | None, sig: str | None, reason: str | None) -> dict[str, Any]:
        """How the run ended, as a code and its parameters (the UI's words: `outcome.<code>` in static/i18n/)."""
        if status == "ok":
            # `code` names the outcome, so the exit status travels as `exit_code` (also run.finished's `code`).
            return {"code": "signal", "signal": sig} if sig else {"code": "exit", "exit_code": code}
        if status == "limit" and self.limit_fired:
            return {"code": "limit", "limit": self.limit_fired}
        if status == "stopped":
            return {"code": "stopped"}
        if self.finish_outcome is not None:  # a phase (the C compile) said how the run ended
            return self.finish_outcome
        return {"code": "failed", "detail": reason or ""}

    def finish_event(self, leftovers: list[str]) -> None:
        status = self.status or "ok"
        reason = self.reason
        if leftovers:
            self.emit(protocol.run_error("teardown left: " + "; ".join(leftovers[:10])))
            status, reason = "error", "teardown left processes or files behind"
        if self.output.dropped_bytes:
            self.emit(protocol.io_truncated(self.output.dropped_bytes))
        code = None
        sig = None
        if self.root_status is not None:
            if os.WIFEXITED(self.root_status):
                code = os.WEXITSTATUS(self.root_status)
            elif os.WIFSIGNALED(self.root_status):
                sig = signal_name(os.WTERMSIG(self.root_status))
        outcome = self.outcome(status, code, sig, reason)
        duration = int((time.monotonic_ns() - self.t0) / 1e6)
        stats = {"processes": len(self.tracker.procs), "threads": self.tracker.max_threads,
                 "events": self.seq + 1, "cpu_ms": int(self.tracker.cpu_seconds() * 1000),
                 "max_rss_kb": self.watch.max_rss // 1024, "output_bytes": self.output.output_bytes,
                 "max_alive": self.tracker.max_alive}
        self.emit(protocol.run_finished(status, code, reason, duration, stats, outcome))
        self.phase = Phase.FINISHED
        self.flush()


def become_supervisor() -> None:
    """What every supervisor process does first, warm spare or not."""
    os.setsid()
    if os.getpid() != 1:  # PID 1 of the run's namespaces is `init` already (launcher._plain_init)
        rootproc._set_cmdline(["proclab-run"], trim=False)  # what the run's `ps aux` shows of it
        rootproc._set_comm(b"proclab-run")
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 5)  # the web process (nice 0) must stay responsive under load
    except OSError:
        pass
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(sock: socket.socket) -> None:
    """Entry point in the freshly forked supervisor process. Never returns."""
    failed: BaseException | None = None
    try:
        become_supervisor()
    except BaseException as e:
        failed = e
    serve(sock, failed=failed)


def serve(sock: socket.socket, warm: rootproc.PreparedRoot | None = None, failed: BaseException | None = None) -> None:
    """Read the run's spec from sock, run it to the end, tear down. Never returns."""
    code = 0
    sup: Supervisor | None = None
    try:
        if failed is not None:
            raise failed
        sock.setblocking(True)
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(1 << 20)
            if not chunk:
                os._exit(0)
            buf += chunk
            if len(buf) > 16 << 20:
                raise ValueError("run spec too large")
        line, rest = buf.split(b"\n", 1)
        sup = Supervisor(sock, RunSpec.from_json(line), warm)
        sup.inbuf = rest
        sup.prepare()
        if compile.phase(sup):  # False: a C program did not compile (the run is finished there)
            sup.start_root()
            sup.drain_commands()  # commands that came in the same read as the spec
            sup.loop()
        leftovers = sup.teardown()
        sup.finish_event(leftovers)
    except BaseException as e:  # the sandbox itself failed: say so, clean up, never hang the web side
        code = 1
        try:
            detail = f"{type(e).__name__}: {e}"
            if sup is not None:
                sup.emit(protocol.run_error(detail))
                if sup.phase not in (Phase.FINISHED,):
                    try:
                        sup.teardown()
                    except BaseException:
                        pass
                    sup.status, sup.reason = "error", detail
                    sup.finish_event([])
            else:
                if warm is not None and warm.cg is not None:
                    warm.cg.kill()
                    warm.cg.remove()
                ev = {"v": protocol.EVENT_VERSION, "seq": 0, "t": 0,
                      **protocol.run_finished("error", None, detail, 0, {}, {"code": "start_failed", "detail": detail})}
                sock.sendall(json.dumps(ev).encode() + b"\n")
        except BaseException:
            pass
        try:
            import traceback

            traceback.print_exc(file=sys.stderr)
        except BaseException:
            pass
    finally:
        try:
            sock.close()
        except OSError:
            pass
        os._exit(code)

