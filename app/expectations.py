"""What a lesson claims about a real run, checked against that run's events; and question answers.

See docs/authoring.md for the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]


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


def _state(f: RunFacts, v: Any) -> bool:
    want = v if isinstance(v, str) else v.get("state")
    needle = None if isinstance(v, str) else v.get("reason_contains")
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
    "event": lambda f, v: bool(f.of(str(v))),
}


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
