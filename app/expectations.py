"""What a lesson claims about a real run, checked against that run's events; and question answers.

See docs/authoring.md for the vocabulary.
"""

from __future__ import annotations

import os
import re
import signal as _signal_mod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .msg import Msg, msg, shown

Event = dict[str, Any]

# The values the event stream can carry (docs/events.schema.json; tests/test_lessons.py holds them equal),
# so a lesson that names another is refused when it loads, not silently never met.
STATES = ("new", "ready", "running", "blocked", "stopped", "zombie")
STATUSES = ("ok", "error", "limit", "stopped")
LIMITS = ("processes", "memory", "cpu", "wall", "output", "files", "leftover")
CHANNEL_KINDS = ("pipe", "fifo", "socket", "file", "queue", "mp_pipe", "value", "array", "semaphore", "lock", "event",
                 "condition")
HANDLED = ("handler", "ignore", "default")
EVENT_TYPES = ("run.queued", "run.compile", "run.started", "run.pace", "run.limit", "run.error", "run.finished",
               "proc.spawn", "proc.exec", "proc.exec.failed", "proc.state", "proc.reparent", "proc.exit", "proc.reaped", "proc.wait",
               "proc.thread.spawn", "proc.thread.state", "proc.thread.exit", "proc.line", "io.output", "io.truncated",
               "io.input", "ipc.channel", "ipc.end", "ipc.transfer", "ipc.op", "signal.sent", "signal.handler",
               "signal.handled")
SIGNALS = tuple(sorted(_signal_mod.Signals.__members__))
MAX_DURATION_S = 3600.0


@dataclass
class RunFacts:
    """What a finished run showed, distilled from its events once."""

    events: list[Event]

    def __post_init__(self) -> None:
        ev = self.events
        self.started = next((e for e in ev if e["type"] == "run.started"), {})
        self.finished = next((e for e in ev if e["type"] == "run.finished"), {})
        self.init_pid = self.started.get("init_pid")
        self.root_pid = self.started.get("root_pid")
        self.pids = [e["pid"] for e in ev if e["type"] == "proc.spawn"]
        self.parent = {e["pid"]: e["ppid"] for e in ev if e["type"] == "proc.spawn"}
        self.output = "".join(e["text"] for e in ev if e["type"] == "io.output")
        self.lines = self._lines()
        self.limits = [e["limit"] for e in ev if e["type"] == "run.limit"]
        self.channel_kind = {e["channel"]: e["kind"] for e in ev if e["type"] == "ipc.channel"}

    def _lines(self) -> list[str]:
        # Per process and stream, so interleaved writes of two processes do not split each other's lines.
        buf: dict[tuple[int, str], str] = {}
        lines: list[str] = []
        for e in self.events:
            if e["type"] != "io.output":
                continue
            key = (e["pid"], e["stream"])
            text = buf.get(key, "") + e["text"]
            *done, rest = text.split("\n")
            lines += done
            buf[key] = rest
        lines += [rest for rest in buf.values() if rest]
        return lines

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e["type"] == type_]


def _bounds(value: Any, actual: int) -> bool:
    if isinstance(value, int):
        return actual == value
    lo, hi = value.get("min"), value.get("max")
    return (lo is None or actual >= lo) and (hi is None or actual <= hi)


def _threads_max(f: RunFacts) -> int:
    alive: dict[int, set[int]] = {}
    best = 1 if f.pids else 0
    for e in f.events:
        if e["type"] == "proc.thread.spawn":
            alive.setdefault(e["pid"], set()).add(e["tid"])
            best = max(best, len(alive[e["pid"]]) + 1)
        elif e["type"] == "proc.thread.exit":
            alive.get(e["pid"], set()).discard(e["tid"])
    return best


def stints(f: RunFacts, want: str, needle: str | None = None) -> list[float]:
    """Seconds each process (or thread) spent in state `want`, from the event that began it to the one that
    ended it: its next state, its exit (a zombie outlives that), its reaping, or the end of the run. A stint
    still going is not counted, so what holds on a prefix of the run holds on the whole (grading's rule)."""
    start: dict[tuple[int, int | None], int] = {}
    out: list[float] = []

    def close(key: tuple[int, int | None], t: int) -> None:
        if key in start:
            out.append(max(0, t - start.pop(key)) / 1e9)

    for e in f.events:
        typ, t = e["type"], e.get("t", 0)
        if typ in ("proc.state", "proc.thread.state"):
            key = (e["pid"], e.get("tid") if typ == "proc.thread.state" else None)
            if e["state"] == want and (needle is None or needle in (e.get("reason") or "")):
                start.setdefault(key, t)
            else:
                close(key, t)
        elif typ == "proc.exit" and want != "zombie":
            close((e["pid"], None), t)
        elif typ == "proc.thread.exit":
            close((e["pid"], e["tid"]), t)
        elif typ == "proc.reaped":
            for key in [k for k in start if k[0] == e["pid"]]:
                close(key, t)
        elif typ == "run.finished":
            for key in list(start):
                close(key, t)
    return out


