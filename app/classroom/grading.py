"""Grading by the kernel: each expectation of an exercise is a goal, passed or not, with its evidence.

The evidence is the first event after which the goal holds. Every expectation kind is monotone
over a run (counts only grow, "seen" stays seen, `finished` holds from run.finished on), so it
holds on a suffix of the run and a binary search over prefixes finds where that suffix starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..expectations import check
from .exercises import Exercise

Event = dict[str, Any]


@dataclass
class Goal:
    id: str
    expect: dict[str, Any]
    passed: bool
    evidence_seq: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "expect": self.expect, "passed": self.passed, "evidence_seq": self.evidence_seq}


def _holds(item: dict[str, Any], events: list[Event]) -> bool:
    return bool(check([item], events)[0]["ok"])


def evidence(item: dict[str, Any], events: list[Event]) -> int | None:
    """Index of the first event from which `item` holds, or None when it does not hold at the end."""
    if not _holds(item, events):
        return None
    lo, hi = 0, len(events) - 1  # invariant: holds on events[:hi + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if _holds(item, events[:mid + 1]):
            hi = mid
        else:
            lo = mid + 1
    return hi


def grade(exercise: Exercise, events: list[Event]) -> list[Goal]:
    """One goal per expectation. `events[i]` must have seq i (as in a run's stream)."""
    goals = []
    for i, item in enumerate(exercise.expect):
        at = evidence(item, events)
        seq = events[at].get("seq", at) if at is not None else None
        goals.append(Goal(id=str(i + 1), expect=item, passed=at is not None, evidence_seq=seq))
    return goals
