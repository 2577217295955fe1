"""The classroom loop over HTTP (docs/classroom.md): students, predictions, wall, progress, batches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from ..classroom import progress as progress_mod
from ..classroom.batches import MAX_BATCH, outcome_of
from ..classroom.batches import distribution as outcome_distribution
from ..classroom.hub import Classroom
from ..classroom.students import MAX_NAME, check_name, cookie_name
from ..expectations import METRICS
from ..lessons import Lesson
from ..rooms import Room
from ..runs import Client, Run, RunRefused, RunStatus
from .common import WS_FORBIDDEN, WS_NOT_FOUND, Web, script_json, stream_feed
from .deps import ClientDep, Instructor, WebDep
from .models import MAX_FILES, RunRequest
from .problems import Problem
from .submission import invalid, submission

router = APIRouter(tags=["classroom"])


class StudentRequest(BaseModel):
    name: str = Field(max_length=400, description="a nickname: 1 to 40 characters, no control characters")


class PredictionRequest(BaseModel):
    lesson: str = Field(max_length=200)
    question: str = Field(max_length=200)
    answer: str = Field(min_length=1, max_length=100)


class RoundRequest(BaseModel):
    lesson: str = Field(max_length=200)


class ShowRequest(BaseModel):
    run: str | None = Field(max_length=200, description="the run the projector shows, or null to show none")


class MetricSpec(BaseModel):
    metric: str = Field(max_length=100, description=f"one of {', '.join(sorted(METRICS))}")
    contains: str | None = Field(default=None, max_length=1000)
    kind: str | None = Field(default=None, max_length=100)
    of: str | None = Field(default=None, max_length=100)


class BatchRequest(RunRequest):
    count: int = Field(ge=1, le=MAX_BATCH, description=f"how many runs, 1 to {MAX_BATCH}")
    outcome: MetricSpec | None = Field(default=None, description="what tells outcomes apart (default output_order)")


class StudentRunRequest(BaseModel):
    lesson: str = Field(max_length=200)
    exercise: str | None = Field(default=None, max_length=200)
    files: dict[str, str] | None = Field(default=None, max_length=MAX_FILES)


def _metric(spec: MetricSpec | None, loc: tuple[str, ...] = ("body", "outcome", "metric")) -> dict[str, Any]:
    if spec is None:
        return {"metric": "output_order"}
    if spec.metric not in METRICS:
        invalid(list(loc), f"{'.'.join(loc[1:])}: expected one of {', '.join(sorted(METRICS))}, got "
                f"{spec.metric!r}", code="bad_metric", expected=", ".join(sorted(METRICS)), got=spec.metric)
    return spec.model_dump(exclude_none=True)


async def room_of(web: Web, code: str) -> Room:
    """The room, with its classroom state loaded (from SQLite in a worker thread, once)."""
    cached = web.state.rooms.rooms.get(code.upper())  # no worker thread for a room in memory
    room = cached if cached is not None else await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    if room.code not in web.state.classroom.rooms:
        await asyncio.to_thread(web.state.classroom.room, room.code)
    return room


def student_of(web: Web, room: Room, conn: HTTPConnection) -> dict[str, Any] | None:
    token = conn.cookies.get(cookie_name(room.code))
    return web.state.classroom.student(room.code, token) if token else None


def need_student(web: Web, room: Room, conn: HTTPConnection) -> dict[str, Any]:
    student = student_of(web, room, conn)
    if student is None:
        raise Problem(403, "join_first", room=room.code)
    return student


def lesson_of(web: Web, lesson_id: str) -> Lesson:
    lesson = web.lessons().get(lesson_id)
    if lesson is None:
        raise Problem(404, "no_lesson", lesson=lesson_id)
    return lesson


def named(body: StudentRequest) -> str:
    try:
        return check_name(body.name)
    except ValueError as e:
        invalid(["body", "name"], str(e), code="student_name", max=MAX_NAME)


# ------------------------------------------------------------ students

@router.post("/api/rooms/{code}/students", status_code=201)
async def join(code: str, body: StudentRequest, web: WebDep, request: Request, response: Response) -> dict[str, Any]:
    """Join a room with a nickname; the browser is this student from now on (a cookie per room)."""
    room = await room_of(web, code)
    name = named(body)
    cl = web.state.classroom
    known = student_of(web, room, request)
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
async def me(code: str, web: WebDep, request: Request) -> dict[str, Any]:
    """This browser's student in the room: `{"joined": true, id, name}`, or `{"joined": false}`."""
    room = await room_of(web, code)
    student = student_of(web, room, request)
    return {"joined": False} if student is None else {"joined": True, **student}


