"""The classroom loop over HTTP (docs/classroom.md): students, predictions, wall, progress, batches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import (
    APIRouter,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from ..classroom import progress as progress_mod
from ..classroom.batches import MAX_BATCH, outcome_of
from ..classroom.batches import distribution as outcome_distribution
from ..classroom.exercises import Exercise
from ..classroom.hub import Classroom
from ..classroom.students import check_name, cookie_name
from ..expectations import METRICS
from ..lessons import Lesson
from ..rooms import Room
from ..runs import Run, RunRefused
from .common import MAX_SOURCE, RunRequest, Web, client_id, stream_queue


class StudentRequest(BaseModel):
    name: str = Field(description="a nickname: 1 to 40 characters, no control characters")


class PredictionRequest(BaseModel):
    lesson: str
    question: str
    answer: str = Field(min_length=1, max_length=100)


class RoundRequest(BaseModel):
    lesson: str


class ShowRequest(BaseModel):
    run: str | None = Field(description="the run the projector shows, or null to show none")


class MetricSpec(BaseModel):
    metric: str = Field(description=f"one of {', '.join(sorted(METRICS))}")
    contains: str | None = None
    kind: str | None = None
    of: str | None = None


class BatchRequest(RunRequest):
    count: int = Field(ge=1, le=MAX_BATCH, description=f"how many runs, 1 to {MAX_BATCH}")
    outcome: MetricSpec | None = Field(default=None, description="what tells outcomes apart (default output_order)")


class StudentRunRequest(BaseModel):
    lesson: str
    exercise: str | None = None
    files: dict[str, str] | None = None


def _metric(spec: MetricSpec | None) -> dict[str, Any]:
    if spec is None:
        return {"metric": "output_order"}
    if spec.metric not in METRICS:
        raise HTTPException(422, f"outcome.metric: expected one of {', '.join(sorted(METRICS))}, got {spec.metric!r}")
    return spec.model_dump(exclude_none=True)


def register(app: FastAPI, web: Web) -> None:
    router = APIRouter(tags=["classroom"])

    def classroom() -> Classroom:
        return web.state.classroom

    async def room_of(code: str) -> Room:
        """The room, with its classroom state loaded (from SQLite in a worker thread, once)."""
        cached = web.state.rooms.rooms.get(code.upper())  # no worker thread for a room in memory
        room = cached if cached is not None else await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        if room.code not in classroom().rooms:
            await asyncio.to_thread(classroom().room, room.code)
        return room

    async def student_of(room: Room, request: Request) -> dict[str, Any] | None:
        token = request.cookies.get(cookie_name(room.code))
        if not token:
            return None
        return classroom().student(room.code, token)

    async def need_student(room: Room, request: Request) -> dict[str, Any]:
        student = await student_of(room, request)
        if student is None:
            raise HTTPException(403, "join the room first (POST /api/rooms/{code}/students with your name)")
        return student

    def lesson_of(lesson_id: str) -> Lesson:
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        return lesson

    def named(body: StudentRequest) -> str:
        try:
            return check_name(body.name)
        except ValueError as e:
            raise HTTPException(422, [{"loc": ["body", "name"], "msg": str(e), "type": "value_error"}]) from e

    # ------------------------------------------------------------ students

    @router.post("/api/rooms/{code}/students", status_code=201)
    async def join(code: str, body: StudentRequest, request: Request, response: Response) -> dict[str, Any]:
        """Join a room with a nickname; the browser is this student from now on (a cookie per room)."""
        room = await room_of(code)
        name = named(body)
        cl = classroom()
        known = await student_of(room, request)
        token = None
        student: dict[str, Any]
        if known is not None:  # the same browser joining again (another tab): same student, maybe new name
            await asyncio.to_thread(cl.store.rename, room.code, known["id"], name)
            student = {**known, "name": name}
        else:
            student, token = await asyncio.to_thread(cl.store.add_student, room.code, name)
            response.set_cookie(cookie_name(room.code), token, max_age=30 * 86400, httponly=True, samesite="lax",
                                path="/")
        cl.joined(room.code, student, token)
        cl.notify(room.code, "students")
        cl.notify(room.code, "wall")
        return student

    @router.get("/api/rooms/{code}/me")
    async def me(code: str, request: Request) -> dict[str, Any]:
        """This browser's student in the room: `{"joined": true, id, name}`, or `{"joined": false}`."""
        room = await room_of(code)
        student = await student_of(room, request)
        return {"joined": False} if student is None else {"joined": True, **student}

    @router.get("/api/rooms/{code}/students")
    async def students(code: str, request: Request) -> list[dict[str, Any]]:
        web.need_instructor(request)
        room = await room_of(code)
        return await asyncio.to_thread(classroom().store.students, room.code)

    @router.patch("/api/rooms/{code}/students/{sid}")
    async def rename(code: str, sid: str, body: StudentRequest, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        room = await room_of(code)
        name = named(body)
        if not await asyncio.to_thread(classroom().store.rename, room.code, sid, name):
            raise HTTPException(404, f"no student {sid!r} in room {room.code}")
        classroom().room(room.code).names[sid] = name
        classroom().notify(room.code, "wall")
        return {"id": sid, "name": name}

    @router.delete("/api/rooms/{code}/students/{sid}", status_code=204)
    async def remove(code: str, sid: str, request: Request) -> Response:
        web.need_instructor(request)
        room = await room_of(code)
        if not await asyncio.to_thread(classroom().store.remove, room.code, sid):
            raise HTTPException(404, f"no student {sid!r} in room {room.code}")
        classroom().removed(room.code, sid)
        for what in ("wall", "predictions", "progress"):
            classroom().notify(room.code, what)
        return Response(status_code=204)

    # ------------------------------------------------------------ predictions

    @router.post("/api/rooms/{code}/predictions", status_code=204)
    async def predict(code: str, body: PredictionRequest, request: Request) -> Response:
        room = await room_of(code)
        student = await need_student(room, request)
        lesson = lesson_of(body.lesson)
        if not any(q["id"] == body.question for q in lesson.questions):
            raise HTTPException(422, f"question: lesson {lesson.id!r} has no question {body.question!r}; expected "
                                f"one of {[q['id'] for q in lesson.questions]}")
        await asyncio.to_thread(classroom().store.predict, room.code, lesson.id, body.question, student["id"],
                                body.answer.strip())
        classroom().notify(room.code, "predictions")
        return Response(status_code=204)

    @router.post("/api/rooms/{code}/predictions/rounds", status_code=201)
    async def new_round(code: str, body: RoundRequest, request: Request) -> dict[str, Any]:
        """Vote again: a new round; the earlier rounds stay for comparison."""
        web.need_instructor(request)
        room = await room_of(code)
        lesson = lesson_of(body.lesson)
        n = await asyncio.to_thread(classroom().store.new_round, room.code, lesson.id)
        classroom().notify(room.code, "predictions")
        return {"round": n}

    @router.get("/api/rooms/{code}/predictions")
    async def predictions(code: str, request: Request, lesson: str = Query()) -> dict[str, Any]:
        """Per round and question: {answer: count} and how many answered; no names. `kernel`: the real
        answers of the room's latest finished run of the lesson (null before it)."""
        room = await room_of(code)
        found = lesson_of(lesson)
        store = classroom().store
        hist = await asyncio.to_thread(store.histogram, room.code, found.id)
        current = await asyncio.to_thread(store.current_round, room.code, found.id)
        rounds = []
        for rnd in range(1, current + 1):
            qs = hist.get(rnd, {})
            rounds.append({"round": rnd, "questions": {
                q["id"]: {"answers": qs.get(q["id"], {}), "answered": sum(qs.get(q["id"], {}).values())}
                for q in found.questions}})
        kernel, kernel_run = await kernel_answers(room, found.id)
        return {"lesson": found.id, "round": current, "rounds": rounds, "kernel": kernel, "kernel_run": kernel_run,
                "questions": [{"id": q["id"], "prompt": q["prompt"]} for q in found.questions]}

    async def kernel_answers(room: Room, lesson_id: str) -> tuple[dict[str, Any] | None, str | None]:
        for run_id in reversed(room.run_ids):
            run = web.state.manager.runs.get(run_id)
            rec = run.public() if run is not None else await asyncio.to_thread(web.state.storage.get_run, run_id)
            if rec and rec.get("lesson") == lesson_id and rec.get("status") == "finished" and rec.get("answers"):
                return rec["answers"], run_id
        return None, None

    # ------------------------------------------------------------ students' own runs

    @router.post("/api/rooms/{code}/my-runs", status_code=201)
    async def student_run(code: str, body: StudentRunRequest, request: Request) -> dict[str, Any]:
        """A joined student's run (a lesson, or an exercise with their code): on the wall, graded, one at a
        time per student; the queue is first come, first served. `position`: 0 running, N-th in the queue."""
        room = await room_of(code)
        student = await need_student(room, request)
        lesson = lesson_of(body.lesson)
        cl = classroom()
        busy = cl.student_busy(room.code, student["id"])
        if busy is not None:
            raise HTTPException(409, f"your run {busy.id} is still going: one run at a time in a room")
        exercise = web.exercise_of(lesson, RunRequest(lesson=lesson.id, exercise=body.exercise))
        files = dict(lesson.files)
        if exercise is not None:
            files[exercise.main] = exercise.starter
        for name, content in (body.files or {}).items():
            if not name or "/" in name or name.startswith(".") or len(name) > 64:
                raise HTTPException(422, f"files: bad file name {name!r}: a plain name like main.py is expected")
            if len(content.encode()) > MAX_SOURCE:
                raise HTTPException(413, f"{name} is larger than {MAX_SOURCE // 1024} KiB")
            files[name] = content
        try:
            run = web.state.manager.submit(files, lesson.main, lesson.id, lesson.limits or None, client_id(request),
                                           lesson.questions, lesson.stdin, exercise=exercise)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        cl.add_student_run(room.code, student["id"], run, exercise)
        cl.remember_run(room.code, student["id"], run.id, lesson.id, exercise.id if exercise else None)
        return {**run.public(), "position": cl.queue_position(run)}

    @router.get("/api/rooms/{code}/outcomes")
    async def room_outcomes(code: str, request: Request, lesson: str = Query(),
                            metric: str = Query("output_order")) -> dict[str, Any]:
        """The distribution of outcomes over every student's finished runs of the lesson in this room."""
        web.need_instructor(request)
        room = await room_of(code)
        found = lesson_of(lesson)
        spec = _metric(MetricSpec(metric=metric))
        ids = await asyncio.to_thread(classroom().store.runs_of_lesson, room.code, found.id)
        pairs = []
        for run_id in ids:
            run = web.state.manager.runs.get(run_id)
            if run is not None and run.status.value != "finished":
                continue
            events = run.events if run is not None else await asyncio.to_thread(web.state.storage.get_events, run_id)
            if events and events[-1]["type"] == "run.finished":
                pairs.append((run_id, outcome_of(spec, events)))
        return {"lesson": found.id, "metric": spec, "runs": len(pairs), "outcomes": outcome_distribution(pairs)}

    # ------------------------------------------------------------ wall, projector, progress

    @router.get("/api/rooms/{code}/wall")
    async def wall(code: str, request: Request) -> dict[str, Any]:
        """Per student: their current or last run (status, small tree, limit, error) and whether it is stuck
        (a process blocked over 10 s, with the reason)."""
        web.need_instructor(request)
        room = await room_of(code)
        return {"students": classroom().wall(room.code), "shown": classroom().room(room.code).shown}

    @router.post("/api/rooms/{code}/show", status_code=204)
    async def show(code: str, body: ShowRequest, request: Request) -> Response:
        """Show a run on the projector view (every class view of the room is told)."""
        web.need_instructor(request)
        room = await room_of(code)
        if body.run is not None:
            await web.find_run(body.run)
        classroom().room(room.code).shown = body.run
        classroom().notify(room.code, "show")
        return Response(status_code=204)

    async def matrix(room: Room) -> dict[str, Any]:
        cl = classroom()
        studs = await asyncio.to_thread(cl.store.students, room.code)
        rows = await asyncio.to_thread(cl.store.progress, room.code)
        return progress_mod.matrix(studs, cl.exercises(), rows)

    @router.get("/api/rooms/{code}/progress")
    async def progress(code: str, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        return await matrix(await room_of(code))

    @router.get("/api/rooms/{code}/progress.csv", response_class=PlainTextResponse)
    async def progress_csv(code: str, request: Request) -> Response:
        web.need_instructor(request)
        room = await room_of(code)
        text = progress_mod.to_csv(await matrix(room))
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="progress-{room.code}.csv"'})

    @router.websocket("/ws/rooms/{code}/class")
    async def ws_class(ws: WebSocket, code: str) -> None:
        """Instructor and projector pages: a notice whenever the wall, predictions or progress changed."""
        await ws.accept()
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            await ws.close(code=4404, reason="no such room")
            return
        if not web.instructor(ws):
            await ws.close(code=4403, reason="instructors only")
            return
        if room.code not in classroom().rooms:
            await asyncio.to_thread(classroom().room, room.code)
        q = classroom().watch(room.code)
        q.put_nowait(json.dumps({"type": "class.changed", "what": ["hello"], "shown": classroom().room(room.code).shown}))
        try:
            await stream_queue(ws, q, close_at_end=True)
        except WebSocketDisconnect:
            pass
        finally:
            classroom().unwatch(room.code, q)

    @router.get("/api/exercises")
    async def all_exercises() -> list[dict[str, Any]]:
        """Every exercise of the course, in lesson order (no solutions: see GET /api/lessons/{id})."""
        return [{**e.public(), "lesson_title": lesson.title} for lesson in web.lessons().ordered()
                for e in lesson.exercises]

    # ------------------------------------------------------------ batches

    @router.post("/api/batches", status_code=201)
    async def create_batch(body: BatchRequest, request: Request) -> dict[str, Any]:
        """Run one program `count` times (at most 50) through the normal queue; see GET for the outcomes."""
        lesson = lesson_of(body.lesson) if body.lesson else None
        if lesson is None and not body.files:
            raise HTTPException(422, "give a lesson id, files, or both")
        exercise: Exercise | None = web.exercise_of(lesson, body)
        files = dict(lesson.files) if lesson else {}
        if exercise is not None:
            files[exercise.main] = exercise.starter
        for name, content in (body.files or {}).items():
            if not name or "/" in name or name.startswith(".") or len(name) > 64:
                raise HTTPException(422, f"files: bad file name {name!r}: a plain name like main.py is expected")
            if len(content.encode()) > MAX_SOURCE:
                raise HTTPException(413, f"{name} is larger than {MAX_SOURCE // 1024} KiB")
            files[name] = content
        main = body.main or (lesson.main if lesson else "main.py")
        limits = {**(lesson.limits if lesson else {}), **(body.limits or {})} or None
        metric = _metric(body.outcome)
        who = client_id(request)

        def submit() -> Run:
            return web.state.manager.submit(files, main, lesson.id if lesson else None, limits, who,
                                            lesson.questions if lesson else None,
                                            body.stdin if body.stdin is not None else (lesson.stdin if lesson else None),
                                            exercise=exercise)
        try:
            batch = classroom().batches.start(body.count, metric, who, submit)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        return batch.public()

    @router.get("/api/batches/{batch_id}")
    async def get_batch(batch_id: str) -> dict[str, Any]:
        batch = classroom().batches.batches.get(batch_id)
        if batch is None:
            raise HTTPException(404, f"no batch {batch_id!r}")
        return batch.public()

    app.include_router(router)
    register_pages(app, web)


def register_pages(app: FastAPI, web: Web) -> None:
    """The class view (instructor, projector) and the student page (in a room, or solo exercises)."""
    from fastapi.responses import HTMLResponse, RedirectResponse

    from .common import script_json

    @app.get("/room/{code}/class", response_class=HTMLResponse, include_in_schema=False)
    async def class_page(code: str, request: Request, projector: bool = False) -> Response:
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        if not web.instructor(request):
            return RedirectResponse("/signin", status_code=303)
        info = {"code": room.code, "title": room.title, "projector": projector}
        return web.page(request, "classroom.html", room=info, room_json=script_json(info), projector=projector)

    @app.get("/room/{code}/student", response_class=HTMLResponse, include_in_schema=False)
    async def student_page(code: str, request: Request) -> Response:
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        info = {"code": room.code, "title": room.title}
        return web.page(request, "classroom_student.html", room=info, data_json=script_json({"room": info}))

    @app.get("/exercises", response_class=HTMLResponse, include_in_schema=False)
    async def solo_page(request: Request) -> Response:
        return web.page(request, "classroom_student.html", room=None, data_json=script_json({"room": None}))
