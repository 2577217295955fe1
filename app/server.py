"""The web process: FastAPI app, pages, REST under /api, WebSockets under /ws, /healthz."""

from __future__ import annotations

import asyncio
import contextlib
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

from .lessons import LessonStore
from .runs import RunManager, RunRefused, RunStatus
from .runspec import active_layers, floor_missing
from .sandbox.client import Launcher, LauncherError
from .settings import ROOT, Settings, get_settings
from .storage import Storage

log = logging.getLogger("proclab")

MAX_SOURCE = 256 * 1024
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2", "SIGHUP")


class RunRequest(BaseModel):
    lesson: str | None = None
    files: dict[str, str] | None = None
    main: str | None = None
    stdin: str | None = None
    limits: dict[str, float] | None = None


class SignalRequest(BaseModel):
    pid: int
    signal: str = Field(description=f"one of {', '.join(SIGNALS)}")


class InputRequest(BaseModel):
    text: str = Field(max_length=65536)
    eof: bool = False


class PaceRequest(BaseModel):
    mode: str = Field(description="normal, paused, step or slow")
    delay_ms: int | None = Field(default=None, ge=0, le=10000)


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

    app = FastAPI(title="ProcLab", version="0.1.0", lifespan=lifespan,
                  description="Lessons on Linux processes and IPC, run on the real kernel.")
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    templates = Jinja2Templates(directory=str(ROOT / "templates"))

    @app.middleware("http")
    async def client_cookie(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
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
        try:
            run = state.manager.submit(files, main, lesson.id if lesson else None, limits or None,
                                       client_id(request), lesson.questions if lesson else None,
                                       req.stdin if req.stdin is not None else (lesson.stdin if lesson else None))
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

    async def control(run_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        run = state.manager.runs.get(run_id)
        if run is None:
            await find_run(run_id)
            raise HTTPException(409, "the run has finished")
        if run.status == RunStatus.FINISHED:
            raise HTTPException(409, "the run has finished")
        await state.manager.command(run_id, cmd)
        return {"ok": True}

    @app.post("/api/runs/{run_id}/stop")
    async def stop_run(run_id: str) -> dict[str, Any]:
        run = state.manager.runs.get(run_id)
        if run is not None and run.status == RunStatus.FINISHED:
            return {"ok": True, "status": "finished"}
        return await control(run_id, {"cmd": "stop"})

    @app.post("/api/runs/{run_id}/signal")
    async def signal_run(run_id: str, req: SignalRequest) -> dict[str, Any]:
        if req.signal not in SIGNALS:
            raise HTTPException(422, f"signal must be one of {', '.join(SIGNALS)}")
        return await control(run_id, {"cmd": "signal", "pid": req.pid, "signal": req.signal})

    @app.post("/api/runs/{run_id}/interrupt")
    async def interrupt_run(run_id: str) -> dict[str, Any]:
        return await control(run_id, {"cmd": "interrupt"})

    @app.post("/api/runs/{run_id}/input")
    async def input_run(run_id: str, req: InputRequest) -> dict[str, Any]:
        await control(run_id, {"cmd": "input", "text": req.text})
        if req.eof:
            await control(run_id, {"cmd": "eof"})
        return {"ok": True}

    @app.post("/api/runs/{run_id}/pace")
    async def pace_run(run_id: str, req: PaceRequest) -> dict[str, Any]:
        if req.mode not in ("normal", "paused", "step", "slow"):
            raise HTTPException(422, "mode must be normal, paused, step or slow")
        return await control(run_id, {"cmd": "pace", "mode": req.mode, "delay_ms": req.delay_ms})

    @app.post("/api/runs/{run_id}/step")
    async def step_run(run_id: str) -> dict[str, Any]:
        return await control(run_id, {"cmd": "step"})

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

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

    app.state.proclab = state
    return app


async def stream_queue(ws: WebSocket, q: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Send events in frames: everything queued goes out in one frame (batching under load)."""
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


def serve(host: str | None, port: int | None) -> int:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, ws_max_size=1 << 20)
    return 0
