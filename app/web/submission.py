"""The one way a request becomes a run: files, stdin, limits, lesson and pace, checked the same way for
runs, room runs and lesson checks. File names are checked here for every path that takes files
(runs, rooms, lesson saves, imports)."""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import HTTPException

from ..classroom.exercises import Exercise
from ..lessons import Lesson, LessonStore
from ..runs import Submission
from ..sandbox.compile import default_main
from ..settings import Settings
from .models import MAX_SOURCE, PaceMode, RunRequest

MAX_NAME_BYTES = 255


def invalid(loc: list[str | int], msg: str, status: int = 422) -> NoReturn:
    """A 422 shaped like FastAPI's own: {"detail": [{"loc": [...], "msg": ..., "type": ...}]}."""
    raise HTTPException(status, [{"loc": loc, "msg": msg, "type": "value_error"}])


def name_problem(name: str) -> str | None:
    """Why a file name cannot be used, or None: one plain name, as a run's directory holds it."""
    if not name:
        return "a file name cannot be empty"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "a file name cannot contain NUL or control characters"
    if "/" in name or "\\" in name:
        return "a plain file name is expected (no / or \\)"
    if name.startswith("."):
        return "a file name cannot start with '.'"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"a file name is at most {MAX_NAME_BYTES} bytes"
    return None


def check_files(files: dict[str, Any], loc: list[str | int]) -> None:
    for name, content in files.items():
        problem = name_problem(name)
        if problem:
            invalid([*loc, name], f"bad file name {name[:80]!r}: {problem}, like main.py")
        if not isinstance(content, str):
            invalid([*loc, name], "a file's content must be a string")
        if len(content.encode("utf-8", "surrogatepass")) > MAX_SOURCE:
            invalid([*loc, name], f"{name} is larger than {MAX_SOURCE // 1024} KiB", 413)


def exercise_of(lesson: Lesson | None, req: RunRequest) -> Exercise | None:
    """The exercise a run is graded against (its lesson must be given too)."""
    if req.exercise is None:
        return None
    found = next((e for e in lesson.exercises if e.id == req.exercise), None) if lesson else None
    if found is None:
        expected = f"one of {[e.id for e in lesson.exercises]}" if lesson else "a lesson id too"
        invalid(["body", "exercise"], f"no exercise {req.exercise[:80]!r} in lesson {req.lesson!r}; expected {expected}")
    return found


def submission(req: RunRequest, lessons: LessonStore, settings: Settings) -> Submission:
    """Check a run request and make it a Submission (HTTPException 404/413/422 naming the field)."""
    lesson = None
    if req.lesson is not None:
        lesson = lessons.get(req.lesson)
        if lesson is None:
            raise HTTPException(404, f"no lesson {req.lesson!r}")
    if lesson is None and not req.files:
        invalid(["body"], "give a lesson id, files, or both")
    check_files(req.files or {}, ["body", "files"])
    files = {**(lesson.files if lesson else {}), **(req.files or {})}
    exercise = exercise_of(lesson, req)
    if exercise is not None and exercise.main not in (req.files or {}):
        files[exercise.main] = exercise.starter  # no code sent: the exercise's starting point
    main = req.main or (lesson.main if lesson else default_main(files))
    if main not in files:
        invalid(["body", "main"], f"the files do not include the main file {main[:80]!r}")
    if req.stdin is not None and len(req.stdin.encode("utf-8", "surrogatepass")) > MAX_SOURCE:
        invalid(["body", "stdin"], f"stdin is larger than {MAX_SOURCE // 1024} KiB", 413)
    asked = req.limits.model_dump(exclude_none=True) if req.limits else {}
    maximum = settings.max_limits.to_dict()
    for key, value in asked.items():
        if key in maximum and value > maximum[key]:
            invalid(["body", "limits", key], f"must be more than 0 and at most {maximum[key]} on this server")
    limits = {**(lesson.limits if lesson else {}), **asked}
    pace = None
    if req.pace is not None and req.pace.mode != PaceMode.NORMAL:
        pace = {"mode": req.pace.mode.value, "delay_ms": req.pace.delay_ms}
    stdin = req.stdin if req.stdin is not None else (lesson.stdin if lesson else None)
    stdio = req.stdio.value if req.stdio else (lesson.stdio if lesson else None)
    return Submission(files=files, main=main, lesson=lesson.id if lesson else None, limits=limits or None,
                      questions=list(lesson.questions) if lesson else [], stdin=stdin, pace=pace, stdio=stdio,
                      exercise=exercise)