@router.get("/api/rooms/{code}/students", dependencies=[Instructor])
async def students(code: str, web: WebDep) -> list[dict[str, Any]]:
    room = await room_of(web, code)
    return await asyncio.to_thread(web.state.classroom.store.students, room.code)


@router.patch("/api/rooms/{code}/students/{sid}", dependencies=[Instructor])
async def rename(code: str, sid: str, body: StudentRequest, web: WebDep) -> dict[str, Any]:
    room = await room_of(web, code)
    name = named(body)
    cl = web.state.classroom
    if not await asyncio.to_thread(cl.store.rename, room.code, sid, name):
        raise Problem(404, "no_student", student=sid, room=room.code)
    cl.room(room.code).names[sid] = name
    cl.notify(room.code, "wall")
    return {"id": sid, "name": name}


@router.delete("/api/rooms/{code}/students/{sid}", status_code=204, dependencies=[Instructor])
async def remove(code: str, sid: str, web: WebDep) -> Response:
    room = await room_of(web, code)
    cl = web.state.classroom
    if not await asyncio.to_thread(cl.store.remove, room.code, sid):
        raise Problem(404, "no_student", student=sid, room=room.code)
    cl.removed(room.code, sid)
    for what in ("wall", "predictions", "progress"):
        cl.notify(room.code, what)
    return Response(status_code=204)


# ------------------------------------------------------------ predictions

@router.post("/api/rooms/{code}/predictions", status_code=204)
async def predict(code: str, body: PredictionRequest, web: WebDep, request: Request) -> Response:
    room = await room_of(web, code)
    student = need_student(web, room, request)
    lesson = lesson_of(web, body.lesson)
    if not any(q["id"] == body.question for q in lesson.questions):
        ids = [q["id"] for q in lesson.questions]
        invalid(["body", "question"], f"lesson {lesson.id!r} has no question {body.question!r}; expected one of {ids}",
                code="no_question", lesson=lesson.id, question=body.question, expected=", ".join(ids))
    cl = web.state.classroom
    await asyncio.to_thread(cl.store.predict, room.code, lesson.id, body.question, student["id"], body.answer.strip())
    cl.notify(room.code, "predictions")
    return Response(status_code=204)


@router.post("/api/rooms/{code}/predictions/rounds", status_code=201, dependencies=[Instructor])
async def new_round(code: str, body: RoundRequest, web: WebDep) -> dict[str, Any]:
    """Vote again: a new round; the earlier rounds stay for comparison."""
    room = await room_of(web, code)
    lesson = lesson_of(web, body.lesson)
    n = await asyncio.to_thread(web.state.classroom.store.new_round, room.code, lesson.id)
    web.state.classroom.notify(room.code, "predictions")
    return {"round": n}


@router.get("/api/rooms/{code}/predictions")
async def predictions(code: str, web: WebDep, lesson: str = Query(max_length=200)) -> dict[str, Any]:
    """Per round and question: {answer: count} and how many answered; no names. `kernel`: the real
    answers of the room's latest finished run of the lesson (null before it)."""
    room = await room_of(web, code)
    found = lesson_of(web, lesson)
    store = web.state.classroom.store
    hist = await asyncio.to_thread(store.histogram, room.code, found.id)
    current = await asyncio.to_thread(store.current_round, room.code, found.id)
    rounds = []
    for rnd in range(1, current + 1):
        qs = hist.get(rnd, {})
        rounds.append({"round": rnd, "questions": {
            q["id"]: {"answers": qs.get(q["id"], {}), "answered": sum(qs.get(q["id"], {}).values())}
            for q in found.questions}})
    kernel, kernel_run = await kernel_answers(web, room, found.id)
    return {"lesson": found.id, "round": current, "rounds": rounds, "kernel": kernel, "kernel_run": kernel_run,
            "questions": [{"id": q["id"], "prompt": q["prompt"]} for q in found.questions]}


async def kernel_answers(web: Web, room: Room, lesson_id: str) -> tuple[dict[str, Any] | None, str | None]:
    for run_id in reversed(room.run_ids):
        run = web.state.manager.runs.get(run_id)
        rec = run.public() if run is not None else await asyncio.to_thread(web.state.storage.get_run, run_id)
        if rec and rec.get("lesson") == lesson_id and rec.get("status") == "finished" and rec.get("answers"):
            return rec["answers"], run_id
    return None, None


