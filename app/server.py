"""The web process: FastAPI app, pages, REST under /api, WebSockets under /ws, /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from . import auth
from .expectations import check as check_expectations
from .lessons import LessonError, LessonStore, load_lesson
from .rooms import RoomHub
from .runs import RunManager, RunRefused, RunStatus
from .runspec import active_layers, floor_missing
from .sandbox.client import Launcher, LauncherError
from .settings import ROOT, Settings, get_settings
from .storage import Storage

log = logging.getLogger("proclab")

MAX_SOURCE = 256 * 1024
# Everything the pages need comes from this server; nothing else may load (offline classrooms, safety).
CSP = ("default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'")
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2", "SIGHUP")


class PaceRequest(BaseModel):
    mode: str = Field(description="normal, paused, step or slow")
    delay_ms: int | None = Field(default=None, ge=0, le=10000)


class RunRequest(BaseModel):
    lesson: str | None = None
    files: dict[str, str] | None = None
    main: str | None = None
    stdin: str | None = None
    limits: dict[str, float] | None = None
    pace: PaceRequest | None = Field(default=None, description="start paced (e.g. step mode from the first call)")


class SignalRequest(BaseModel):
    pid: int
    signal: str = Field(description=f"one of {', '.join(SIGNALS)}")


class InputRequest(BaseModel):
    text: str = Field(max_length=65536)
    eof: bool = False




class FileContent(BaseModel):
    content: str = Field(max_length=MAX_SOURCE)


class RoomRequest(BaseModel):
    title: str | None = Field(default=None, max_length=200)


@functools.lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """A QR code of the room's URL for the projector (inline SVG, made here: no request leaves)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=6, border=2, xmldecl=False, svgns=True)
    return buf.getvalue().decode()


