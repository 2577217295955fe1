"""HTML pages (lesson list, lesson, replay, room), instructor sign-in, /api/me."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from .. import auth
from .common import (
    Web,
    script_json,
)


def register(app: FastAPI, web: Web) -> None:
    @app.get("/api/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"instructor": web.instructor(request), "instructor_enabled": bool(web.settings.instructor_token)}

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request) -> HTMLResponse:
        return web.page(request, "signin.html", enabled=bool(web.settings.instructor_token), error=None)

    @app.post("/signin", response_class=HTMLResponse)
    async def signin(request: Request) -> Response:
        from urllib.parse import parse_qs

        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        import hmac

        if not web.settings.instructor_token or not hmac.compare_digest(token.encode(),
                                                                     web.settings.instructor_token.encode()):
            page = web.page(request, "signin.html", enabled=bool(web.settings.instructor_token),
                            error="That token is not right." if web.settings.instructor_token else None)
            page.status_code = 401
            return page
        resp = Response(status_code=303, headers={"Location": "/"})
        resp.set_cookie(auth.COOKIE, auth.cookie_value(web.settings.instructor_token), httponly=True, samesite="lax",
                        max_age=30 * 86400)
        return resp

    @app.post("/signout")
    async def signout() -> Response:
        resp = Response(status_code=303, headers={"Location": "/"})
        resp.delete_cookie(auth.COOKIE)
        return resp

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        store = web.lessons()
        return web.page(request, "index.html", lessons=[x.summary_dict() for x in store.ordered()], health=web.health(),
                    lesson_errors=[e.to_dict() for e in store.errors])

    @app.get("/lessons/{lesson_id}", response_class=HTMLResponse)
    async def lesson_page(request: Request, lesson_id: str) -> HTMLResponse:
        lesson = web.lessons().get(lesson_id)
        if lesson is None:
            raise HTTPException(404, f"no lesson {lesson_id!r}")
        data = lesson.to_dict()
        return web.page(request, "lesson.html", lesson=data, lesson_json=script_json(data))

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    async def run_page(request: Request, run_id: str) -> HTMLResponse:
        run = await web.find_run(run_id)
        lesson = web.lessons().get(run["lesson"]) if run.get("lesson") else None
        run = {**run, "files": run.get("files") or (web.state.manager.runs[run_id].files
                                                   if run_id in web.state.manager.runs else {})}
        return web.page(request, "run.html", run=run, run_json=script_json(run),
                    lesson=lesson.to_dict() if lesson else None,
                    lesson_json=script_json(lesson.to_dict() if lesson else None))

    @app.get("/room/{code}", response_class=HTMLResponse)
    async def room_page(request: Request, code: str) -> HTMLResponse:
        room = await asyncio.to_thread(web.state.rooms.get, code)
        if room is None:
            raise HTTPException(404, f"no room {code!r}")
        info = web.room_info(room, request)
        return web.page(request, "room.html", room=info, room_json=script_json(info), instructor=web.instructor(request))

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)