def _state(f: RunFacts, v: Any) -> bool:
    want = v if isinstance(v, str) else v.get("state")
    needle = None if isinstance(v, str) else v.get("reason_contains")
    min_s = None if isinstance(v, str) else v.get("min_s")
    if min_s is not None:
        return any(s >= min_s for s in stints(f, want, needle))
    for e in f.of("proc.state") + f.of("proc.thread.state"):
        if e["state"] == want and (needle is None or needle in (e.get("reason") or "")):
            return True
    return False


def _reaped_by(f: RunFacts, v: str) -> bool:
    for e in f.of("proc.reaped"):
        if v == "init" and e["by"] == f.init_pid and e["pid"] != f.root_pid:
            return True
        if v == "parent" and e["by"] is not None and e["by"] == f.parent.get(e["pid"]) and e["by"] != f.init_pid:
            return True
    return False


def _exit(f: RunFacts, v: dict[str, Any]) -> bool:
    for e in f.of("proc.exit"):
        if "code" in v and e["code"] == v["code"]:
            return True
        if "signal" in v and e["signal"] == v["signal"]:
            return True
    return False


def _signal(f: RunFacts, v: Any) -> bool:
    name = v if isinstance(v, str) else v.get("signal")
    handled = None if isinstance(v, str) else v.get("handled")
    sent = any(e["signal"] == name for e in f.of("signal.sent"))
    if handled is None:
        return sent or any(e["signal"] == name for e in f.of("signal.handled"))
    return any(e["signal"] == name and e["action"] == handled for e in f.of("signal.handled"))


def _transfer(f: RunFacts, v: dict[str, Any]) -> bool:
    kind = v.get("kind")
    total = 0
    for e in f.of("ipc.transfer"):
        if kind and f.channel_kind.get(e["channel"]) != kind:
            continue
        if e["direction"] == "read":
            total += e["bytes"]
    if "bytes" in v:
        return total == v["bytes"]
    return total >= v.get("min_bytes", 1)


WAIT_RESULTS = ("child", "none")


def _wait(f: RunFacts, v: dict[str, Any]) -> bool:
    """Traced wait calls: of this `call`, with or without WNOHANG, that collected a `child` or found `none`
    finished yet (WNOHANG's 0); how many (`count`, default at least one)."""
    n = 0
    for e in f.of("proc.wait"):
        if "call" in v and e["call"] != v["call"]:
            continue
        if "nohang" in v and bool((e.get("options") or 0) & os.WNOHANG) != v["nohang"]:
            continue
        if "result" in v and (e["result"] > 0) != (v["result"] == "child"):
            continue
        n += 1
    return _bounds(v.get("count", {"min": 1}), n)


def _op(f: RunFacts, v: dict[str, Any]) -> bool:
    return any((not v.get("kind") or f.channel_kind.get(e["channel"]) == v["kind"]) and
               (not v.get("op") or e["op"] == v["op"]) for e in f.of("ipc.op"))


Check = Callable[[RunFacts, Any], bool]

EXPECTATION_KINDS: dict[str, Check] = {
    "finished": lambda f, v: f.finished.get("status") == v,
    "limit": lambda f, v: v in f.limits,
    "exit_code": lambda f, v: f.finished.get("code") == v,
    "output_contains": lambda f, v: str(v) in f.output,
    "output_matches": lambda f, v: any(re.search(str(v), line) for line in f.lines),
    "output_lines": lambda f, v: _bounds(v, len(f.lines)),
    "processes": lambda f, v: _bounds(v, len(set(f.pids))),
    "threads": lambda f, v: _bounds(v, _threads_max(f)),
    "state": _state,
    "reparent": lambda f, v: any(e["new_ppid"] == f.init_pid for e in f.of("proc.reparent")) if v == "init"
    else bool(f.of("proc.reparent")),
    "reaped_by": _reaped_by,
    "exit": _exit,
    "exec": lambda f, v: any(e["argv"] and e["argv"][0].endswith(str(v)) for e in f.of("proc.exec")),
    "signal": _signal,
    "transfer": _transfer,
    "channel": lambda f, v: v in f.channel_kind.values(),
    "op": _op,
    "wait": _wait,
    "event": lambda f, v: bool(f.of(str(v))),
}


# ------------------------------------------------------------ what a value may be (checked when a lesson loads)

