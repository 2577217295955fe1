"""Runs: start, status, events, controls (owner or instructor), WebSocket stream, recordings.

A run's status, events, export and stream are for its owner (the browser that started it), the
instructor, everyone in its room, and whoever has its share link (`?share=` or the cookie the run
page sets when a share link is opened).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, WebSocket, WebSocketDisconnect

from ..feeds import Feed
from ..runs import RunRefused, RunStatus
from ..runspec import new_run_id
from ..sandbox import protocol
from .common import WS_BAD_QUERY, WS_FORBIDDEN, WS_NOT_FOUND, WS_TOO_SLOW, Web, close_ws, log, stream_feed
from .deps import ClientDep, Instructor, WebDep
from .models import InputRequest, PaceRequest, RunRequest, SignalRequest
from .problems import Problem
from .recordings import parse_recording
from .submission import submission

router = APIRouter(tags=["runs"])
MAX_SEQ = 10_000_000
After = Annotated[int, Query(ge=-1, le=MAX_SEQ, description="only events with a larger seq")]


def ws_after(text: str) -> int | None:
    """A WebSocket's ?after= (FastAPI's own check would refuse the handshake with a bare 403, which reads as
    "not yours"): the seq, or None when it is not a whole number from -1 to MAX_SEQ."""
    text = text.strip()
    if not text.lstrip("-").isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if -1 <= value <= MAX_SEQ else None


@router.post("/api/runs", status_code=201)
async def create_run(req: RunRequest, web: WebDep, client: ClientDep) -> dict[str, Any]:
    sub = submission(req, web.lessons(), web.settings)
    try:
        return await web.state.cluster.place(sub, client)
    except RunRefused as e:
        raise Problem(e.status, e.code, **e.params) from e


@router.get("/api/runs")
async def list_runs(web: WebDep, client: ClientDep, request: Request,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """Your runs, newest first (an instructor's: everyone's)."""
    owner = None if web.instructor(request) else client.id
    return await asyncio.to_thread(web.state.storage.list_runs, limit, None, owner)


@router.get("/api/runs/{run_id}")
async def get_run(run_id: str, web: WebDep, request: Request) -> dict[str, Any]:
    meta = await web.readable_run(request, run_id)
    return {k: meta.get(k) for k in ("id", "lesson", "status", "created", "finished", "result", "answers", "room",
                                     "events", "node")}


# Above this many events an answer is encoded in a worker thread: 500 000 events (an imported recording) took
# the event loop 5 s to encode, and every run's stream and every request waited.
ENCODE_APART = 2000


def _finite(value: Any) -> Any:
    """NaN and infinities as null (what FastAPI's own encoder made of them): a browser's JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_list(events: list[dict[str, Any]]) -> bytes:
    try:
        text = json.dumps(events, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a recording imported before NaN was refused
        text = json.dumps(_finite(events), ensure_ascii=False, separators=(",", ":"))
    return text.encode()


async def _events_answer(events: list[dict[str, Any]]) -> Response:
    body = _json_list(events) if len(events) <= ENCODE_APART else await asyncio.to_thread(_json_list, events)
    return Response(body, media_type="application/json")


@router.get("/api/runs/{run_id}/events", response_model=None)
async def run_events(run_id: str, web: WebDep, request: Request,
                     after: After = -1) -> Response:
    await web.readable_run(request, run_id)
    run = web.state.manager.runs.get(run_id)
    if run is not None:
        return await _events_answer(run.events[after + 1:])
    elsewhere = await web.state.cluster.events(run_id, after)  # held by another node (or just finished there)
    if elsewhere is not None:
        return await _events_answer(elsewhere)
    return await _events_answer(await asyncio.to_thread(web.state.storage.get_events, run_id, after))


@router.post("/api/runs/{run_id}/stop")
async def stop_run(run_id: str, web: WebDep, request: Request) -> dict[str, Any]:
    run = web.state.manager.runs.get(run_id)
    if run is not None and run.status == RunStatus.FINISHED:
        return {"ok": True, "status": "finished"}
    if run is None and (meta := await web.state.cluster.meta(run_id)) and meta["status"] == RunStatus.FINISHED:
        return {"ok": True, "status": "finished"}
    return await web.control(run_id, protocol.stop(), request)


@router.post("/api/runs/{run_id}/signal")
async def signal_run(run_id: str, req: SignalRequest, web: WebDep, request: Request) -> dict[str, Any]:
    return await web.control(run_id, protocol.send_signal(req.pid, req.signal), request, pid=req.pid)


@router.post("/api/runs/{run_id}/interrupt")
async def interrupt_run(run_id: str, web: WebDep, request: Request) -> dict[str, Any]:
    return await web.control(run_id, protocol.interrupt(), request)


@router.post("/api/runs/{run_id}/input")
async def input_run(run_id: str, req: InputRequest, web: WebDep, request: Request) -> dict[str, Any]:
    await web.control(run_id, protocol.send_input(req.text), request)
    if req.eof:
        await web.control(run_id, protocol.eof(), request)
    return {"ok": True}


@router.post("/api/runs/{run_id}/pace")
async def pace_run(run_id: str, req: PaceRequest, web: WebDep, request: Request) -> dict[str, Any]:
    return await web.control(run_id, protocol.pace(req.mode, req.delay_ms), request)


@router.post("/api/runs/{run_id}/step")
async def step_run(run_id: str, web: WebDep, request: Request) -> dict[str, Any]:
    return await web.control(run_id, protocol.step(), request)


@router.get("/api/runs/{run_id}/export")
async def export_run(run_id: str, web: WebDep, request: Request) -> Response:
    meta = await web.readable_run(request, run_id)
    run = web.state.manager.runs.get(run_id)
    if run is not None and run.status != RunStatus.FINISHED:
        raise Problem(409, "export_running")
    events = run.events if run is not None else await asyncio.to_thread(web.state.storage.get_events, run_id, -1)
    header = {"proclab_recording": 1, "run": {k: meta.get(k) for k in
                                              ("id", "lesson", "status", "created", "finished", "result",
                                               "files", "answers")}}
    body = await asyncio.to_thread(_ndjson, [header, *events])  # not in the event loop: a run may be large
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="proclab-run-{run_id}.ndjson"'})


def _ndjson(items: list[dict[str, Any]]) -> bytes:
    # NaN as null, as in the events' answer: an export must import back (a NaN is refused there).
    return ("\n".join(json.dumps(_finite(x), ensure_ascii=False) for x in items) + "\n").encode()


@router.post("/api/runs/import", status_code=201, dependencies=[Instructor])
async def import_run(web: WebDep, request: Request) -> dict[str, Any]:
    """A recording exported from a ProcLab server (NDJSON: header line, then one event per line)."""
    # Read in a worker thread: 64 MiB of recording held the event loop for seconds (every stream stalled).
    meta, events = await asyncio.to_thread(parse_recording, await request.body())
    run_id = new_run_id()
    share = secrets.token_urlsafe(16)
    record = {"id": run_id, "lesson": meta.get("lesson"), "status": "finished", "created": time.time(),
              "finished": time.time(), "result": meta.get("result"), "files": meta.get("files") or {},
              "answers": meta.get("answers"), "room": None, "owner": None, "share": share}
    if not await asyncio.to_thread(web.state.storage.save_run, record, events):
        raise Problem(507, "recording_unsaved", problem=web.state.storage.health()[1])
    return {"id": run_id, "events": len(events), "imported_from": meta.get("id"), "share": share}


STORED_PAGE = 500  # events per frame (and per read) of a finished run's stream
STALL_S = 20.0  # a frame of a finished run not taken by the client in this long: the stream is closed


async def _send_stored(ws: WebSocket, web: Web, run_id: str, after: int) -> None:
    """A finished run's events a page at a time, each page read when the last has gone: a client that stopped
    reading held the whole run in memory (500 000 events: 450 MB) and its socket, for as long as it liked."""
    while True:
        page = await asyncio.to_thread(web.state.storage.get_events, run_id, after, STORED_PAGE)
        if not page:
            break
        try:
            await asyncio.wait_for(ws.send_text(json.dumps(page, ensure_ascii=False)), STALL_S)
        except TimeoutError:
            log.info("run %s: a stream of its recording stalled %.0f s; closed", run_id, STALL_S)
            await close_ws(ws, WS_TOO_SLOW, f"too slow: a frame waited {STALL_S:.0f} s; "
                                            "reconnect with ?after=<the last seq you got>")
            return
        after = page[-1].get("seq", after + len(page))
        if len(page) < STORED_PAGE:
            break
    await ws.close()


async def _stream_run_feed(ws: WebSocket, feed: Feed, unsubscribe: Callable[[], None]) -> None:
    """Stream a run's feed (local or from another node) until it ends or the browser leaves; then unsubscribe."""
    try:
        await stream_feed(ws, feed, "reconnect with ?after=<the last seq you got>")
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()


@router.websocket("/ws/runs/{run_id}")
async def ws_run(ws: WebSocket, run_id: str, web: WebDep,
                 after_text: Annotated[str, Query(alias="after")] = "-1") -> None:
    if not await web.ws_admit(ws):
        return
    try:
        parsed = ws_after(after_text)
        if parsed is None:
            await ws.close(code=WS_BAD_QUERY, reason=f"after must be the last seq you got (-1 to {MAX_SEQ})")
            return
        after = parsed
        try:
            meta = await web.run_meta(run_id)
        except HTTPException:
            await ws.close(code=WS_NOT_FOUND, reason="no such run")
            return
        if not web.may_read(ws, meta):
            await ws.close(code=WS_FORBIDDEN, reason="this run belongs to someone else: use its share link")
            return
        run = web.state.manager.runs.get(run_id)
        if run is None and (remote := await web.state.cluster.subscribe(run_id, after)) is not None:
            await _stream_run_feed(ws, remote, functools.partial(web.state.cluster.unsubscribe, run_id, remote))
            return
        if run is None:
            await _send_stored(ws, web, run_id, after)
            return
        feed = web.state.manager.subscribe(run, after)
        await _stream_run_feed(ws, feed, functools.partial(web.state.manager.unsubscribe, run, feed))
    finally:
        web.ws_leave(ws)
