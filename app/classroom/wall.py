"""The instructor's live wall: per student, their current or last run, distilled from its events."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

STUCK_S = 10.0  # blocked longer than this in one go: the student probably waits on something that never comes


@dataclass
class WallEntry:
    run: str
    lesson: str | None
    exercise: str | None
    status: str = "queued"  # queued, running, then run.finished's status (ok, error, limit, stopped)
    states: dict[int, str] = field(default_factory=dict)  # pid -> textbook state, for the small tree
    parents: dict[int, int] = field(default_factory=dict)
    blocked: dict[int, tuple[float, str]] = field(default_factory=dict)  # pid -> (since, wall clock; reason)
    limit: str | None = None
    error: str | None = None
    passed: bool | None = None  # exercise runs: every goal passed
    updated: float = field(default_factory=time.time)
    started: float = field(default_factory=time.time)  # the newest of a student's entries wins across nodes

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> WallEntry:
        d = json.loads(text)
        return cls(**{**d, "states": {int(k): v for k, v in d["states"].items()},
                      "parents": {int(k): v for k, v in d["parents"].items()},
                      "blocked": {int(k): (float(v[0]), str(v[1])) for k, v in d["blocked"].items()}})

    def apply(self, ev: dict[str, Any]) -> None:
        handler = _HANDLERS.get(ev.get("type", ""))
        if handler is not None:
            handler(self, ev)
            self.updated = time.time()

    def stuck(self, now: float | None = None) -> tuple[bool, str | None]:
        now = time.time() if now is None else now
        if self.status != "running" or not self.blocked:
            return False, None
        pid, (since, reason) = min(self.blocked.items(), key=lambda kv: kv[1][0])
        return now - since > STUCK_S, f"pid {pid}: {reason}" if reason else f"pid {pid}"

    def public(self, name: str, sid: str) -> dict[str, Any]:
        stuck, reason = self.stuck()
        alive = {p: s for p, s in self.states.items() if s not in ("gone",)}
        return {"student": sid, "name": name, "run": self.run, "lesson": self.lesson, "exercise": self.exercise,
                "status": self.status, "stuck": stuck, "reason": reason if stuck else None,
                "limit": self.limit, "error": self.error, "passed": self.passed,
                "tree": [{"pid": p, "ppid": self.parents.get(p), "state": s} for p, s in list(alive.items())[:16]],
                "processes": len(self.parents), "alive": sum(1 for s in alive.values() if s != "zombie")}


def _state(w: WallEntry, ev: dict[str, Any]) -> None:
    pid, state = ev["pid"], ev["state"]
    w.states[pid] = state
    if state == "blocked":
        w.blocked.setdefault(pid, (time.time(), str(ev.get("reason") or "")))
    else:
        w.blocked.pop(pid, None)


def _spawn(w: WallEntry, ev: dict[str, Any]) -> None:
    w.parents[ev["pid"]] = ev.get("ppid") or 0
    w.states.setdefault(ev["pid"], "new")


def _gone(w: WallEntry, ev: dict[str, Any]) -> None:
    w.states[ev["pid"]] = "gone"
    w.blocked.pop(ev["pid"], None)


def _exit(w: WallEntry, ev: dict[str, Any]) -> None:
    w.states[ev["pid"]] = "zombie"
    w.blocked.pop(ev["pid"], None)


def _started(w: WallEntry, ev: dict[str, Any]) -> None:
    w.status = "running"


def _limit(w: WallEntry, ev: dict[str, Any]) -> None:
    w.limit = ev.get("limit")


def _error(w: WallEntry, ev: dict[str, Any]) -> None:
    w.error = ev.get("detail")


def _finished(w: WallEntry, ev: dict[str, Any]) -> None:
    w.status = str(ev.get("status") or "finished")
    w.blocked.clear()
    goals = ev.get("goals")
    if goals is not None:
        w.passed = all(g["passed"] for g in goals)


_HANDLERS = {
    "run.started": _started, "proc.spawn": _spawn, "proc.state": _state, "proc.exit": _exit,
    "proc.reaped": _gone, "run.limit": _limit, "run.error": _error, "run.finished": _finished,
}
