"""What the web routes share: the server state, helpers, who may read a run, the WebSocket sender."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from ..auth import Auth
from ..classroom.hub import Classroom
from ..cluster import Directory, NodeUnreachable
from ..feeds import Feed
from ..i18n import Lang, translate
from ..lessons import LessonStore
from ..rooms import RoomHub
from ..runs import Client, RunManager, RunStatus
from ..runspec import active_layers
from ..sandbox.client import Launcher
from ..settings import Settings
from ..storage import Storage
from .headers import COOKIE
from .problems import Problem

log = logging.getLogger("proclab")

# Everything the pages need comes from this server; nothing else may load (offline classrooms, safety).
CSP = ("default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
       "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'; "
       "form-action 'self'")
CLIENT_COOKIE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SHARE_COOKIE = "pl_share_"  # + run id: a share link that was opened, so the page's own requests carry it
# WebSocket close codes (docs/events.md).
WS_TOO_SLOW = 4008
WS_FORBIDDEN = 4403
WS_NOT_FOUND = 4404
WS_TOO_MANY = 4429
WS_BAD_QUERY = 4422


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


def ip_of(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def client_of(conn: HTTPConnection) -> Client:
    """The browser's anonymous id (its pl_client cookie, if well formed) or else its address."""
    ip = ip_of(conn)
    cookie = conn.cookies.get(COOKIE, "")
    return Client(id=f"c:{cookie}" if CLIENT_COOKIE.match(cookie) else f"ip:{ip}", ip=ip)


@dataclass
class State:
    """Everything the server holds, made in the lifespan, complete before the first request."""

    settings: Settings
    lessons: LessonStore
    launcher: Launcher
    storage: Storage
    manager: RunManager
    rooms: RoomHub
    auth: Auth
    classroom: Classroom
    cluster: Directory  # where runs go and how runs of other nodes are reached (app/cluster/)
    started: float = field(default_factory=time.time)
    ws_per_ip: dict[str, int] = field(default_factory=dict)


