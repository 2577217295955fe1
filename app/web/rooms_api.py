"""Classroom rooms: create (instructor), join, runs everyone follows, the room's WebSocket."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect

from ..runs import Client, RunRefused
from .common import WS_BAD_QUERY, WS_NOT_FOUND, ip_of, stream_feed
from .deps import Instructor, WebDep
from .models import RoomRequest, RunRequest
from .problems import Problem
from .submission import submission

router = APIRouter(tags=["rooms"])
RESUME = re.compile(r"^[0-9a-f]{1,32}:-?\d{1,9}$")


def parse_after(text: str) -> dict[str, int] | None:
    """`run:seq,run:seq` (the last seq seen of each run), or None if malformed."""
    out: dict[str, int] = {}
    for part in list(filter(None, text.split(",")))[:2000]:
        if not RESUME.match(part):
            return None
        run_id, seq = part.split(":")
        out[run_id] = int(seq)
    return out


@router.post("/api/rooms", status_code=201, dependencies=[Instructor])
async def create_room(web: WebDep, request: Request, body: RoomRequest | None = None) -> dict[str, Any]:
    room = await asyncio.to_thread(web.state.rooms.create, body.title if body else None)
    return web.room_info(room, request)


@router.get("/api/rooms/{code}")
async def get_room(code: str, web: WebDep, request: Request) -> dict[str, Any]:
    room = await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    return web.room_info(room, request)


@router.post("/api/rooms/{code}/runs", status_code=201, dependencies=[Instructor])
async def room_run(code: str, req: RunRequest, web: WebDep, request: Request) -> dict[str, Any]:
    room = await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    sub = submission(req, web.lessons(), web.settings)
    try:
        run = await web.state.cluster.place(sub, Client(id="sys:instructor", ip=ip_of(request)), room=room.code)
    except RunRefused as e:
        raise Problem(e.status, e.code, **e.params) from e
    web.state.rooms.add_run(room, run["id"])
    run.pop("share", None)
    return run


@router.websocket("/ws/rooms/{code}")
async def ws_room(ws: WebSocket, code: str, web: WebDep, after: str = "") -> None:
    """Every event of the room's runs, each with its `run`; `after=run:seq,…` resumes."""
    if not await web.ws_admit(ws):
        return
    try:
        resume = parse_after(after)
        if resume is None:
            await ws.close(code=WS_BAD_QUERY, reason="after must be run:seq pairs separated by commas")
            return
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            await ws.close(code=WS_NOT_FOUND, reason="no such room")
            return
        feed = await web.state.rooms.subscribe(room, instructor=web.instructor(ws), after=resume)
        try:
            await stream_feed(ws, feed, "reconnect with ?after=run:seq,… (the last seq of each run)",
                              close_at_end=False)
        except WebSocketDisconnect:
            pass
        finally:
            web.state.rooms.unsubscribe(room, feed)
    finally:
        web.ws_leave(ws)