Problem = Msg | None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _what(name: str) -> Msg:
    return msg(f"what.{name}")


def _key(name: str) -> Msg:
    return msg("what.key", key=name)


def _one_of(what: Msg, choices: tuple[str, ...]) -> Callable[[Any], Problem]:
    def rule(v: Any) -> Problem:
        return None if isinstance(v, str) and v in choices else \
            msg("one_of", what=what, choices=", ".join(choices), got=shown(v))
    return rule


def _text(v: Any) -> Problem:
    return None if isinstance(v, str) and v else msg("text_expected", got=shown(v))


def _regex(v: Any) -> Problem:
    if not isinstance(v, str) or not v:
        return msg("regex_expected", got=shown(v))
    try:
        re.compile(v)
    except re.error as e:
        return msg("regex_invalid", got=shown(v), error=str(e))
    return None


def _keys(v: Any, allowed: tuple[str, ...]) -> Problem:
    if not isinstance(v, dict) or not v:
        return msg("keys_expected", keys=", ".join(allowed), got=shown(v))
    extra = [k for k in v if k not in allowed]
    return msg("unknown_key", key=shown(extra[0]), keys=", ".join(allowed)) if extra else None


def _whole(v: dict[str, Any], key: str, low: int) -> Problem:
    ok = key not in v or (_is_int(v[key]) and v[key] >= low)
    return None if ok else msg("whole_number", key=key, low=low, got=shown(v[key]))


def _count(v: Any) -> Problem:
    if _is_int(v):
        return None if v >= 0 else msg("count_negative", got=v)
    bad = _keys(v, ("min", "max"))
    if bad:
        return msg("count_shape", problem=bad)
    for k in ("min", "max"):
        if _whole(v, k, 0):
            return _whole(v, k, 0)
    if "min" in v and "max" in v and v["min"] > v["max"]:
        return msg("min_above_max", min=v["min"], max=v["max"])
    return None


def _exit_status(v: Any) -> Problem:
    return None if _is_int(v) and 0 <= v <= 255 else msg("exit_code", got=shown(v))


_signal_name = _one_of(_what("signal"), SIGNALS)
_state_name = _one_of(_what("state"), STATES)
_channel_kind = _one_of(_what("channel_kind"), CHANNEL_KINDS)


def _in_key(key: str, bad: Problem) -> Problem:
    return msg("in_key", key=key, problem=bad) if bad else None


def _state_value(v: Any) -> Problem:
    if isinstance(v, str):
        return _state_name(v)
    bad = _keys(v, ("state", "reason_contains", "min_s"))
    if bad:
        return msg("state_shape", problem=bad)
    if "state" not in v:
        return msg("state_missing")
    if "reason_contains" in v and _text(v["reason_contains"]):
        return _in_key("reason_contains", _text(v["reason_contains"]))
    m = v.get("min_s")
    if m is not None and not (isinstance(m, int | float) and not isinstance(m, bool) and 0 < m <= MAX_DURATION_S):
        return msg("min_s", max=f"{MAX_DURATION_S:g}", got=shown(m))
    return _state_name(v["state"])


def _exit_value(v: Any) -> Problem:
    bad = _keys(v, ("code", "signal"))
    if bad or len(v) != 1:
        return msg("exit_shape", got=shown(v))
    return _exit_status(v["code"]) if "code" in v else _signal_name(v["signal"])


def _choice(v: dict[str, Any], key: str, choices: tuple[str, ...]) -> Problem:
    return _one_of(_key(key), choices)(v[key]) if key in v else None


def _signal_value(v: Any) -> Problem:
    if isinstance(v, str):
        return _signal_name(v)
    bad = _keys(v, ("signal", "handled"))
    if bad or "signal" not in v:
        return msg("signal_shape", problem=bad or msg("signal_missing"))
    return _choice(v, "handled", HANDLED) or _signal_name(v["signal"])


def _transfer_value(v: Any) -> Problem:
    bad = _keys(v, ("kind", "bytes", "min_bytes"))
    if bad:
        return msg("transfer_shape", problem=bad)
    if "bytes" in v and "min_bytes" in v:
        return msg("transfer_both")
    return _whole(v, "bytes", 0) or _whole(v, "min_bytes", 1) or (_channel_kind(v["kind"]) if "kind" in v else None)


def _op_value(v: Any) -> Problem:
    bad = _keys(v, ("kind", "op"))
    if bad:
        return msg("op_shape", problem=bad)
    if "op" in v and _text(v["op"]):
        return _in_key("op", _text(v["op"]))
    return _channel_kind(v["kind"]) if "kind" in v else None


WAIT_CALLS = ("wait", "waitpid", "wait3", "wait4", "waitid")


