"""What crosses the process boundary between the web side and a run's supervisor, in one place.

- `RunSpec`: the first line the supervisor reads (what to run, its limits, uid, layers, pace).
- `PaceMode`, `UserSignal`, `Stdio`: the choices a request and the supervisor agree on.
- Commands (`parse_command`): the lines the web side sends while the run goes on.
- One constructor per event type (`EVENTS`): the supervisor's half of docs/events.schema.json; each
  returns the event without `v`, `seq` and `t`, which the supervisor's `emit` adds.

Stdlib only: the launcher and the supervisor import it on an interpreter without the web dependencies.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from .limits import Limits

DEFAULT_NICE = 10  # the runs' processes' nice when the runs' cgroup does not weigh them (PROCLAB_NICE)
EVENT_VERSION = 1
MAX_DELAY_MS = 10_000  # slow mode's longest pause between traced calls


class PaceMode(enum.StrEnum):
    NORMAL = "normal"
    PAUSED = "paused"
    STEP = "step"
    SLOW = "slow"


class UserSignal(enum.StrEnum):
    """The signals a student may send to a process of the run (the web's request model and the supervisor)."""

    SIGINT = "SIGINT"
    SIGTERM = "SIGTERM"
    SIGKILL = "SIGKILL"
    SIGSTOP = "SIGSTOP"
    SIGCONT = "SIGCONT"
    SIGUSR1 = "SIGUSR1"
    SIGUSR2 = "SIGUSR2"
    SIGHUP = "SIGHUP"


class Stdio(enum.Enum):
    """How a run's stdout is buffered (env PROCLAB_STDIO): as on a terminal (line-buffered, the textbooks'
    picture), or as into a pipe (fully buffered: a printf before fork() may print twice)."""

    TERMINAL = "terminal"
    PIPE = "pipe"


def _choice(enum_cls: type[enum.Enum], value: Any, what: str) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum_cls)  # type: ignore[attr-defined]
        raise ValueError(f"{what} must be one of {valid}; got {value!r}") from None


def _delay(value: Any) -> int | None:
    """A slow-mode delay, or None when it is not one (then the current delay stays)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DELAY_MS:
        return value
    return None


# ------------------------------------------------------------------ the run spec


@dataclass(frozen=True)
class Pace:
    mode: PaceMode
    delay_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "delay_ms": self.delay_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pace:
        return cls(_choice(PaceMode, data.get("mode"), "pace mode"), _delay(data.get("delay_ms")))


@dataclass
class RunSpec:
    """One run, as the supervisor is told it. The launcher's client fills in where its files are
    (runtime_dir, shim_dir, bin_dir) just before sending."""

    run_id: str
    files: dict[str, str]
    main: str = "main.py"
    lesson: str | None = None
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None  # None: runs as the server's user (no pool uid; tests and CLI without root)
    layers: list[str] = field(default_factory=list)
    nice: int = DEFAULT_NICE
    stdin: str | None = None
    stdin_eof: bool | None = None  # None: stdin is closed after the given text, if any text was given
    stdio: Stdio = Stdio.TERMINAL
    ro_paths: list[str] = field(default_factory=list)
    seq_base: int = 0  # the supervisor's first seq follows the web process's own events (run.queued)
    pace: Pace | None = None  # start paced
    runtime_dir: str = ""
    shim_dir: str = ""
    bin_dir: str = ""

    @property
    def gid(self) -> int | None:
        return self.uid  # each pool uid has its own group of the same number

    @property
    def close_stdin(self) -> bool:
        return bool(self.stdin) if self.stdin_eof is None else self.stdin_eof

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(limits=self.limits.to_dict(), stdio=self.stdio.value,
                 pace=self.pace.to_dict() if self.pace else None)
        return d

    def to_json(self) -> bytes:
        """The spec as one NDJSON line (with its newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_dict(cls, data: Any) -> RunSpec:
        """Raises ValueError naming the field and what it expects."""
        if not isinstance(data, dict):
            raise ValueError(f"a run spec must be a JSON object; got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run spec field(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
        for name, kind in (("run_id", str), ("files", dict)):
            if not isinstance(data.get(name), kind):
                raise ValueError(f"run spec field {name!r} must be a {kind.__name__}; got {data.get(name)!r}")
        uid = data.get("uid")
        if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool) or uid < 0):
            raise ValueError(f"run spec field 'uid' must be a non-negative integer or null; got {uid!r}")
        kw = {k: v for k, v in data.items() if k not in ("limits", "stdio", "pace")}
        return cls(**kw, limits=Limits.from_dict(data.get("limits") or {}),
                   stdio=_choice(Stdio, data.get("stdio") or Stdio.TERMINAL.value, "stdio"),
                   pace=Pace.from_dict(data["pace"]) if isinstance(data.get("pace"), dict) else None)

    @classmethod
    def from_json(cls, line: bytes | str) -> RunSpec:
        return cls.from_dict(json.loads(line))


# ------------------------------------------------------------------ commands (web side -> supervisor)