# ------------------------------------------------------------ students' own runs

@router.post("/api/rooms/{code}/my-runs", status_code=201)
async def student_run(code: str, body: StudentRunRequest, web: WebDep, client: ClientDep,
                      request: Request) -> dict[str, Any]:
    """A joined student's run (a lesson, or an exercise with their code): on the wall, graded, one at a
    time per student; the queue is first come, first served. `position`: 0 running, N-th in the queue."""
    room = await room_of(web, code)
    student = need_student(web, room, request)
    cl = web.state.classroom
    busy = await busy_run(web, room.code, student["id"])
    if busy is not None:
        raise Problem(409, "one_run_at_a_time", run=busy)
    sub = submission(RunRequest(lesson=body.lesson, exercise=body.exercise, files=body.files), web.lessons(),
                     web.settings)
    # The student's own run (owner: this browser), not the room's. A class shares one address (a school's
    # NAT): the per-IP cap would stop the 13th student, so the room's one-run-each rule stands in for it.
    who = Client(id=client.id, ip="")
    try:
        # Admission as for any run (another node may take it); that node puts it on the wall and grades it.
        placed = await web.state.cluster.place(sub, who, student=(room.code, student["id"]))
    except RunRefused as e:
        raise Problem(e.status, e.code, **e.params) from e
    cl.remember_run(room.code, student["id"], placed["id"], sub.lesson or body.lesson,
                    sub.exercise.id if sub.exercise else None)
    run = web.state.manager.runs.get(placed["id"])
    position = cl.queue_position(run) if run is not None else int(placed.get("position") or 0)
    return {**placed, "position": position}


async def busy_run(web: Web, code: str, sid: str) -> str | None:
    """The student's run still going, on whichever node holds it."""
    run_id = await web.state.classroom.latest_run(code, sid)
    if run_id is None:
        return None
    run = web.state.manager.runs.get(run_id)
    if run is not None:
        return run_id if run.status != RunStatus.FINISHED else None
    meta = await web.state.cluster.meta(run_id)
    return run_id if meta is not None and meta.get("status") != RunStatus.FINISHED else None


@router.get("/api/rooms/{code}/outcomes", dependencies=[Instructor])
async def room_outcomes(code: str, web: WebDep, lesson: str = Query(max_length=200),
                        metric: str = Query("output_order", max_length=100)) -> dict[str, Any]:
    """The distribution of outcomes over every student's finished runs of the lesson in this room."""
    room = await room_of(web, code)
    found = lesson_of(web, lesson)
    spec = _metric(MetricSpec(metric=metric), ("query", "metric"))
    ids = await asyncio.to_thread(web.state.classroom.store.runs_of_lesson, room.code, found.id)
    pairs = []
    for run_id in ids:
        run = web.state.manager.runs.get(run_id)
        if run is not None and run.status != RunStatus.FINISHED:
            continue
        events = run.events if run is not None else await asyncio.to_thread(web.state.storage.get_events, run_id)
        if events and events[-1]["type"] == "run.finished":
            pairs.append((run_id, outcome_of(spec, events)))
    return {"lesson": found.id, "metric": spec, "runs": len(pairs), "outcomes": outcome_distribution(pairs)}


# ------------------------------------------------------------ wall, projector, progress

@router.get("/api/rooms/{code}/wall", dependencies=[Instructor])
async def wall(code: str, web: WebDep) -> dict[str, Any]:
    """Per student: their current or last run (status, small tree, limit, error) and whether it is stuck
    (a process blocked over 10 s, with the reason)."""
    room = await room_of(web, code)
    cl = web.state.classroom
    return {"students": await cl.wall_everywhere(room.code), "shown": cl.room(room.code).shown}


@router.post("/api/rooms/{code}/show", status_code=204, dependencies=[Instructor])
async def show(code: str, body: ShowRequest, web: WebDep) -> Response:
    """Show a run on the projector view (every class view of the room is told)."""
    room = await room_of(web, code)
    if body.run is not None:
        await web.run_meta(body.run)
    cl = web.state.classroom
    cl.room(room.code).shown = body.run
    cl.notify(room.code, "show")
    return Response(status_code=204)


