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
import stat
import sys
import time
from typing import Any

from . import cleanup, compile, procfs, rootproc
from .limits import Limits
from .native.lines import LineResolver
from .output import OutputMixin
from .rootproc import prctl
from .shimlink import ShimMixin
from .tracker import Tracker, signal_name

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

_SIGNALS_FOR_USER = {"SIGINT", "SIGTERM", "SIGKILL", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2", "SIGHUP",
                     "SIGQUIT", "SIGALRM", "SIGCHLD", "SIGPIPE", "SIGTSTP"}


NS_ERROR: str | None = None  # set by the launcher when the namespaces could not be made


def _bytes_under(top: str, recursive: bool, uid: int | None = None) -> int:
    """Bytes allocated to the files under top (never following a link); only uid's files when given."""
    total = 0
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        if recursive:
                            stack.append(e.path)
                    elif uid is None or st.st_uid == uid:
                        total += st.st_blocks * 512
        except OSError:
            continue
    return total


class _RunFsCreds:
    """Sample /proc with the run's fs uid/gid: /proc/PID/{syscall,fd,mem} need ptrace access, which a
    root without CAP_SYS_PTRACE (a default docker run) has only for processes of its own fs uid.
    The run's processes are dumpable and descendants of the supervisor, so Yama allows it too."""

    def __init__(self, uid: int | None, gid: int | None) -> None:
        self.uid, self.gid = uid, gid
        self.libc = rootproc.libc() if uid is not None and os.geteuid() == 0 else None

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


class Phase(enum.Enum):
    PREPARING = "preparing"
    RUNNING = "running"
    DRAINING = "draining"
    TEARDOWN = "teardown"
    FINISHED = "finished"