def script_json(data: Any) -> str:
    """JSON that is safe inside <script type="application/json">."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


def pick_lang(request: Request) -> str:
    cookie = request.cookies.get("lang")
    if cookie in ("en", "zh"):
        return cookie
    accept = request.headers.get("accept-language", "")
    return "zh" if accept.lower().startswith("zh") else "en"


def client_id(request: Request) -> str:
    return request.cookies.get("pl_client") or (request.client.host if request.client else "unknown")


class State:
    settings: Settings
    lessons: LessonStore
    launcher: Launcher
    storage: Storage
    manager: RunManager
    rooms: RoomHub
    started: float


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = State()
    state.settings = settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.started = time.time()
        state.lessons = LessonStore(settings.lessons_dir)
        for err in state.lessons.errors:
            log.error("lesson not loaded: %s", err)
        state.launcher = Launcher.create(settings.runtime_dir, settings.uid_base, settings.max_concurrent_runs,
                                         settings.run_python, settings.disabled)
        try:
            await asyncio.to_thread(state.launcher.start)
        except LauncherError as e:
            log.error("the sandbox launcher could not start: %s", e)
        state.storage = Storage(settings.data_dir / "proclab.db")
        state.manager = RunManager(settings, state.launcher, state.storage)
        state.rooms = RoomHub(state.manager)
        state.manager.floor_missing = floor_missing(state.launcher.info, state.launcher.as_root) \
            if state.launcher.info else ["process"]
        if state.manager.floor_missing:
            log.error("refusing to run student code: the sandbox floor is missing %s",
                      ", ".join(state.manager.floor_missing))
        janitor = asyncio.get_running_loop().create_task(state.manager.janitor())
        app.state.proclab = state
        try:
            yield
        finally:
            janitor.cancel()
            await state.manager.shutdown()
            await asyncio.to_thread(state.launcher.stop)
            state.storage.close()

    app = FastAPI(title="ProcLab", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Lessons on Linux processes and IPC, run on the real kernel.")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # Swagger UI from static/vendor: classrooms are often offline, and nothing may load from a CDN.
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="ProcLab API",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/img/logo.svg")
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    templates = Jinja2Templates(directory=str(ROOT / "templates"))

    @app.middleware("http")
    async def client_cookie(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if response.headers.get("content-type", "").startswith("text/html") and request.url.path != "/docs":
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
        if "pl_client" not in request.cookies:
            response.set_cookie("pl_client", secrets.token_urlsafe(12), httponly=True, samesite="lax",
                                max_age=365 * 86400)
        return response

    def health() -> dict[str, Any]:
        info = state.launcher.info if hasattr(state, "launcher") else {}
        as_root = os.geteuid() == 0
        warnings = []
        missing = state.manager.floor_missing if hasattr(state, "manager") else ["process"]
        if missing:
            warnings.append(f"student code is refused: the sandbox is missing {', '.join(missing)}")
        if not as_root:
            warnings.append("the server is not running as root: runs share your user id, so isolation is weaker "
                            "than in the container")
        probe = info.get("layers", {})
        for name in ("namespaces", "cgroup", "seccomp", "landlock"):
            entry = probe.get(name)
            if isinstance(entry, dict) and not entry.get("ok"):
                warnings.append(f"{name} not available: {entry.get('detail', '')}")
        m = state.manager if hasattr(state, "manager") else None
        return {
            "ok": bool(info) and state.launcher.alive() and not missing,
            "launcher": {"alive": state.launcher.alive(), "pid": info.get("pid"), "python": info.get("python"),
                         "version": info.get("version"), "startup_ms": info.get("startup_ms")},
            "layers": probe, "active": active_layers(info, as_root) if info else [],
            "warnings": warnings, "root": as_root,
            "runs": {"running": m.running if m else 0, "queued": len(m.queue) if m else 0,
                     "slots": settings.max_concurrent_runs},
            "lessons": len(state.lessons.lessons) if hasattr(state, "lessons") else 0,
            "uptime_s": round(time.time() - state.started, 1) if hasattr(state, "started") else 0,
        }

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        h = health()
        return JSONResponse(h, status_code=200)

    # ---------------------------------------------------------------- lessons

    def lessons() -> LessonStore:
        state.lessons.refresh()
        return state.lessons

    @app.get("/api/lessons")
    async def api_lessons() -> list[dict[str, Any]]:
        return [lesson.summary_dict() for lesson in lessons().ordered()]

    @app.get("/api/lessons/errors")
    async def api_lesson_errors() -> list[dict[str, Any]]:
        return [e.to_dict() for e in lessons().errors]

    @app.get("/api/lessons/{lesson_id}")
    async def api_lesson(lesson_id: str) -> dict[str, Any]:
        lesson = lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        return lesson.to_dict()

    # ---------------------------------------------------------------- runs

    @app.post("/api/runs", status_code=201)
    async def create_run(req: RunRequest, request: Request) -> dict[str, Any]:
        lesson = None
        if req.lesson is not None:
            lesson = lessons().get(req.lesson)
            if lesson is None:
                raise HTTPException(404, f"no lesson {req.lesson!r}")
        if lesson is None and not req.files:
            raise HTTPException(422, "give a lesson id, files, or both")
        files = dict(lesson.files) if lesson else {}
        for name, content in (req.files or {}).items():
            if not name or "/" in name or name.startswith(".") or len(name) > 64:
                raise HTTPException(422, f"bad file name {name!r}: a plain name like main.py is expected")
            if len(content.encode()) > MAX_SOURCE:
                raise HTTPException(413, f"{name} is larger than {MAX_SOURCE // 1024} KiB")
            files[name] = content
        main = req.main or (lesson.main if lesson else "main.py")
        limits = {**(lesson.limits if lesson else {}), **(req.limits or {})}
        pace = None
        if req.pace is not None and req.pace.mode != "normal":
            if req.pace.mode not in ("paused", "step", "slow"):
                raise HTTPException(422, "pace.mode must be normal, paused, step or slow")
            pace = {"mode": req.pace.mode, "delay_ms": req.pace.delay_ms}
        try:
            run = state.manager.submit(files, main, lesson.id if lesson else None, limits or None,
                                       client_id(request), lesson.questions if lesson else None,
                                       req.stdin if req.stdin is not None else (lesson.stdin if lesson else None),
                                       pace=pace)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        except ValueError as e:
            raise HTTPException(422, str(e)) from e
        return run.public()

    async def find_run(run_id: str) -> dict[str, Any]:
        run = state.manager.runs.get(run_id)
        if run is not None:
            return run.public()
        rec = await asyncio.to_thread(state.storage.get_run, run_id)
        if rec is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return rec

    @app.get("/api/runs")
    async def list_runs(limit: int = 50) -> list[dict[str, Any]]:
        return await asyncio.to_thread(state.storage.list_runs, min(limit, 500))

    @app.get("/api/runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, Any]:
        return await find_run(run_id)

    @app.get("/api/runs/{run_id}/events")
    async def run_events(run_id: str, after: int = -1) -> list[dict[str, Any]]:
        run = state.manager.runs.get(run_id)
        if run is not None:
            return run.events[after + 1:]
        await find_run(run_id)
        return await asyncio.to_thread(state.storage.get_events, run_id, after)

    def instructor(request: Request) -> bool:
        return auth.is_instructor(request, settings.instructor_token)

    def need_instructor(request: Request) -> None:
        auth.require_instructor(request, settings.instructor_token)

    async def control(run_id: str, cmd: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
        run = state.manager.runs.get(run_id)
        if run is None:
            await find_run(run_id)
            raise HTTPException(409, "the run has finished")
        if request is not None and not instructor(request):
            if run.room is not None:
                raise HTTPException(403, "only the instructor controls a classroom run")
            if run.client != client_id(request):
                raise HTTPException(403, "this run belongs to another browser")
        if run.status == RunStatus.FINISHED:
            raise HTTPException(409, "the run has finished")
        await state.manager.command(run_id, cmd)
        return {"ok": True}

    @app.post("/api/runs/{run_id}/stop")
    async def stop_run(run_id: str, request: Request) -> dict[str, Any]:
        run = state.manager.runs.get(run_id)
        if run is not None and run.status == RunStatus.FINISHED:
            return {"ok": True, "status": "finished"}
        return await control(run_id, {"cmd": "stop"}, request)

    @app.post("/api/runs/{run_id}/signal")
    async def signal_run(run_id: str, req: SignalRequest, request: Request) -> dict[str, Any]:
        if req.signal not in SIGNALS:
            raise HTTPException(422, f"signal must be one of {', '.join(SIGNALS)}")
        return await control(run_id, {"cmd": "signal", "pid": req.pid, "signal": req.signal}, request)

    @app.post("/api/runs/{run_id}/interrupt")
    async def interrupt_run(run_id: str, request: Request) -> dict[str, Any]:
        return await control(run_id, {"cmd": "interrupt"}, request)

    @app.post("/api/runs/{run_id}/input")
    async def input_run(run_id: str, req: InputRequest, request: Request) -> dict[str, Any]:
        await control(run_id, {"cmd": "input", "text": req.text}, request)
        if req.eof:
            await control(run_id, {"cmd": "eof"}, request)
        return {"ok": True}

    @app.post("/api/runs/{run_id}/pace")
    async def pace_run(run_id: str, req: PaceRequest, request: Request) -> dict[str, Any]:
        if req.mode not in ("normal", "paused", "step", "slow"):
            raise HTTPException(422, "mode must be normal, paused, step or slow")
        return await control(run_id, {"cmd": "pace", "mode": req.mode, "delay_ms": req.delay_ms}, request)

    @app.post("/api/runs/{run_id}/step")
    async def step_run(run_id: str, request: Request) -> dict[str, Any]:
        return await control(run_id, {"cmd": "step"}, request)

    # ---------------------------------------------------------------- recordings

    @app.get("/api/runs/{run_id}/export")
    async def export_run(run_id: str) -> Response:
        meta = await find_run(run_id)
        run = state.manager.runs.get(run_id)
        if run is not None and run.status != RunStatus.FINISHED:
            raise HTTPException(409, "the run is still going; export it when it has finished")
        events = run.events if run is not None else await asyncio.to_thread(state.storage.get_events, run_id, -1)
        header = {"proclab_recording": 1, "run": {k: meta.get(k) for k in
                                                  ("id", "lesson", "status", "created", "finished", "result",
                                                   "files", "answers")}}
        if run is not None:
            header["run"]["files"] = run.files
        body = "\n".join(json.dumps(x, ensure_ascii=False) for x in [header, *events]) + "\n"
        return Response(body, media_type="application/x-ndjson",
                        headers={"Content-Disposition": f'attachment; filename="proclab-run-{run_id}.ndjson"'})

    @app.post("/api/runs/import", status_code=201)
    async def import_run(request: Request) -> dict[str, Any]:
        need_instructor(request)
        body = await request.body()
        if len(body) > 64 * 2**20:
            raise HTTPException(413, "a recording is at most 64 MiB")
        lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
        try:
            header = json.loads(lines[0]) if lines else {}
            events = [json.loads(line) for line in lines[1:]]
        except ValueError as e:
            raise HTTPException(422, f"not an NDJSON recording: {e}") from e
        if header.get("proclab_recording") != 1 or not isinstance(header.get("run"), dict):
            raise HTTPException(422, "line 1 must be the recording header {\"proclab_recording\": 1, \"run\": …}")
        for i, ev in enumerate(events):
            if not isinstance(ev, dict) or ev.get("seq") != i or "type" not in ev:
                raise HTTPException(422, f"line {i + 2}: expected the event with seq {i}")
        meta = header["run"]
        from .runspec import new_run_id

        record = {"id": new_run_id(), "lesson": meta.get("lesson"), "status": "finished",
                  "created": time.time(), "finished": time.time(), "result": meta.get("result"),
                  "files": meta.get("files") or {}, "answers": meta.get("answers"), "room": None}
        await asyncio.to_thread(state.storage.save_run, record, events)
        return {"id": record["id"], "events": len(events), "imported_from": meta.get("id")}

    # ---------------------------------------------------------------- instructors

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"instructor": instructor(request), "instructor_enabled": bool(settings.instructor_token)}

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request) -> HTMLResponse:
        return page(request, "signin.html", enabled=bool(settings.instructor_token), error=None)

    @app.post("/signin", response_class=HTMLResponse)
    async def signin(request: Request) -> Response:
        from urllib.parse import parse_qs

        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        import hmac

        if not settings.instructor_token or not hmac.compare_digest(token.encode(),
                                                                     settings.instructor_token.encode()):
            resp = page(request, "signin.html", enabled=bool(settings.instructor_token),
                        error="That token is not right." if settings.instructor_token else None)
            resp.status_code = 401
            return resp
        resp = Response(status_code=303, headers={"Location": "/"})
        resp.set_cookie(auth.COOKIE, auth.cookie_value(settings.instructor_token), httponly=True, samesite="lax",
                        max_age=30 * 86400)
        return resp

    @app.post("/signout")
    async def signout() -> Response:
        resp = Response(status_code=303, headers={"Location": "/"})
        resp.delete_cookie(auth.COOKIE)
        return resp

    @app.get("/api/lessons/{lesson_id}/files/{name}")
    async def get_lesson_file(lesson_id: str, name: str, request: Request) -> dict[str, Any]:
        need_instructor(request)
        lesson = lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        path = lesson.dir / name
        if "/" in name or name.startswith(".") or not path.is_file() or path.is_symlink():
            raise HTTPException(404, f"no file {name!r} in lesson {lesson_id!r}")
        return {"name": name, "content": path.read_text(encoding="utf-8")}

    @app.put("/api/lessons/{lesson_id}/files/{name}")
    async def put_lesson_file(lesson_id: str, name: str, body: FileContent, request: Request) -> dict[str, Any]:
        need_instructor(request)
        lesson = lessons().get(lesson_id)
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
                raise HTTPException(422, {"file": name if e.path.startswith(str(copy)) else e.path,
                                          "line": e.line, "message": e.message}) from e
        if checked.id != lesson.id and checked.id in state.lessons.lessons:
            raise HTTPException(422, {"file": name, "line": 2, "message": f"id {checked.id!r} is already used"})
        target = lesson.dir / name
        tmp_path = target.with_name(f".{name}.tmp")
        tmp_path.write_text(body.content, encoding="utf-8")
        os.replace(tmp_path, target)
        state.lessons.reload()
        return {"ok": True, "id": checked.id}

    @app.post("/api/lessons/{lesson_id}/check")
    async def check_lesson(lesson_id: str, request: Request) -> dict[str, Any]:
        need_instructor(request)
        lesson = lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        try:
            run = state.manager.submit(dict(lesson.files), lesson.main, lesson.id, lesson.limits or None,
                                       "instructor-check", lesson.questions, lesson.stdin)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        await run.done.wait()
        results = check_expectations(lesson.expect, run.events)
        return {"run": run.id, "ok": all(r["ok"] for r in results), "results": results, "answers": run.answers}

    # ---------------------------------------------------------------- rooms

    def room_info(room: Any, request: Request) -> dict[str, Any]:
        url = str(request.base_url).rstrip("/") + f"/room/{room.code}"
        return {"code": room.code, "title": room.title, "url": url, "runs": list(room.run_ids),
                "clients": state.rooms.clients(room), "qr_svg": qr_svg(url)}

    @app.post("/api/rooms", status_code=201)
    async def create_room(request: Request, body: RoomRequest | None = None) -> dict[str, Any]:
        need_instructor(request)
        room = await asyncio.to_thread(state.rooms.create, body.title if body else None)
        return room_info(room, request)

    @app.get("/api/rooms/{code}")
    async def get_room(code: str, request: Request) -> dict[str, Any]:
        room = await asyncio.to_thread(state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        return room_info(room, request)

    @app.post("/api/rooms/{code}/runs", status_code=201)
    async def room_run(code: str, req: RunRequest, request: Request) -> dict[str, Any]:
        need_instructor(request)
        room = await asyncio.to_thread(state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        lesson = lessons().get(req.lesson) if req.lesson else None
        if req.lesson and lesson is None:
            raise HTTPException(404, f"no lesson {req.lesson!r}")
        files = {**(lesson.files if lesson else {}), **(req.files or {})}
        if not files:
            raise HTTPException(422, "give a lesson id, files, or both")
        try:
            run = state.manager.submit(files, req.main or (lesson.main if lesson else "main.py"),
                                       lesson.id if lesson else None,
                                       {**(lesson.limits if lesson else {}), **(req.limits or {})} or None,
                                       "instructor", lesson.questions if lesson else None,
                                       req.stdin if req.stdin is not None else (lesson.stdin if lesson else None),
                                       room=room.code)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        state.rooms.add_run(room, run)
        return run.public()

    @app.websocket("/ws/rooms/{code}")
    async def ws_room(ws: WebSocket, code: str) -> None:
        await ws.accept()
        room = await asyncio.to_thread(state.rooms.get, code)
        if room is None:
            await ws.close(code=4404, reason="no such room")
            return
        q = await state.rooms.subscribe(room)
        try:
            await stream_queue(ws, q, close_at_end=False)
        except WebSocketDisconnect:
            pass
        finally:
            state.rooms.unsubscribe(room, q)

    @app.websocket("/ws/runs/{run_id}")
    async def ws_run(ws: WebSocket, run_id: str, after: int = -1) -> None:
        await ws.accept()
        run = state.manager.runs.get(run_id)
        if run is None:
            rec = await asyncio.to_thread(state.storage.get_run, run_id)
            if rec is None:
                await ws.close(code=4404, reason="no such run")
                return
            events = await asyncio.to_thread(state.storage.get_events, run_id, after)
            for i in range(0, len(events), 500):
                await ws.send_text(json.dumps(events[i:i + 500], ensure_ascii=False))
            await ws.close()
            return
        q = state.manager.subscribe(run, after)
        try:
            await stream_queue(ws, q)
        except WebSocketDisconnect:
            pass
        finally:
            state.manager.unsubscribe(run, q)

    # ---------------------------------------------------------------- pages

    def page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"lang": pick_lang(request), **ctx})

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        store = lessons()
        return page(request, "index.html", lessons=[x.summary_dict() for x in store.ordered()], health=health(),
                    lesson_errors=[e.to_dict() for e in store.errors])

    @app.get("/lessons/{lesson_id}", response_class=HTMLResponse)
    async def lesson_page(request: Request, lesson_id: str) -> HTMLResponse:
        lesson = lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        data = lesson.to_dict()
        return page(request, "lesson.html", lesson=data, lesson_json=script_json(data))

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    async def run_page(request: Request, run_id: str) -> HTMLResponse:
        run = await find_run(run_id)
        lesson = lessons().get(run["lesson"]) if run.get("lesson") else None
        run = {**run, "files": run.get("files") or (state.manager.runs[run_id].files
                                                   if run_id in state.manager.runs else {})}
        return page(request, "run.html", run=run, run_json=script_json(run),
                    lesson=lesson.to_dict() if lesson else None,
                    lesson_json=script_json(lesson.to_dict() if lesson else None))

    @app.get("/room/{code}", response_class=HTMLResponse)
    async def room_page(request: Request, code: str) -> HTMLResponse:
        room = await asyncio.to_thread(state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        info = room_info(room, request)
        return page(request, "room.html", room=info, room_json=script_json(info), instructor=instructor(request))

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

    app.state.proclab = state
    return app


async def stream_queue(ws: WebSocket, q: asyncio.Queue[dict[str, Any] | None], close_at_end: bool = True) -> None:
    """Send events in frames: everything queued goes out in one frame (batching under load).

    A room stream never ends by itself (close_at_end=False): it waits for the next run, and a
    receive task notices when the student leaves.
    """
    if not close_at_end:
        gone = asyncio.get_running_loop().create_task(_until_closed(ws))
        try:
            while not gone.done():
                getter = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                batch = [getter.result()]
                while not q.empty() and len(batch) < 1000:
                    batch.append(q.get_nowait())
                batch = [e for e in batch if e is not None]
                if batch:
                    await ws.send_text(json.dumps(batch if len(batch) > 1 else batch[0], ensure_ascii=False))
        finally:
            gone.cancel()
        return
    while True:
        ev = await q.get()
        if ev is None:
            break
        batch = [ev]
        end = False
        while not q.empty() and len(batch) < 1000:
            nxt = q.get_nowait()
            if nxt is None:
                end = True
                break
            batch.append(nxt)
        await ws.send_text(json.dumps(batch if len(batch) > 1 else batch[0], ensure_ascii=False))
        if end:
            break
    await ws.close()


async def _until_closed(ws: WebSocket) -> None:
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return


def serve(host: str | None, port: int | None) -> int:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, ws_max_size=1 << 20)
    return 0