def _wait_value(v: Any) -> Problem:
    bad = _keys(v, ("call", "nohang", "result", "count"))
    if bad:
        return msg("wait_shape", problem=bad)
    if _choice(v, "call", WAIT_CALLS):
        return _choice(v, "call", WAIT_CALLS)
    if "nohang" in v and not isinstance(v["nohang"], bool):
        return msg("boolean", key="nohang", got=shown(v["nohang"]))
    return _choice(v, "result", WAIT_RESULTS) or (_in_key("count", _count(v["count"])) if "count" in v else None)


VALUE_RULES: dict[str, Callable[[Any], Problem]] = {
    "finished": _one_of(_what("status"), STATUSES),
    "limit": _one_of(_what("limit"), LIMITS),
    "exit_code": _exit_status,
    "output_contains": _text,
    "output_matches": _regex,
    "output_lines": _count,
    "processes": _count,
    "threads": _count,
    "state": _state_value,
    "reparent": lambda v: None if v == "init" or v is True else msg("reparent", got=shown(v)),
    "reaped_by": _one_of(_what("reaper"), ("init", "parent")),
    "exit": _exit_value,
    "exec": _text,
    "signal": _signal_value,
    "transfer": _transfer_value,
    "channel": _channel_kind,
    "op": _op_value,
    "wait": _wait_value,
    "event": _one_of(_what("event_type"), EVENT_TYPES),
}


def problem(item: Any) -> Problem:
    """Why `item` is not an expectation (one kind with a value it can have), or None."""
    if not isinstance(item, dict) or len(item) != 1:
        return msg("expect_shape", got=shown(item))
    ((kind, value),) = item.items()
    if kind not in EXPECTATION_KINDS:
        return msg("expect_unknown", kind=shown(kind), kinds=", ".join(sorted(EXPECTATION_KINDS)))
    bad = VALUE_RULES[kind](value)
    return msg("expect_bad", kind=kind, problem=bad) if bad else None


def check(expect: Iterable[dict[str, Any]], events: list[Event]) -> list[dict[str, Any]]:
    """One result per expectation: {expect, ok}."""
    facts = RunFacts(events)
    results = []
    for item in expect:
        ((kind, value),) = item.items()
        try:
            ok = bool(EXPECTATION_KINDS[kind](facts, value))
        except (KeyError, TypeError, AttributeError, re.error):
            ok = False
        results.append({"expect": item, "ok": ok})
    return results


def _max_alive(f: RunFacts) -> int:
    alive, best = 0, 0
    for e in f.events:
        if e["type"] == "proc.spawn":
            alive += 1
            best = max(best, alive)
        elif e["type"] == "proc.reaped":
            alive -= 1
    return best


def _exit_code(f: RunFacts, a: dict[str, Any]) -> Any:
    for e in f.of("proc.exit"):
        if (a.get("of") == "root") == (e["pid"] == f.root_pid):
            return e["code"] if e["code"] is not None else e["signal"]
    return None


def _adopter(f: RunFacts, a: dict[str, Any]) -> Any:
    for e in f.of("proc.reparent"):
        return "init" if e["new_ppid"] == f.init_pid else e["new_ppid"]
    return None


METRICS: dict[str, Callable[[RunFacts, dict[str, Any]], Any]] = {
    "output_line_count": lambda f, a: sum(1 for line in f.lines if a.get("contains", "") in line),
    "process_count": lambda f, a: len(set(f.pids)),
    "zombie_count": lambda f, a: len({e["pid"] for e in f.of("proc.state") if e["state"] == "zombie"}),
    "adopter": _adopter,
    "exit_code": _exit_code,
    "exit_signal": lambda f, a: next((e["signal"] for e in f.of("proc.exit") if e["signal"]), None),
    "transfer_bytes": lambda f, a: sum(e["bytes"] for e in f.of("ipc.transfer") if e["direction"] == "read" and
                                       (not a.get("kind") or f.channel_kind.get(e["channel"]) == a["kind"])),
    "first_output": lambda f, a: f.lines[0] if f.lines else None,
    "output_order": lambda f, a: " / ".join(f.lines),
    "max_alive": lambda f, a: _max_alive(f),
}


def answers(questions: Iterable[dict[str, Any]], events: list[Event]) -> dict[str, Any]:
    facts = RunFacts(events)
    out: dict[str, Any] = {}
    started = any(e.get("type") == "run.started" for e in events)
    for q in questions:
        if not started:  # nothing ran (a C program that did not compile): no real answer, not a zero
            out[q["id"]] = None
            continue
        ans = q.get("answer", {})
        fn = METRICS.get(ans.get("metric"))
        out[q["id"]] = fn(facts, ans) if fn else None
    return out
