"""Lessons: list and detail; for instructors, raw files, validated saves and a check run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ..expectations import check as check_expectations
from ..lessons import LessonError, load_lesson
from ..msg import msg, shown
from ..runs import Client, RunRefused
from .deps import Instructor, WebDep
from .models import FileContent, RunRequest
from .problems import Problem
from .submission import bad_name, invalid, name_problem, submission

router = APIRouter(tags=["lessons"])


@router.get("/api/lessons")
async def api_lessons(web: WebDep) -> list[dict[str, Any]]:
    return [lesson.summary_dict() for lesson in web.lessons().ordered()]


@router.get("/api/lessons/errors")
async def api_lesson_errors(web: WebDep) -> list[dict[str, Any]]:
    return [e.to_dict() for e in web.lessons().errors]


@router.get("/api/lessons/{lesson_id}")
async def api_lesson(lesson_id: str, web: WebDep, request: Request) -> dict[str, Any]:
    lesson = web.lessons().get(lesson_id)
    if lesson is None:
        raise Problem(404, "no_lesson", lesson=lesson_id)
    out = lesson.to_dict()
    if web.instructor(request):  # classroom: instructors see each exercise's reference solution
        out["exercises"] = [e.public(instructor=True) for e in lesson.exercises]
    return out


@router.get("/api/lessons/{lesson_id}/files/{name}", dependencies=[Instructor])
async def get_lesson_file(lesson_id: str, name: str, web: WebDep) -> dict[str, Any]:
    lesson = web.lessons().get(lesson_id)
    if lesson is None:
        raise Problem(404, "no_lesson", lesson=lesson_id)
    if name_problem(name):
        raise Problem(404, "no_file", name=name[:80], lesson=lesson_id)
    path = lesson.dir / name
    if not path.is_file() or path.is_symlink():
        raise Problem(404, "no_file", name=name, lesson=lesson_id)
    return {"name": name, "content": path.read_text(encoding="utf-8")}


@router.put("/api/lessons/{lesson_id}/files/{name}", dependencies=[Instructor])
async def put_lesson_file(lesson_id: str, name: str, body: FileContent, web: WebDep) -> dict[str, Any]:
    lesson = web.lessons().get(lesson_id)
    if lesson is None:
        raise Problem(404, "no_lesson", lesson=lesson_id)
    problem = name_problem(name)
    if problem:
        bad_name(["path", "name"], name, problem, "")
    if not (name == "lesson.md" or name.endswith((".py", ".c", ".h", ".txt"))):
        invalid(["path", "name"], f"bad file name {name[:80]!r}: lesson.md, or a .py, .c, .h or .txt file",
                code="lesson_file_name", name=name[:80])
    # Validate a copy first: a broken save never replaces a working lesson.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / lesson.dir.name
        shutil.copytree(lesson.dir, copy)
        (copy / name).write_text(body.content, encoding="utf-8")
        try:
            checked = load_lesson(copy)
        except LessonError as e:
            # Name the file that failed (it may not be the one saved: lesson.md's main may point elsewhere).
            failed = os.path.relpath(e.path, copy) if e.path.startswith(str(copy)) else name
            raise HTTPException(422, {**e.to_dict(), "file": failed}) from e
    if checked.id != lesson.id and checked.id in web.state.lessons.lessons:
        used = LessonError(name, 2, msg("id_used_short", id=shown(checked.id)))
        raise HTTPException(422, used.to_dict())
    target = lesson.dir / name
    tmp_path = target.with_name(f".{name}.tmp")
    tmp_path.write_text(body.content, encoding="utf-8")
    os.replace(tmp_path, target)
    web.state.lessons.reload()
    return {"ok": True, "id": checked.id}


@router.post("/api/lessons/{lesson_id}/check", dependencies=[Instructor])
async def check_lesson(lesson_id: str, web: WebDep) -> dict[str, Any]:
    sub = submission(RunRequest(lesson=lesson_id), web.lessons(), web.settings)
    try:
        run = web.state.manager.submit(sub, Client.internal("check"))
    except RunRefused as e:
        raise Problem(e.status, e.code, **e.params) from e
    await run.done.wait()
    lesson = web.state.lessons.get(lesson_id)
    results = check_expectations(lesson.expect if lesson else [], run.events)
    return {"run": run.id, "ok": all(r["ok"] for r in results), "results": results, "answers": run.answers}