class Supervisor(OutputMixin, ShimMixin):
    def __init__(self, sock: socket.socket, spec: dict[str, Any], warm: rootproc.PreparedRoot | None = None) -> None:
        self.sock = sock
        self.warm = warm  # a warm spare's placeholder root, already forked and in its cgroup
        self.spec = spec
        self.run_id: str = spec["run_id"]
        self.limits = Limits.from_dict(spec.get("limits", {}))
        self.uid: int | None = spec.get("uid")
        self.gid: int | None = spec.get("gid", self.uid)
        self.runtime = spec["runtime_dir"]
        self.run_dir = os.path.join(self.runtime, "runs", self.run_id)  # as the run sees it (see _show_home)
        self.host_run_dir = self.run_dir  # where it is in the supervisor's file system: removed at teardown
        self.ctl_dir = os.path.join(self.runtime, "ctl", self.run_id)
        self.shim_path = os.path.join(self.ctl_dir, "shim.sock")
        self.phase = Phase.PREPARING
        self.t0 = time.monotonic_ns()
        self.seq = int(spec.get("seq_base", 0))  # after the web process's own events (run.queued)
        self.out: list[bytes] = []
        self.sel = selectors.DefaultSelector()
        self.pipes: dict[int, tuple[int, str, Any]] = {}  # fd -> (pid, stream, decoder)
        self.conns: dict[int, tuple[socket.socket, int]] = {}  # fd -> (conn, pid)
        self.root_pid = -1
        self.root_status: int | None = None
        self.root_gone_at: int | None = None
        self.status: str | None = None
        self.reason: str | None = None
        self.limit_fired: str | None = None
        self.output_bytes = 0
        self.dropped_bytes = 0
        self.tokens = float(self.limits.output_rate_kbps * 1024)
        self.last_refill = time.monotonic()
        self.throttled: set[int] = set()
        self.mode = "normal"
        self.delay_ms = 300
        self.pending_go: list[tuple[socket.socket, float]] = []
        self.paused_at: float | None = None
        self.paused_total = 0.0
        self.stopped_by_us: set[int] = set()
        self.pending_exec: dict[int, dict[str, Any]] = {}
        self.stdin_w: int | None = None
        self.limit_hits: dict[str, str] = {}
        self.last_scan = 0
        self.last_files = 0.0
        self.stat_events = 0
        self.max_rss = 0
        self.inbuf = b""
        self.tracker = Tracker(os.getpid(), self.emit, run_dir=self.run_dir)
        self.pid_ns = os.getpid() == 1
        self.run_fs = _RunFsCreds(self.uid, self.gid if self.gid is not None else self.uid)
        self.cg: Any = None
        self.foreign: set[int] = set()
        self.last_pss = 0.0
        self.last_cg = 0.0
        self.cg_cpu = 0.0
        self.candidates: dict[int, tuple[int, int]] = {}  # pid -> (first seen ns, ppid), found by scanning
        self.finish_outcome: dict[str, Any] | None = None  # run.finished's outcome when a phase set it
        self.lines = LineResolver(self.run_dir, self.uid, self.gid)
        if warm is not None and warm.compiler is not None:
            self.lines.helper_pids.add(warm.compiler.pid)  # a warm spare's compiler process: never the run's
        self.native_exe: dict[int, str] = {}
        self.native_execd: set[int] = set()
        self.exec_confirmed: set[int] = set()
        self.fork_begin: dict[int, tuple[str, Any]] = {}
        self.own_pid = os.getpid()

    # ------------------------------------------------------------ events

    # Event fields that name a process: each must have had its proc.spawn before (see introduce()).
    _PID_FIELDS = ("pid", "ppid", "from", "to", "by", "result", "old_ppid", "new_ppid")
    # ... and those that may name one already gone (its parent, its reaper, the child a wait returned).
    _MAY_BE_GONE = ("ppid", "by", "result", "old_ppid", "new_ppid")

    def emit(self, ev: dict[str, Any], t: int | None = None) -> None:
        if not ev["type"].startswith("run.") and not self.introduce(ev):
            return
        ev = {"v": 1, "seq": self.seq, "t": max(0, (t if t is not None else time.monotonic_ns()) - self.t0), **ev}
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
        stat_text = procfs.read_text(f"/proc/{pid}/stat", 1024)
        if stat_text:
            ppid = procfs.parse_stat(stat_text.encode()).ppid
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
            self.listener = made.listener
        else:
            if made is not None:  # made for another uid: not usable, not to be left behind either
                made.listener.close()
                for d in (made.run_dir, made.ctl_dir):
                    cleanup.remove_tree_nofollow(d)
            make_run_dirs(self.runtime, [self.run_dir, self.ctl_dir], self.uid, self.gid)
            self.listener = shim_listener(self.shim_path, self.uid, self.gid)
        for name, content in self.spec.get("files", {}).items():
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
                self.emit({"type": "run.error", "detail": f"could not resize /tmp: {e}"})
        if self.warm is not None and (self.warm.cg is not None or self.warm.cg_error):
            self.cg = self.warm.cg
            if self.warm.cg_error:
                self.emit({"type": "run.error", "detail": f"cgroup not used: {self.warm.cg_error}"})
            else:
                self.cg.set_limits(pids_max=self.limits.processes, memory_max=self.limits.memory_mb * 2**20,
                                   cpu_quota_pct=None)
        elif "cgroup" in self.spec.get("layers", []):
            from . import cgroup

            try:
                # Named after the uid too, so a launcher that claims the uid after a crash can sweep it.
                name = f"uid-{self.uid}-{self.run_id}" if self.uid is not None else f"run-{self.run_id}"
                self.cg = cgroup.RunCgroup.create(name, pids_max=self.limits.processes,
                                                  memory_max=self.limits.memory_mb * 2**20, cpu_quota_pct=None)
            except OSError as e:
                self.emit({"type": "run.error", "detail": f"cgroup not used: {e}"})
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.sock, selectors.EVENT_READ, "cmd")
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")

    def _show_home(self) -> None:
        """In the run's own mount namespace its directory is /home/student (namespaces.home_for_run): the run,
        the tracker (fd paths) and the line resolver (exe paths) all see it there from now on."""
        from . import namespaces

        try:
            view = namespaces.home_for_run(self.host_run_dir, self.uid)
        except (OSError, RuntimeError) as e:
            self.emit({"type": "run.error", "detail": f"run directory not shown as a home: {e}"})
            return
        self.run_dir = view
        self.tracker.run_dir = view
        self.lines.run_dir = view + os.sep

    def start_root(self) -> None:
        pace = self.spec.get("pace") or {}
        if pace.get("mode") in ("step", "slow"):
            # Known before the fork: the root's shim starts paced, so even its first traced call waits.
            self.mode = pace["mode"]
            if isinstance(pace.get("delay_ms"), int) and 0 <= pace["delay_ms"] <= 10_000:
                self.delay_ms = pace["delay_ms"]
        warm = self.warm
        if warm is not None and not self._placeholder_alive(warm.pid):
            warm.close_fds()
            warm = None  # it died while waiting (it never ran student code): fork a root the cold way
            self.emit({"type": "run.error", "detail": "the warm root process was gone; started a new one"})
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
            pid = os.fork()
            if pid == 0:
                try:
                    rootproc.prepare_root(self.cg, stdin_r, out_w, err_w)
                    rootproc.finish_root(setup_obj)
                except BaseException as e:  # setup failed: say so on the pipe the supervisor reads
                    try:
                        os.write(2, f"proclab: could not start the scenario: {e}\n".encode())
                    except OSError:
                        pass
                os._exit(127)
            os.close(stdin_r)
            os.close(out_w)
            os.close(err_w)
        self.root_pid = pid
        os.set_blocking(stdin_w, False)
        self.stdin_w = stdin_w
        self.add_pipe(out_r, pid, "stdout")
        self.add_pipe(err_r, pid, "stderr")
        layers = [x for x in self.spec.get("layers", [])
                  if (x != "namespaces" or self.pid_ns) and (x != "cgroup" or self.cg is not None)]
        self.emit({"type": "run.started", "root_pid": pid, "init_pid": os.getpid(), "layers": layers,
                   "limits": self.limits.to_dict(), "lesson": self.spec.get("lesson"), "pid_ns": self.pid_ns,
                   "uid": self.uid, "warm": warm is not None,
                   "nice": rootproc.run_nice(int(self.spec.get("nice", 10)), self.cg)}, t=self.t0)
        if NS_ERROR:
            self.emit({"type": "run.error", "detail": f"running without namespaces: {NS_ERROR}"})
        stdin_text = self.spec.get("stdin")
        if stdin_text:
            self.write_stdin(stdin_text)  # given up front: in the recording as io.input, like typed input
        if self.spec.get("stdin_eof", bool(stdin_text)):
            self.close_stdin()
        if self.mode != "normal":
            self.emit({"type": "run.pace", "mode": self.mode, "delay_ms": self.delay_ms})
        if (self.spec.get("pace") or {}).get("mode") == "paused":
            self.pace("paused", None)
        root = self.tracker.add(pid, os.getpid(), "root", None, compile.root_name(self.spec.get("main", "")))
        if root is not None:
            root.hold = True  # released by its hello: set-up (cgroup, seccomp …) is not the lesson
            root.hold_exe = compile.held_until_exe(self.run_dir, self.spec.get("main", ""))  # or by its exec
        self.phase = Phase.RUNNING
        self.flush()

    def root_setup(self) -> rootproc.RootSetup:
        return rootproc.RootSetup(
            main=self.spec.get("main", "main.py"), run_dir=self.run_dir, limits=self.limits.to_dict(),
            uid=self.uid, gid=self.gid, layers=list(self.spec.get("layers", [])),
            ro_paths=list(self.spec.get("ro_paths", [])), bin_dir=self.spec["bin_dir"],
            shim_dir=self.spec["shim_dir"], shim_path=self.shim_path, pace=self.mode,
            stdio=str(self.spec.get("stdio") or "terminal"),
            nice=rootproc.run_nice(int(self.spec.get("nice", 10)), self.cg), cgroup=self.cg is not None)

    @staticmethod
    def _placeholder_alive(pid: int) -> bool:
        try:
            return os.waitpid(pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    # ------------------------------------------------------------ output

    # ------------------------------------------------------------ shim

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
                cmd = json.loads(line)
            except ValueError:
                continue
            if isinstance(cmd, dict):
                self.command(cmd)

    def command(self, cmd: dict[str, Any]) -> None:
        op = cmd.get("cmd")
        if op == "stop":
            if self.phase in (Phase.RUNNING, Phase.DRAINING):
                self.finish("stopped", "stopped by the user")
        elif op == "signal":
            name = str(cmd.get("signal", ""))
            pid = cmd.get("pid")
            if name not in _SIGNALS_FOR_USER or not isinstance(pid, int):
                return
            p = self.tracker.procs.get(pid)
            if p is None or not p.alive:
                return
            self.emit({"type": "signal.sent", "from": None, "to": pid, "signal": name, "line": None})
            try:
                os.kill(pid, signal.Signals[name])
            except OSError:
                pass
        elif op == "interrupt":  # Ctrl+C: SIGINT to the foreground process group
            self.emit({"type": "signal.sent", "from": None, "to": -self.root_pid, "signal": "SIGINT", "line": None})
            try:
                os.killpg(self.root_pid, signal.SIGINT)
            except OSError:
                pass
        elif op == "input":
            self.write_stdin(str(cmd.get("text", "")))
        elif op == "eof":
            self.close_stdin()
        elif op == "pace":
            self.pace(str(cmd.get("mode", "normal")), cmd.get("delay_ms"))
        elif op == "step":
            if self.pending_go:
                conn, _ = self.pending_go.pop(0)
                self._go(conn)

    def pace(self, mode: str, delay_ms: Any) -> None:
        if mode not in ("normal", "paused", "step", "slow"):
            return
        if isinstance(delay_ms, int) and 0 <= delay_ms <= 10_000:
            self.delay_ms = delay_ms
        if mode == "paused":
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
            self.mode = mode
            for conn, _pid in list(self.conns.values()):
                self._send_mode(conn)
            if mode == "normal":
                for conn, _ in self.pending_go:
                    self._go(conn)
                self.pending_go.clear()
        self.emit({"type": "run.pace", "mode": mode, "delay_ms": self.delay_ms})

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
            elif now - seen > (self.VFORK_NS if ppid in self.fork_begin else self.CANDIDATE_NS):
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
                text = procfs.read_text(f"/proc/{pid}/stat", 1024)
                ppid = procfs.parse_stat(text.encode()).ppid if text else 0
                self.candidates[pid] = (now, ppid)
            else:
                text = procfs.read_text(f"/proc/{pid}/stat", 1024)
                if not text:
                    continue
                st = procfs.parse_stat(text.encode())
                if st.ppid in alive_pids or st.ppid == os.getpid():
                    self.candidates[pid] = (now, st.ppid)
                    alive_pids.add(pid)
                else:
                    self.foreign.add(pid)

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
            self.emit({"type": "proc.exec", "pid": pid, "argv": pend["argv"], "line": pend.get("line")})

    # ------------------------------------------------------------ limits

    def elapsed(self) -> float:
        paused = self.paused_total + (time.monotonic() - self.paused_at if self.paused_at else 0.0)
        return (time.monotonic_ns() - self.t0) / 1e9 - paused

    def files_bytes(self) -> int:
        """Disk used by the run: its directory tree, and its uid's files in the shared temporary dirs."""
        total = _bytes_under(self.run_dir, recursive=True)
        if self.uid is not None:
            total += sum(_bytes_under(d, recursive=False, uid=self.uid) for d in ("/tmp", "/var/tmp", "/dev/shm"))
        return total

    def check_limits(self) -> None:
        lim = self.limits
        now_mono = time.monotonic()
        if self.seq > self.MAX_EVENTS:
            self.fire_limit("output", f"more than {self.MAX_EVENTS} events")
            return
        if self.paused_at is not None and time.monotonic() - self.paused_at > 600:
            self.pace("normal", None)
        if self.elapsed() > lim.wall_s:
            self.fire_limit("wall", f"{lim.wall_s:g} s of wall-clock time")
            return
        if self.cg is not None and now_mono - self.last_cg >= 0.1:
            # Three cgroup files cost ~20 syscalls: every 100 ms is plenty for limits measured in seconds.
            self.last_cg = now_mono
            self.cg_cpu = self.cg.cpu_ns() / 1e9
            if self.cg.oom_killed():
                self.limit_hits.setdefault("memory", "the kernel's out-of-memory killer stopped a process")
            if self.cg.pids_limit_hits() > 0:
                self.limit_hits.setdefault("processes", "fork() or a new thread failed at the process limit")
        cpu = self.cg_cpu if self.cg is not None else self.tracker.cpu_seconds()
        if cpu > lim.cpu_s:
            self.fire_limit("cpu", f"{lim.cpu_s:g} s of CPU time")
            return
        rss = self.tracker.rss_bytes()
        if rss > lim.memory_mb * 2**20 and now_mono - self.last_pss > 0.1:
            # RSS counts a page shared after fork once per process; PSS shares it out fairly.
            self.last_pss = now_mono
            rss = self.tracker.pss_bytes()
        elif rss > lim.memory_mb * 2**20:
            rss = 0
        self.max_rss = max(self.max_rss, rss)
        if rss > lim.memory_mb * 2**20 or "memory" in self.limit_hits:
            self.fire_limit("memory", self.limit_hits.get("memory") or f"{rss >> 20} MiB resident")
            return
        if "processes" in self.limit_hits or self.tracker.task_count() >= lim.processes:
            self.fire_limit("processes", self.limit_hits.get("processes")
                            or f"{self.tracker.task_count()} processes and threads")
            return
        now = time.monotonic()
        if now - self.last_files > 0.25:
            self.last_files = now
            used = self.files_bytes()
            if used > lim.files_mb * 2**20:
                self.fire_limit("files", f"{used >> 20} MiB of files")
                return
        if self.phase == Phase.DRAINING and self.root_gone_at is not None:
            left = self.tracker.alive()
            if (time.monotonic_ns() - self.root_gone_at) / 1e9 > lim.leftover_s and left:
                self.fire_limit("leftover", f"{len(left)} process(es) still running", count=len(left))

    def fire_limit(self, limit: str, detail: str, **extra: Any) -> None:
        if self.phase not in (Phase.RUNNING, Phase.DRAINING) or self.limit_fired:
            return
        self.limit_fired = limit
        self.emit({"type": "run.limit", "limit": limit, "detail": detail,
                   "params": self.limits.params(limit, **extra)})
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

    def loop(self) -> None:
        next_sample = 0.0
        while self.phase in (Phase.RUNNING, Phase.DRAINING):
            timeout = max(0.0, next_sample - time.monotonic())
            if self.pending_go:
                timeout = min(timeout, 0.01)
            for key, _ in self.sel.select(timeout):
                what = key.data
                if what == "pipe":
                    if key.fd in self.pipes:
                        self.read_pipe(key.fd)
                elif what == "shim":
                    if key.fd in self.conns:
                        self.read_shim(key.fd)
                elif what == "accept":
                    self.accept()
                elif what == "cmd":
                    self.read_cmd()
                elif what == "wake":
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except OSError:
                        pass
                    self.reap()
            self.refill()
            self.release_due()
            now = time.monotonic()
            if now >= next_sample and self.paused_at is None:
                self.reap()
                now_ns = time.monotonic_ns()
                if now_ns - self.last_scan > 10_000_000:
                    self.last_scan = now_ns
                    self.discover()
                with self.run_fs:
                    self.confirm_execs()
                    self.tracker.sweep(now_ns)
                next_sample = now + self.interval()
                if self.root_gone_at is not None and self.phase == Phase.RUNNING:
                    self.phase = Phase.DRAINING
                    self.last_files = 0.0  # a fast writer may have finished between two polls: look now
                    self.last_cg = 0.0  # and the kernel's OOM killer may be why the main program is gone
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
        for conn, _ in self.pending_go:
            self._go(conn)
        self.pending_go.clear()
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
        self.drain_shim()
        self.drain_pipes()
        self.close_stdin()
        for conn, _ in list(self.conns.values()):
            conn.close()
        self.conns.clear()
        self.listener.close()
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
                if key.data == "pipe" and key.fd in self.pipes:
                    self.read_pipe(key.fd)
                elif key.data == "shim" and key.fd in self.conns:
                    self.read_shim(key.fd)
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
            self.emit({"type": "run.error", "detail": "teardown left: " + "; ".join(leftovers[:10])})
            status, reason = "error", "teardown left processes or files behind"
        if self.dropped_bytes:
            self.emit({"type": "io.truncated", "bytes": self.dropped_bytes})
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
                 "max_rss_kb": self.max_rss // 1024, "output_bytes": self.output_bytes,
                 "max_alive": self.tracker.max_alive}
        self.emit({"type": "run.finished", "status": status, "code": code, "reason": reason,
                   "duration_ms": duration, "stats": stats, "outcome": outcome})
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
        spec = json.loads(line)
        sup = Supervisor(sock, spec, warm)
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
                sup.emit({"type": "run.error", "detail": detail})
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
                ev = {"v": 1, "seq": 0, "t": 0, "type": "run.finished", "status": "error", "code": None,
                      "reason": detail, "duration_ms": 0, "stats": {},
                      "outcome": {"code": "start_failed", "detail": detail}}
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