async def matrix(web: Web, room: Room) -> dict[str, Any]:
    cl = web.state.classroom
    studs = await asyncio.to_thread(cl.store.students, room.code)
    rows = await asyncio.to_thread(cl.store.progress, room.code)
    return progress_mod.matrix(studs, cl.exercises(), rows)


@router.get("/api/rooms/{code}/progress", dependencies=[Instructor])
async def progress(code: str, web: WebDep) -> dict[str, Any]:
    return await matrix(web, await room_of(web, code))


@router.get("/api/rooms/{code}/progress.csv", response_class=PlainTextResponse, dependencies=[Instructor])
async def progress_csv(code: str, web: WebDep) -> Response:
    room = await room_of(web, code)
    text = progress_mod.to_csv(await matrix(web, room))
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="progress-{room.code}.csv"'})


@router.websocket("/ws/rooms/{code}/class")
async def ws_class(ws: WebSocket, code: str, web: WebDep) -> None:
    """Instructor and projector pages: a notice whenever the wall, predictions or progress changed."""
    if not await web.ws_admit(ws):
        return
    try:
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            await ws.close(code=WS_NOT_FOUND, reason="no such room")
            return
        if not web.instructor(ws):
            await ws.close(code=WS_FORBIDDEN, reason="instructors only")
            return
        cl: Classroom = web.state.classroom
        if room.code not in cl.rooms:
            await asyncio.to_thread(cl.room, room.code)
        feed = cl.watch(room.code)
        feed.push([json.dumps({"type": "class.changed", "what": ["hello"], "shown": cl.room(room.code).shown})])
        try:
            await stream_feed(ws, feed, "reconnect and fetch afresh", close_at_end=False)
        except WebSocketDisconnect:
            pass
        finally:
            cl.unwatch(room.code, feed)
    finally:
        web.ws_leave(ws)


@router.get("/api/exercises")
async def all_exercises(web: WebDep) -> list[dict[str, Any]]:
    """Every exercise of the course, in lesson order (no solutions: see GET /api/lessons/{id})."""
    return [{**e.public(), "lesson_title": lesson.title} for lesson in web.lessons().ordered()
            for e in lesson.exercises]


# ------------------------------------------------------------ batches

@router.post("/api/batches", status_code=201)
async def create_batch(body: BatchRequest, web: WebDep, client: ClientDep) -> dict[str, Any]:
    """Run one program `count` times (at most 50) through the normal queue; see GET for the outcomes."""
    sub = submission(body, web.lessons(), web.settings)
    metric = _metric(body.outcome)

    def submit() -> Run:
        return web.state.manager.submit(sub, client)
    try:
        batch = web.state.classroom.batches.start(body.count, metric, client.id, submit, body.lesson)
    except RunRefused as e:
        raise Problem(e.status, e.code, **e.params) from e
    return batch.public()


@router.get("/api/batches/{batch_id}")
async def get_batch(batch_id: str, web: WebDep, client: ClientDep, request: Request) -> dict[str, Any]:
    """The batch's runs and outcomes (their output): for the browser that started it and instructors, as a run is."""
    found = await web.state.classroom.batches.get(batch_id)
    if found is None:
        raise Problem(404, "no_batch", batch=batch_id)
    batch, owner = found
    if not web.instructor(request) and owner != client.id:
        raise Problem(403, "not_your_batch")
    return batch


# ------------------------------------------------------------ pages

@router.get("/room/{code}/class", response_class=HTMLResponse, include_in_schema=False)
async def class_page(code: str, web: WebDep, request: Request, projector: bool = False) -> Response:
    """The class view (instructor) and, with ?projector=1, the projector's."""
    room = await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    if not web.instructor(request):
        return RedirectResponse("/signin", status_code=303)
    info = {"code": room.code, "title": room.title, "projector": projector}
    return web.page(request, "classroom.html", room=info, room_json=script_json(info), projector=projector)


@router.get("/room/{code}/student", response_class=HTMLResponse, include_in_schema=False)
async def student_page(code: str, web: WebDep, request: Request) -> Response:
    room = await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    info = {"code": room.code, "title": room.title}
    return web.page(request, "classroom_student.html", room=info, data_json=script_json({"room": info}))


@router.get("/exercises", response_class=HTMLResponse, include_in_schema=False)
async def solo_page(web: WebDep, request: Request) -> Response:
    return web.page(request, "classroom_student.html", room=None, data_json=script_json({"room": None}))
