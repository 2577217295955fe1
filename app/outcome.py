"""How a run ends: the one builder of the public `run.finished`, used by the web process and the CLI.

The supervisor's last message is its exit report (type `run.finished`, with status, code, reason,
duration and stats, and `outcome` once the supervisor sends it). `finished_event` turns that report
(or, when there is none, what the web process knows: stopped in the queue, the sandbox restarted,
the web process died) into the event clients see, with the answers to the lesson's questions
computed here and only here, and an exercise's `goals` (app/classroom/grading.py) too.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from typing import Any

from .expectations import answers as compute_answers
from .sandbox import protocol
from .sandbox.client import Launcher
from .sandbox.protocol import RunSpec

log = logging.getLogger("proclab.outcome")


class Outcome(enum.StrEnum):
    """`run.finished.outcome.code` (docs/events.md); the UI's words are `outcome.<code>` in the catalogues."""

    EXIT = "exit"
    SIGNAL = "signal"
    LIMIT = "limit"
    STOPPED = "stopped"
    FAILED = "failed"
    START_FAILED = "start_failed"
    SANDBOX_RESTARTED = "sandbox_restarted"
    INTERRUPTED = "interrupted"
    COMPILE_FAILED = "compile_failed"
    NODE_LOST = "node_lost"


# The status each outcome the web process decides on reports (status stays for logs, CLI and old pages).
_STATUS = {Outcome.STOPPED: "stopped", Outcome.FAILED: "error", Outcome.START_FAILED: "error",
           Outcome.SANDBOX_RESTARTED: "error", Outcome.INTERRUPTED: "error",
           Outcome.NODE_LOST: "error", Outcome.LIMIT: "limit"}
_REASON = {Outcome.SANDBOX_RESTARTED: "the sandbox restarted during the run",
           Outcome.INTERRUPTED: "the server stopped during the run",
           Outcome.NODE_LOST: "the node holding the run stopped answering",
           Outcome.STOPPED: "stopped while waiting in the queue"}


def outcome_of_report(report: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The outcome the report states, or the one its status, code and the run's events imply (a
    supervisor that does not send `outcome` yet)."""
    events = events or []
    given = report.get("outcome")
    if isinstance(given, dict) and given.get("code") in Outcome.__members__.values():
        return dict(given)
    status, code, reason = report.get("status"), report.get("code"), report.get("reason")
    if status == "ok":
        # `exit_code`, not `code`: that key is the outcome's own (contracts.md wrote "params code").
        if code is not None:
            return {"code": Outcome.EXIT.value, "exit_code": code}
        root = next((e.get("root_pid") for e in events if e.get("type") == "run.started"), None)
        sig = next((e.get("signal") for e in reversed(events) if e.get("type") == "proc.exit"
                    and e.get("pid") == root), None)
        return {"code": Outcome.SIGNAL.value, "signal": report.get("signal") or sig}
    if status == "limit":
        fired = next((e.get("limit") for e in reversed(events) if e.get("type") == "run.limit"), None)
        return {"code": Outcome.LIMIT.value, "limit": report.get("limit") or fired}
    if status == "stopped":
        return {"code": Outcome.STOPPED.value}
    if report.get("duration_ms", 0) == 0:
        return {"code": Outcome.START_FAILED.value, "detail": reason or ""}
    return {"code": Outcome.FAILED.value, "detail": reason or ""}


def finished_event(report: dict[str, Any] | None, events: list[dict[str, Any]],
                   questions: list[dict[str, Any]] | None = None, *, outcome: Outcome | None = None,
                   detail: str | None = None, recording: dict[str, Any] | None = None,
                   goals: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The public run.finished.

    report: the supervisor's exit report, or None when the run ended without one.
    outcome: set when the web process knows better than the report (the sandbox restarted, the
    server stopped, the run never started); then status, reason and outcome come from it.
    events: the run's events before this one (answers are computed over them).
    recording: whether the recording was saved ({"saved": bool, "problem": code}), web runs only.
    goals: an exercise's grader, given the run's events with this run.finished last (seq set).
    """
    base = dict(report or {})
    status, reason = str(base.get("status") or "error"), base.get("reason")
    if outcome is None:
        said = outcome_of_report(base, events)
    else:
        status = _STATUS.get(outcome, status)
        reason = detail or _REASON.get(outcome) or reason
        said = {"code": outcome.value}
        if outcome in (Outcome.FAILED, Outcome.START_FAILED):
            said["detail"] = detail or ""
    answers: dict[str, Any] | None = None
    if questions:
        try:
            answers = compute_answers(questions, events)
        except Exception:  # a bad question must not lose the end of the run
            log.exception("answers for a run")
            answers = {}

    def made(goals_: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        ev = protocol.run_finished(status, base.get("code"), reason, int(base.get("duration_ms") or 0),
                                   base.get("stats") or {}, said, answers=answers, recording=recording, goals=goals_)
        return {**{k: base[k] for k in ("v", "t") if k in base}, **ev}

    if goals is None:
        return made()
    try:
        graded = goals([*events, {**made(), "seq": len(events)}])
    except Exception:  # a bad exercise must not lose the end of the run
        log.exception("goals for a run")
        graded = []
    return made(graded)


def stream_run(launcher: Launcher, spec: RunSpec, questions: list[dict[str, Any]] | None = None,
               stdin_fd: int | None = None) -> Iterator[dict[str, Any]]:
    """A run from the CLI or `check`: its events as the supervisor sends them, ending with the public
    run.finished (or one that says the sandbox ended the run). stdin_fd: see Launcher.stream."""
    events: list[dict[str, Any]] = []
    for ev in launcher.stream(spec, stdin_fd):
        if ev["type"] == "run.finished":
            fin = finished_event(ev, events, questions)
            fin["seq"] = ev.get("seq", len(events))
            yield fin
            return
        events.append(ev)
        yield ev
    fin = finished_event(None, events, questions, outcome=Outcome.FAILED,
                         detail="the sandbox ended the run without finishing it")
    fin.update(v=1, seq=len(events), t=events[-1]["t"] if events else 0)
    yield fin
