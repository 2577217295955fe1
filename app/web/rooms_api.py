"""Classroom rooms: create (instructor), join, runs everyone follows, the room's WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect

from ..runs import RunRefused
from ..sandbox.compile import default_main
from .common import (
    RoomRequest,
    RunRequest,
    Web,
    stream_queue,
)


def register(app: FastAPI, web: Web) -> None:
    @app.post("/api/rooms", status_code=201)
    async def create_room(request: Request, body: RoomRequest | None = None) -> dict[str, Any]:
        web.need_instructor(request)
        room = await asyncio.to_thread(web.state.rooms.create, body.title if body else None)
        return web.room_info(room, request)

    @app.get("/api/rooms/{code}")
    async def get_room(code: str, request: Request) -> dict[str, Any]:
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        return web.room_info(room, request)

    @app.post("/api/rooms/{code}/runs", status_code=201)
    async def room_run(code: str, req: RunRequest, request: Request) -> dict[str, Any]:
        web.need_instructor(request)
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        lesson = web.lessons().get(req.lesson) if req.lesson else None
        if req.lesson and lesson is None:
            raise HTTPException(404, f"no lesson {req.lesson!r}")
        files = {**(lesson.files if lesson else {}), **(req.files or {})}
        if not files:
            raise HTTPException(422, "give a lesson id, files, or both")
        try:
            run = web.state.manager.submit(files, req.main or (lesson.main if lesson else default_main(files)),
                                       lesson.id if lesson else None,
                                       {**(lesson.limits if lesson else {}), **(req.limits or {})} or None,
                                       "instructor", lesson.questions if lesson else None,
                                       req.stdin if req.stdin is not None else (lesson.stdin if lesson else None),
                                       room=room.code, pace=web.pace_of(req),
                                       stdio=req.stdio.value if req.stdio else (lesson.stdio if lesson else None))
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        web.state.rooms.add_run(room, run)
        return run.public()

    @app.websocket("/ws/rooms/{code}")
    async def ws_room(ws: WebSocket, code: str) -> None:
        await ws.accept()
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            await ws.close(code=4404, reason="no such room")
            return
        q = await web.state.rooms.subscribe(room, instructor=web.instructor(ws))
        try:
            await stream_queue(ws, q, close_at_end=False)
        except WebSocketDisconnect:
            pass
        finally:
            web.state.rooms.unsubscribe(room, q)
