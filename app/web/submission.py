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
from ..sandbox.protocol import Pace, PaceMode
from ..settings import Settings
from .models import MAX_SOURCE, RunRequest
from .problems import Problem

MAX_NAME_BYTES = 255


def invalid(loc: list[str | int], msg: str, status: int = 422, *, code: str, **params: Any) -> NoReturn:
    """A 422 shaped like FastAPI's own: {"detail": [{"loc": [...], "msg": ..., "type": ...}]}, plus the
    message as a code and its parameters (the page's words: `error.<code>` in static/i18n/)."""
    raise HTTPException(status, [{"loc": loc, "msg": msg, "type": "value_error", "code": code, "params": params}])


# Why a file name cannot be used: code -> the English (the page's words: `error.file_name_<code>`).
NAME_PROBLEMS = {
    "empty": "a file name cannot be empty",
    "control": "a file name cannot contain NUL or control characters",
    "slash": "a plain file name is expected (no / or \\)",
    "dot": "a file name cannot start with '.'",
    "long": f"a file name is at most {MAX_NAME_BYTES} bytes",
    "unicode": "a file name must be Unicode text (a lone surrogate like \\ud800 is not)",
}


def is_text(value: str) -> bool:
    """Whether a string is Unicode text that UTF-8 can hold: JSON's \\ud800 escapes give lone surrogates,
    which pass a str check but cannot be written to a file, the database or a response."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def name_problem(name: str) -> str | None:
    """Why a file name cannot be used (a key of NAME_PROBLEMS), or None: one plain name, as a run's
    directory holds it."""
    if not name:
        return "empty"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "control"
    if "/" in name or "\\" in name:
        return "slash"
    if name.startswith("."):
        return "dot"
    if not is_text(name):
        return "unicode"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return "long"
    return None


def echo(text: str) -> str:
    """A name as an answer may repeat it: at most 80 characters, a lone surrogate written as \\ud800."""
    return text[:80].encode("utf-8", "backslashreplace").decode("utf-8")


def bad_name(loc: list[str | int], name: str, problem: str, hint: str = ", like main.py") -> NoReturn:
    invalid(loc, f"bad file name {echo(name)!r}: {NAME_PROBLEMS[problem]}{hint}", code=f"file_name_{problem}",
            name=echo(name), max=MAX_NAME_BYTES)


def check_files(files: dict[str, Any], loc: list[str | int]) -> None:
    for name, content in files.items():
        problem = name_problem(name)
        if problem:
            bad_name([*loc, echo(name) if problem == "unicode" else name], name, problem)
        if not isinstance(content, str):
            invalid([*loc, name], "a file's content must be a string", code="file_content")
        if not is_text(content):
            invalid([*loc, name], f"{echo(name)} is not Unicode text (a lone surrogate like \\ud800 is not)",
                    code="file_not_text", name=echo(name))
        if len(content.encode("utf-8")) > MAX_SOURCE:
            invalid([*loc, name], f"{name} is larger than {MAX_SOURCE // 1024} KiB", 413, code="file_too_large",
                    name=name[:80], kib=MAX_SOURCE // 1024)


def exercise_of(lesson: Lesson | None, req: RunRequest) -> Exercise | None:
    """The exercise a run is graded against (its lesson must be given too)."""
    if req.exercise is None:
        return None
    found = next((e for e in lesson.exercises if e.id == req.exercise), None) if lesson else None
    if found is None:
        if lesson is None:
            invalid(["body", "exercise"], f"no exercise {req.exercise[:80]!r} without a lesson; expected a lesson id too",
                    code="exercise_without_lesson", exercise=req.exercise[:80])
        ids = [e.id for e in lesson.exercises]
        invalid(["body", "exercise"], f"no exercise {req.exercise[:80]!r} in lesson {req.lesson!r}; expected one of {ids}",
                code="no_exercise", exercise=req.exercise[:80], lesson=lesson.id, expected=", ".join(ids))
    return found


def submission(req: RunRequest, lessons: LessonStore, settings: Settings) -> Submission:
    """Check a run request and make it a Submission (HTTPException 404/413/422 naming the field)."""
    lesson = None
    if req.lesson is not None:
        lesson = lessons.get(req.lesson)
        if lesson is None:
            raise Problem(404, "no_lesson", lesson=req.lesson)
    if lesson is None and not req.files:
        invalid(["body"], "give a lesson id, files, or both", code="nothing_to_run")
    check_files(req.files or {}, ["body", "files"])
    files = {**(lesson.files if lesson else {}), **(req.files or {})}
    exercise = exercise_of(lesson, req)
    if exercise is not None and exercise.main not in (req.files or {}):
        files[exercise.main] = exercise.starter  # no code sent: the exercise's starting point
    main = req.main or (lesson.main if lesson else default_main(files))
    if main not in files:
        invalid(["body", "main"], f"the files do not include the main file {main[:80]!r}", code="no_main",
                main=main[:80])
    if req.stdin is not None and len(req.stdin.encode("utf-8", "surrogatepass")) > MAX_SOURCE:
        invalid(["body", "stdin"], f"stdin is larger than {MAX_SOURCE // 1024} KiB", 413, code="stdin_too_large",
                kib=MAX_SOURCE // 1024)
    asked = req.limits.model_dump(exclude_none=True) if req.limits else {}
    maximum = settings.max_limits.to_dict()
    for key, value in asked.items():
        if key in maximum and value > maximum[key]:
            invalid(["body", "limits", key], f"must be more than 0 and at most {maximum[key]} on this server",
                    code="limit_too_high", limit=key, max=maximum[key])
    limits = {**(lesson.limits if lesson else {}), **asked}
    pace = None
    if req.pace is not None and req.pace.mode != PaceMode.NORMAL:
        pace = Pace(req.pace.mode, req.pace.delay_ms)
    stdin = req.stdin if req.stdin is not None else (lesson.stdin if lesson else None)
    stdio = req.stdio.value if req.stdio else (lesson.stdio if lesson else None)
    return Submission(files=files, main=main, lesson=lesson.id if lesson else None, limits=limits or None,
                      questions=list(lesson.questions) if lesson else [], stdin=stdin, pace=pace, stdio=stdio,
                      exercise=exercise)
