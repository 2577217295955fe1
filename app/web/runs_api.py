"""Runs: start, status, events, controls (owner or instructor), WebSocket stream, recordings."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response, WebSocket, WebSocketDisconnect

from ..runs import RunRefused, RunStatus
from ..runspec import new_run_id
from .common import (
    MAX_SOURCE,
    SIGNALS,
    InputRequest,
    PaceRequest,
    RunRequest,
    SignalRequest,
    Web,
    client_id,
    stream_queue,
)


def register(app: FastAPI, web: Web) -> None:
    @app.post("/api/runs", status_code=201)
    async def create_run(req: RunRequest, request: Request) -> dict[str, Any]:
        lesson = None
        if req.lesson is not None:
            lesson = web.lessons().get(req.lesson)
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
        exercise = web.exercise_of(lesson, req)
        if exercise is not None and exercise.main not in (req.files or {}):
            files[exercise.main] = exercise.starter  # no code sent: the exercise's starting point
        main = req.main or (lesson.main if lesson else "main.py")
        limits = {**(lesson.limits if lesson else {}), **(req.limits or {})}
        pace = web.pace_of(req)
        try:
            run = web.state.manager.submit(files, main, lesson.id if lesson else None, limits or None,
                                       client_id(request), lesson.questions if lesson else None,
                                       req.stdin if req.stdin is not None else (lesson.stdin if lesson else None),
                                       pace=pace, exercise=exercise)
        except RunRefused as e:
            raise HTTPException(e.status, e.message) from e
        except ValueError as e:
            raise HTTPException(422, str(e)) from e
        return run.public()

    @app.get("/api/runs")
    async def list_runs(limit: int = 50) -> list[dict[str, Any]]:
        return await asyncio.to_thread(web.state.storage.list_runs, min(limit, 500))

    @app.get("/api/runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, Any]:
        return await web.find_run(run_id)

    @app.get("/api/runs/{run_id}/events")
    async def run_events(run_id: str, after: int = -1) -> list[dict[str, Any]]:
        run = web.state.manager.runs.get(run_id)
        if run is not None:
            return run.events[after + 1:]
        await web.find_run(run_id)
        return await asyncio.to_thread(web.state.storage.get_events, run_id, after)

    @app.post("/api/runs/{run_id}/stop")
    async def stop_run(run_id: str, request: Request) -> dict[str, Any]:
        run = web.state.manager.runs.get(run_id)
        if run is not None and run.status == RunStatus.FINISHED:
            return {"ok": True, "status": "finished"}
        return await web.control(run_id, {"cmd": "stop"}, request)

    @app.post("/api/runs/{run_id}/signal")
    async def signal_run(run_id: str, req: SignalRequest, request: Request) -> dict[str, Any]:
        if req.signal not in SIGNALS:
            raise HTTPException(422, f"signal must be one of {', '.join(SIGNALS)}")
        return await web.control(run_id, {"cmd": "signal", "pid": req.pid, "signal": req.signal}, request)

    @app.post("/api/runs/{run_id}/interrupt")
    async def interrupt_run(run_id: str, request: Request) -> dict[str, Any]:
        return await web.control(run_id, {"cmd": "interrupt"}, request)

    @app.post("/api/runs/{run_id}/input")
    async def input_run(run_id: str, req: InputRequest, request: Request) -> dict[str, Any]:
        await web.control(run_id, {"cmd": "input", "text": req.text}, request)
        if req.eof:
            await web.control(run_id, {"cmd": "eof"}, request)
        return {"ok": True}

    @app.post("/api/runs/{run_id}/pace")
    async def pace_run(run_id: str, req: PaceRequest, request: Request) -> dict[str, Any]:
        if req.mode not in ("normal", "paused", "step", "slow"):
            raise HTTPException(422, "mode must be normal, paused, step or slow")
        return await web.control(run_id, {"cmd": "pace", "mode": req.mode, "delay_ms": req.delay_ms}, request)

    @app.post("/api/runs/{run_id}/step")
    async def step_run(run_id: str, request: Request) -> dict[str, Any]:
        return await web.control(run_id, {"cmd": "step"}, request)

    @app.get("/api/runs/{run_id}/export")
    async def export_run(run_id: str) -> Response:
        meta = await web.find_run(run_id)
        run = web.state.manager.runs.get(run_id)
        if run is not None and run.status != RunStatus.FINISHED:
            raise HTTPException(409, "the run is still going; export it when it has finished")
        events = run.events if run is not None else await asyncio.to_thread(web.state.storage.get_events, run_id, -1)
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
        web.need_instructor(request)
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
        record = {"id": new_run_id(), "lesson": meta.get("lesson"), "status": "finished",
                  "created": time.time(), "finished": time.time(), "result": meta.get("result"),
                  "files": meta.get("files") or {}, "answers": meta.get("answers"), "room": None}
        await asyncio.to_thread(web.state.storage.save_run, record, events)
        return {"id": record["id"], "events": len(events), "imported_from": meta.get("id")}

    @app.websocket("/ws/runs/{run_id}")
    async def ws_run(ws: WebSocket, run_id: str, after: int = -1) -> None:
        await ws.accept()
        run = web.state.manager.runs.get(run_id)
        if run is None:
            rec = await asyncio.to_thread(web.state.storage.get_run, run_id)
            if rec is None:
                await ws.close(code=4404, reason="no such run")
                return
            events = await asyncio.to_thread(web.state.storage.get_events, run_id, after)
            for i in range(0, len(events), 500):
                await ws.send_text(json.dumps(events[i:i + 500], ensure_ascii=False))
            await ws.close()
            return
        q = web.state.manager.subscribe(run, after)
        try:
            await stream_queue(ws, q)
        except WebSocketDisconnect:
            pass
        finally:
            web.state.manager.unsubscribe(run, q)