class Op(enum.StrEnum):
    STOP = "stop"
    SIGNAL = "signal"
    INTERRUPT = "interrupt"  # Ctrl+C: SIGINT to the foreground process group
    INPUT = "input"
    EOF = "eof"
    PACE = "pace"
    STEP = "step"


@dataclass(frozen=True)
class Command:
    op: Op
    pid: int | None = None  # SIGNAL
    signal: UserSignal | None = None  # SIGNAL
    text: str = ""  # INPUT
    mode: PaceMode | None = None  # PACE
    delay_ms: int | None = None  # PACE

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cmd": self.op.value}
        if self.op is Op.SIGNAL:
            d.update(pid=self.pid, signal=self.signal.value if self.signal else None)
        elif self.op is Op.INPUT:
            d["text"] = self.text
        elif self.op is Op.PACE:
            d.update(mode=self.mode.value if self.mode else None, delay_ms=self.delay_ms)
        return d


def stop() -> dict[str, Any]:
    return Command(Op.STOP).to_dict()


def send_signal(pid: int, sig: UserSignal) -> dict[str, Any]:
    return Command(Op.SIGNAL, pid=pid, signal=sig).to_dict()


def interrupt() -> dict[str, Any]:
    return Command(Op.INTERRUPT).to_dict()


def send_input(text: str) -> dict[str, Any]:
    return Command(Op.INPUT, text=text).to_dict()


def eof() -> dict[str, Any]:
    return Command(Op.EOF).to_dict()


def pace(mode: PaceMode, delay_ms: int | None = None) -> dict[str, Any]:
    return Command(Op.PACE, mode=mode, delay_ms=delay_ms).to_dict()


def step() -> dict[str, Any]:
    return Command(Op.STEP).to_dict()


def parse_command(data: Any) -> Command | None:
    """A command line from the web side, or None when it is none the supervisor takes (ignored, as a
    stale or hostile client may send anything)."""
    if not isinstance(data, dict):
        return None
    try:
        op = Op(str(data.get("cmd")))
    except ValueError:
        return None
    if op is Op.SIGNAL:
        pid = data.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool):
            return None
        try:
            return Command(op, pid=pid, signal=UserSignal(str(data.get("signal"))))
        except ValueError:
            return None
    if op is Op.INPUT:
        return Command(op, text=str(data.get("text", "")))
    if op is Op.PACE:
        try:
            mode = PaceMode(data.get("mode", PaceMode.NORMAL.value))
        except ValueError:
            return None
        return Command(op, mode=mode, delay_ms=_delay(data.get("delay_ms")))
    return Command(op)


# ------------------------------------------------------------------ events (one constructor per type)

Event = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Event])
EVENTS: dict[str, Callable[..., Event]] = {}


