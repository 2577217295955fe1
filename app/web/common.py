"""What the web routes share: request models, the server state, helpers, the WebSocket sender."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from typing import Any

from fastapi import HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from .. import auth
from ..classroom.exercises import Exercise
from ..classroom.hub import Classroom
from ..lessons import Lesson, LessonStore
from ..rooms import RoomHub
from ..runs import RunManager, RunStatus
from ..runspec import active_layers
from ..sandbox.client import Launcher
from ..settings import Settings
from ..storage import Storage

log = logging.getLogger("proclab")

MAX_SOURCE = 256 * 1024
# Everything the pages need comes from this server; nothing else may load (offline classrooms, safety).
CSP = ("default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
       "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'; "
       "form-action 'self'")
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
    exercise: str | None = Field(default=None, description="an exercise of the lesson: run.finished carries goals")


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
    classroom: Classroom
    started: float


class Web:
    """The routes' view of the server: its state and the helpers several routers need."""

    def __init__(self, state: State, templates: Jinja2Templates) -> None:
        self.state = state
        self.settings = state.settings
        self.templates = templates

    def health(self) -> dict[str, Any]:
        info = self.state.launcher.info if hasattr(self.state, "launcher") else {}
        as_root = os.geteuid() == 0
        warnings = []
        missing = self.state.manager.floor_missing if hasattr(self.state, "manager") else ["process"]
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
        m = self.state.manager if hasattr(self.state, "manager") else None
        return {
            "ok": bool(info) and self.state.launcher.alive() and not missing,
            "launcher": {"alive": self.state.launcher.alive(), "pid": info.get("pid"), "python": info.get("python"),
                         "version": info.get("version"), "startup_ms": info.get("startup_ms")},
            "layers": probe, "active": active_layers(info, as_root) if info else [],
            "warnings": warnings, "root": as_root,
            "runs": {"running": m.running if m else 0, "queued": len(m.queue) if m else 0,
                     "slots": self.settings.max_concurrent_runs},
            "lessons": len(self.state.lessons.lessons) if hasattr(self.state, "lessons") else 0,
            "uptime_s": round(time.time() - self.state.started, 1) if hasattr(self.state, "started") else 0,
        }

    def lessons(self) -> LessonStore:
        self.state.lessons.refresh()
        return self.state.lessons

    async def find_run(self, run_id: str) -> dict[str, Any]:
        run = self.state.manager.runs.get(run_id)
        if run is not None:
            return run.public()
        rec = await asyncio.to_thread(self.state.storage.get_run, run_id)
        if rec is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return rec

    def instructor(self, request: HTTPConnection) -> bool:
        return auth.is_instructor(request, self.settings.instructor_token)

    def need_instructor(self, request: Request) -> None:
        auth.require_instructor(request, self.settings.instructor_token)

    async def control(self, run_id: str, cmd: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
        run = self.state.manager.runs.get(run_id)
        if run is None:
            await self.find_run(run_id)
            raise HTTPException(409, "the run has finished")
        if request is not None and not self.instructor(request):
            if run.room is not None:
                raise HTTPException(403, "only the instructor controls a classroom run")
            if run.client != client_id(request):
                raise HTTPException(403, "this run belongs to another browser")
        if run.status == RunStatus.FINISHED:
            raise HTTPException(409, "the run has finished")
        await self.state.manager.command(run_id, cmd)
        return {"ok": True}

    @staticmethod
    def exercise_of(lesson: Lesson | None, req: RunRequest) -> Exercise | None:
        """The exercise a run is graded against (its lesson must be given too)."""
        if req.exercise is None:
            return None
        found = next((e for e in lesson.exercises if e.id == req.exercise), None) if lesson else None
        if found is None:
            raise HTTPException(422, f"exercise: no exercise {req.exercise!r} in lesson {req.lesson!r}; expected "
                                f"one of {[e.id for e in lesson.exercises] if lesson else 'a lesson id too'}")
        return found

    @staticmethod
    def pace_of(req: RunRequest) -> dict[str, Any] | None:
        """The pace a run should start with, checked (None for normal speed)."""
        if req.pace is None or req.pace.mode == "normal":
            return None
        if req.pace.mode not in ("paused", "step", "slow"):
            raise HTTPException(422, "pace.mode must be normal, paused, step or slow")
        return {"mode": req.pace.mode, "delay_ms": req.pace.delay_ms}

    def room_info(self, room: Any, request: Request) -> dict[str, Any]:
        base = self.settings.public_url or str(request.base_url)
        url = base.rstrip("/") + f"/room/{room.code}"
        students, instructors = self.state.rooms.clients(room)
        return {"code": room.code, "title": room.title, "url": url, "runs": list(room.run_ids),
                "clients": students, "instructors": instructors, "qr_svg": qr_svg(url)}

    def page(self, request: Request, name: str, **ctx: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {"lang": pick_lang(request), **ctx})


def frame(texts: list[str]) -> str:
    """One WebSocket frame from already-encoded events: one object, or a list of them."""
    return texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]"


async def stream_queue(ws: WebSocket, q: asyncio.Queue[str | None], close_at_end: bool = True) -> None:
    """Send events in frames: everything queued goes out in one frame (batching under load).

    A receive task notices when the browser leaves, even while no event flows (a run that
    sleeps): the run's grace period starts then, not at its next event. A room stream never
    ends by itself (close_at_end=False): it waits for the next run.
    """
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
            texts = [e for e in batch if e is not None]
            end = close_at_end and None in batch
            if end:
                texts = texts[:batch.index(None)]  # nothing follows the end of a run's stream
            if texts:
                await ws.send_text(frame(texts))
            if end:
                break
    finally:
        gone.cancel()
    if close_at_end:
        await ws.close()


async def _until_closed(ws: WebSocket) -> None:
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