class Web:
    """The routes' view of the server: its state and the helpers several routers need.

    Made with the app (routers may hold it); its `state` is attached in the lifespan, complete,
    before the first request.
    """

    state: State

    def __init__(self, settings: Settings, templates: Jinja2Templates) -> None:
        self.settings = settings
        self.templates = templates

    def attach(self, state: State) -> None:
        self.state = state

    def health(self) -> dict[str, Any]:
        launcher, manager = self.state.launcher, self.state.manager
        info = launcher.info
        as_root = os.geteuid() == 0
        # Each warning as a code and its parameters (the page's words: `health.<code>` in static/i18n/),
        # and in English for logs and scripts (`warnings`).
        notices: list[dict[str, Any]] = []
        missing = manager.floor_missing
        if missing:
            notices.append({"code": "refused", "params": {"missing": ", ".join(missing)}})
        if not as_root:
            notices.append({"code": "not_root", "params": {}})
        probe = info.get("layers", {})
        for name in ("namespaces", "cgroup", "seccomp", "landlock"):
            entry = probe.get(name)
            if isinstance(entry, dict) and not entry.get("ok"):
                notices.append({"code": "layer_off", "params": {"layer": name}} if name in self.settings.disabled else
                               {"code": "layer_missing", "params": {"layer": name, "detail": entry.get("detail", "")}})
        storage_ok, problem = self.state.storage.health()
        if not storage_ok:
            notices.append({"code": "storage", "params": {"problem": problem}})
        redis_state = self.state.cluster.describe().get("redis") or {}
        if redis_state.get("ok") is False:
            notices.append({"code": "redis", "params": {"problem": redis_state.get("problem") or ""}})
        warnings = [translate(Lang.EN, f"health.{n['code']}", **n["params"]) for n in notices]
        return {
            "ok": bool(info) and launcher.alive() and not missing,
            "launcher": {"alive": launcher.alive(), "pid": info.get("pid"), "python": info.get("python"),
                         "version": info.get("version"), "startup_ms": info.get("startup_ms")},
            "layers": probe, "active": active_layers(info, as_root) if info else [],
            "discovery": info.get("discovery"),
            "warnings": warnings, "notices": notices, "root": as_root,
            "storage": {"ok": storage_ok, "problem": problem},
            "runs": {"running": manager.running, "queued": len(manager.queue),
                     "slots": self.settings.max_concurrent_runs},
            "lessons": len(self.state.lessons.lessons),
            "cluster": self.state.cluster.describe(),
            "uptime_s": round(time.time() - self.state.started, 1),
        }

    def lessons(self) -> LessonStore:
        self.state.lessons.refresh()
        return self.state.lessons

    def instructor(self, conn: HTTPConnection) -> bool:
        return self.state.auth.is_instructor(conn)

    def need_instructor(self, conn: HTTPConnection) -> None:
        self.state.auth.require(conn)

    # ------------------------------------------------------------ whose run is it

    async def run_meta(self, run_id: str) -> dict[str, Any]:
        """A run's record (in memory or stored), with owner and share secret; 404 if there is none."""
        run = self.state.manager.runs.get(run_id)
        if run is not None:
            return {**run.public(), "owner": run.client.id, "share": run.share, "files": run.files}
        elsewhere = await self.state.cluster.meta(run_id)
        if elsewhere is not None:
            return elsewhere
        rec = await asyncio.to_thread(self.state.storage.get_run, run_id)
        if rec is None:
            raise Problem(404, "no_run", run=run_id)
        return rec

    def may_read(self, conn: HTTPConnection, meta: dict[str, Any]) -> bool:
        """Owner, instructor, a classroom run (everyone in the room sees it), or the share link's holder."""
        if meta.get("room") or self.instructor(conn):
            return True
        owner = meta.get("owner")
        if owner is None:  # recorded before runs had owners, or imported: instructors and share links only
            owner = ""
        if owner and owner == client_of(conn).id:
            return True
        share = meta.get("share") or ""
        given = conn.query_params.get("share") or conn.cookies.get(SHARE_COOKIE + str(meta["id"]), "")
        return bool(share) and bool(given) and hmac.compare_digest(given.encode(), share.encode())

    async def readable_run(self, conn: HTTPConnection, run_id: str) -> dict[str, Any]:
        meta = await self.run_meta(run_id)
        if not self.may_read(conn, meta):
            raise Problem(403, "not_yours")
        return meta

    async def control(self, run_id: str, cmd: dict[str, Any], request: Request,
                      pid: int | None = None) -> dict[str, Any]:
        """A command for a run, once the caller may give it; `pid`: the process it is for must be one of
        the run's that still lives (a signal to any other pid would be answered ok and never sent)."""
        run = self.state.manager.runs.get(run_id)
        if run is None:
            return await self._control_elsewhere(run_id, cmd, request)
        if not self.instructor(request):
            if run.room is not None:
                raise Problem(403, "classroom_run")
            if run.client.id != client_of(request).id:
                raise Problem(403, "other_browser")
        if run.status == RunStatus.FINISHED:
            raise Problem(409, "run_finished")
        if pid is not None and (ended := run.process_ended(pid)) is not False:
            raise Problem(409, "not_in_run" if ended is None else "process_ended", pid=pid)
        await self.state.manager.command(run_id, cmd)
        return {"ok": True}

    async def _control_elsewhere(self, run_id: str, cmd: dict[str, Any], request: Request) -> dict[str, Any]:
        """A control of a run another node holds: the same checks from its record, then sent to that node."""
        meta = await self.run_meta(run_id)
        if meta.get("status") == RunStatus.FINISHED or await self.state.cluster.meta(run_id) is None:
            raise Problem(409, "run_finished")
        if not self.instructor(request):
            if meta.get("room") is not None:
                raise Problem(403, "classroom_run")
            if meta.get("owner") != client_of(request).id:
                raise Problem(403, "other_browser")
        try:
            if not await self.state.cluster.command(run_id, cmd):
                raise Problem(409, "run_finished")
        except NodeUnreachable as e:
            raise Problem(503, "node_unreachable", node=e.node) from e
        return {"ok": True}

    def room_info(self, room: Any, request: Request) -> dict[str, Any]:
        base = self.settings.public_url or str(request.base_url)
        url = base.rstrip("/") + f"/room/{room.code}"
        students, instructors = self.state.rooms.clients(room)
        return {"code": room.code, "title": room.title, "url": url, "runs": list(room.run_ids),
                "clients": students, "instructors": instructors, "qr_svg": qr_svg(url)}

    def page(self, request: Request, name: str, **ctx: Any) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {"lang": pick_lang(request), **ctx})

    # ------------------------------------------------------------ WebSockets

    async def ws_admit(self, ws: WebSocket) -> bool:
        """Accept a WebSocket, or close it with a reason when its address has too many open."""
        await ws.accept()
        ip = ip_of(ws)
        if self.state.ws_per_ip.get(ip, 0) >= self.settings.max_ws_per_ip:
            await ws.close(code=WS_TOO_MANY, reason=f"at most {self.settings.max_ws_per_ip} connections "
                                                    "from one address")
            return False
        self.state.ws_per_ip[ip] = self.state.ws_per_ip.get(ip, 0) + 1
        return True

    def ws_leave(self, ws: WebSocket) -> None:
        ip = ip_of(ws)
        n = self.state.ws_per_ip.get(ip, 0) - 1
        if n > 0:
            self.state.ws_per_ip[ip] = n
        else:
            self.state.ws_per_ip.pop(ip, None)