def _event(kind: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        EVENTS[kind] = fn
        return fn
    return register


@_event("run.queued")
def run_queued(position: int) -> Event:
    return {"type": "run.queued", "position": position}


@_event("run.compile")
def run_compile(ok: bool, language: str, command: list[str], duration_ms: int, errors: int, warnings: int,
                diagnostics: list[dict[str, Any]], output: str) -> Event:
    return {"type": "run.compile", "ok": ok, "language": language, "command": command, "duration_ms": duration_ms,
            "errors": errors, "warnings": warnings, "diagnostics": diagnostics, "output": output}


@_event("run.started")
def run_started(root_pid: int, init_pid: int, layers: list[str], limits: dict[str, Any], lesson: str | None,
                pid_ns: bool, uid: int | None, warm: bool, nice: int) -> Event:
    return {"type": "run.started", "root_pid": root_pid, "init_pid": init_pid, "layers": layers, "limits": limits,
            "lesson": lesson, "pid_ns": pid_ns, "uid": uid, "warm": warm, "nice": nice}


@_event("run.pace")
def run_pace(mode: PaceMode, delay_ms: int) -> Event:
    return {"type": "run.pace", "mode": mode.value, "delay_ms": delay_ms}


@_event("run.limit")
def run_limit(limit: str, detail: str, params: dict[str, Any]) -> Event:
    return {"type": "run.limit", "limit": limit, "detail": detail, "params": params}


@_event("run.error")
def run_error(detail: str) -> Event:
    return {"type": "run.error", "detail": detail}


@_event("run.finished")
def run_finished(status: str, code: int | None, reason: str | None, duration_ms: int, stats: dict[str, Any],
                 outcome: dict[str, Any], *, answers: dict[str, Any] | None = None,
                 recording: dict[str, Any] | None = None, goals: list[dict[str, Any]] | None = None) -> Event:
    """The supervisor's report (without the keyword fields), and the public one the web process makes from
    it (app/outcome.py): with the lesson's answers, whether the recording was saved, an exercise's goals."""
    ev: Event = {"type": "run.finished", "status": status, "code": code, "reason": reason,
                 "duration_ms": duration_ms, "stats": stats, "outcome": outcome}
    for key, value in (("answers", answers), ("recording", recording), ("goals", goals)):
        if value is not None:
            ev[key] = value
    return ev


@_event("proc.spawn")
def proc_spawn(pid: int, ppid: int, how: str, name: str | None, line: Any) -> Event:
    return {"type": "proc.spawn", "pid": pid, "ppid": ppid, "how": how, "name": name, "line": line}


@_event("proc.exec")
def proc_exec(pid: int, argv: list[str], line: Any) -> Event:
    return {"type": "proc.exec", "pid": pid, "argv": argv, "line": line}


@_event("proc.exec.failed")
def proc_exec_failed(pid: int, argv: list[str], path: str | None, error: str, errno: int | None, line: Any) -> Event:
    """An exec* call that returned: the process still runs its old program (`error`: the errno's name)."""
    return {"type": "proc.exec.failed", "pid": pid, "argv": argv, "path": path, "error": error, "errno": errno,
            "line": line}


def _why(ev: Event, why: dict[str, Any] | None) -> Event:
    if why:
        ev["why"] = why
    return ev


@_event("proc.state")
def proc_state(pid: int, state: str, prev: str | None, stat: str, reason: str | None,
               why: dict[str, Any] | None = None) -> Event:
    return _why({"type": "proc.state", "pid": pid, "state": state, "prev": prev, "stat": stat, "reason": reason}, why)


@_event("proc.reparent")
def proc_reparent(pid: int, old_ppid: int, new_ppid: int) -> Event:
    return {"type": "proc.reparent", "pid": pid, "old_ppid": old_ppid, "new_ppid": new_ppid}


@_event("proc.exit")
def proc_exit(pid: int, code: int | None, signal: str | None, core: bool) -> Event:
    return {"type": "proc.exit", "pid": pid, "code": code, "signal": signal, "core": core}


@_event("proc.reaped")
def proc_reaped(pid: int, by: int | None, call: str | None, status: int | None) -> Event:
    return {"type": "proc.reaped", "pid": pid, "by": by, "call": call, "status": status}


@_event("proc.wait")
def proc_wait(pid: int, call: str, target: int | None, options: int, result: int, status: int | None,
              line: Any) -> Event:
    return {"type": "proc.wait", "pid": pid, "call": call, "target": target, "options": options, "result": result,
            "status": status, "line": line}


@_event("proc.thread.spawn")
def proc_thread_spawn(pid: int, tid: int, name: str | None) -> Event:
    return {"type": "proc.thread.spawn", "pid": pid, "tid": tid, "name": name}


@_event("proc.thread.state")
def proc_thread_state(pid: int, tid: int, state: str, stat: str, reason: str | None,
                      why: dict[str, Any] | None = None) -> Event:
    return _why({"type": "proc.thread.state", "pid": pid, "tid": tid, "state": state, "stat": stat,
                 "reason": reason}, why)


@_event("proc.thread.exit")
def proc_thread_exit(pid: int, tid: int) -> Event:
    return {"type": "proc.thread.exit", "pid": pid, "tid": tid}


@_event("proc.line")
def proc_line(pid: int, line: Any) -> Event:
    return {"type": "proc.line", "pid": pid, "line": line}


@_event("io.output")
def io_output(pid: int, stream: str, text: str) -> Event:
    return {"type": "io.output", "pid": pid, "stream": stream, "text": text}


@_event("io.truncated")
def io_truncated(nbytes: int) -> Event:
    return {"type": "io.truncated", "bytes": nbytes}


@_event("io.input")
def io_input(text: str) -> Event:
    return {"type": "io.input", "text": text}


@_event("ipc.channel")
def ipc_channel(channel: str, kind: str, name: str | None, line: Any) -> Event:
    return {"type": "ipc.channel", "channel": channel, "kind": kind, "name": name, "line": line}


@_event("ipc.end")
def ipc_end(channel: str, pid: int, fd: int | None, end: str, action: str) -> Event:
    return {"type": "ipc.end", "channel": channel, "pid": pid, "fd": fd, "end": end, "action": action}


@_event("ipc.transfer")
def ipc_transfer(channel: str, pid: int, direction: str, nbytes: int, preview: str, line: Any) -> Event:
    return {"type": "ipc.transfer", "channel": channel, "pid": pid, "direction": direction, "bytes": nbytes,
            "preview": preview, "line": line}


@_event("ipc.op")
def ipc_op(channel: str, pid: int, op: str, value: Any, line: Any) -> Event:
    return {"type": "ipc.op", "channel": channel, "pid": pid, "op": op, "value": value, "line": line}


@_event("signal.sent")
def signal_sent(sender: int | None, to: int, signal: str, line: Any) -> Event:
    return {"type": "signal.sent", "from": sender, "to": to, "signal": signal, "line": line}


@_event("signal.handler")
def signal_handler(pid: int, signal: str, handler: str, line: Any) -> Event:
    return {"type": "signal.handler", "pid": pid, "signal": signal, "handler": handler, "line": line}


@_event("signal.handled")
def signal_handled(pid: int, signal: str, action: str) -> Event:
    return {"type": "signal.handled", "pid": pid, "signal": signal, "action": action}
