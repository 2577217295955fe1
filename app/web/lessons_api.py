"""Lessons: list and detail; for instructors, raw files, validated saves and a check run."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from ..expectations import check as check_expectations
from ..lessons import LessonError, load_lesson
from ..runs import RunRefused
from .common import (
    FileContent,
    Web,
)


def register(app: FastAPI, web: Web) -> None:
    @app.get("/api/lessons")
    async def api_lessons() -> list[dict[str, Any]]:
        return [lesson.summary_dict() for lesson in web.lessons().ordered()]

    @app.get("/api/lessons/errors")
    async def api_lesson_errors() -> list[dict[str, Any]]:
        return [e.to_dict() for e in web.lessons().errors]

    @app.get("/api/lessons/{lesson_id}")
    async def api_lesson(lesson_id: str, request: Request) -> dict[str, Any]:
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        out = lesson.to_dict()
        if web.instructor(request):  # classroom: instructors see each exercise's reference solution
            out["exercises"] = [e.public(instructor=True) for e in lesson.exercises]
        return out

    @app.get("/api/lessons/{lesson_id}/files/{name}")
    async def get_lesson_file(lesson_id: str, name: str, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        path = lesson.dir / name
        if "/" in name or name.startswith(".") or not path.is_file() or path.is_symlink():
            raise HTTPException(404, f"no file {name!r} in lesson {lesson_id!r}")
        return {"name": name, "content": path.read_text(encoding="utf-8")}

    @app.put("/api/lessons/{lesson_id}/files/{name}")
    async def put_lesson_file(lesson_id: str, name: str, body: FileContent, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        if "/" in name or name.startswith(".") or not (name == "lesson.md" or name.endswith((".py", ".txt"))):
            raise HTTPException(422, f"bad file name {name!r}: lesson.md, or a .py or .txt file")
        import shutil
        import tempfile
        from pathlib import Path

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
                raise HTTPException(422, {"file": failed, "line": e.line, "message": e.message}) from e
        if checked.id != lesson.id and checked.id in web.state.lessons.lessons:
            raise HTTPException(422, {"file": name, "line": 2, "message": f"id {checked.id!r} is already used"})
        target = lesson.dir / name
        tmp_path = target.with_name(f".{name}.tmp")
        tmp_path.write_text(body.content, encoding="utf-8")
        os.replace(tmp_path, target)
        web.state.lessons.reload()
        return {"ok": True, "id": checked.id}

    @app.post("/api/lessons/{lesson_id}/check")
    async def check_lesson(lesson_id: str, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        try:
            run = web.state.manager.submit(dict(lesson.files), lesson.main, lesson.id, lesson.limits or None,
                                       "instructor-check", lesson.questions, lesson.stdin)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        await run.done.wait()
        results = check_expectations(lesson.expect, run.events)
        return {"run": run.id, "ok": all(r["ok"] for r in results), "results": results, "answers": run.answers}