def frame(texts: list[str]) -> str:
    """One WebSocket frame from already-encoded events: one object, or a list of them."""
    return texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]"


async def stream_feed(ws: WebSocket, feed: Feed, resume_hint: str, close_at_end: bool = True) -> None:
    """Send a feed in frames: everything waiting goes out in one frame (batching under load).

    A receive task notices when the browser leaves, even while no event flows (a run that
    sleeps): the run's grace period starts then, not at its next event. A room stream never
    ends by itself (close_at_end=False): it waits for the next run. A client too slow for its
    feed is closed with WS_TOO_SLOW and a reason saying how to resume.
    """
    loop = asyncio.get_running_loop()
    gone = loop.create_task(_until_closed(ws))
    sending: asyncio.Future[None] | None = None
    try:
        while not gone.done():
            if feed.overflowed:
                if sending is not None:
                    sending.cancel()
                await close_ws(ws, WS_TOO_SLOW, f"too slow: more than {feed.limit} events waited; {resume_hint}")
                return
            # One frame may wait in uvicorn's buffer and the next for the socket to drain: small frames
            # keep what a stalled client holds within its feed's bound.
            texts = feed.take(min(1000, max(1, feed.limit // 2)))
            if texts:
                sending = asyncio.ensure_future(ws.send_text(frame(texts)))
                waker = loop.create_task(feed.overflow.wait())
                try:
                    await asyncio.wait({sending, gone, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waker.cancel()
                if not sending.done():
                    continue  # gone or overflowed: the loop's checks handle it
                sending.result()
                sending = None
                continue
            if feed.ended and close_at_end:
                break
            waiter = loop.create_task(feed.wake.wait())
            try:
                await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
    finally:
        gone.cancel()
        if sending is not None and not sending.done():
            sending.cancel()
    if close_at_end:
        await close_ws(ws, 1000, "the run has finished")


async def close_ws(ws: WebSocket, code: int, reason: str) -> None:
    try:
        # The close frame waits behind what the client has not read; a client that never reads is cut
        # off when the wait ends (the handler returns, uvicorn drops the connection).
        await asyncio.wait_for(ws.close(code=code, reason=reason[:120]), 20)
    except (TimeoutError, RuntimeError, WebSocketDisconnect, OSError):
        pass


async def _until_closed(ws: WebSocket) -> None:
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
