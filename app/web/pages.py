"""HTML pages (lesson list, lesson, replay, room), instructor sign-in, /api/me."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from .. import auth
from ..i18n import to_lang
from .common import SHARE_COOKIE, ip_of, pick_lang, script_json
from .deps import WebDep
from .problems import Problem

router = APIRouter(include_in_schema=False)


@router.get("/api/me", include_in_schema=True, tags=["pages"])
async def me(web: WebDep, request: Request) -> dict[str, Any]:
    return {"instructor": web.instructor(request), "instructor_enabled": web.state.auth.enabled}


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(web: WebDep, request: Request) -> HTMLResponse:
    return web.page(request, "signin.html", enabled=web.state.auth.enabled, error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(web: WebDep, request: Request) -> Response:
    a = web.state.auth
    wait = a.signin_limit.retry_after(ip_of(request))
    if wait:
        page = web.page(request, "signin.html", enabled=a.enabled, error="too_many")
        page.status_code = 429
        page.headers["Retry-After"] = str(wait)
        return page
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    if not a.token_ok(token):
        page = web.page(request, "signin.html", enabled=a.enabled, error="wrong" if a.enabled else None)
        page.status_code = 401
        return page
    resp = Response(status_code=303, headers={"Location": "/"})
    resp.set_cookie(auth.COOKIE, a.sessions.create(), httponly=True, samesite="lax",
                    max_age=int(web.settings.session_hours * 3600))
    return resp


@router.post("/signout")
async def signout(web: WebDep, request: Request) -> Response:
    web.state.auth.sessions.revoke(request.cookies.get(auth.COOKIE, ""))
    resp = Response(status_code=303, headers={"Location": "/"})
    resp.delete_cookie(auth.COOKIE)
    return resp


@router.get("/", response_class=HTMLResponse)
async def index(web: WebDep, request: Request) -> HTMLResponse:
    store = web.lessons()
    lang = to_lang(pick_lang(request))  # an instructor's lesson errors, in the page's language
    return web.page(request, "index.html", lessons=[x.summary_dict() for x in store.ordered()], health=web.health(),
                    lesson_errors=[{**e.to_dict(), "message": e.msg.text(lang)} for e in store.errors])


@router.get("/lessons/{lesson_id}", response_class=HTMLResponse)
async def lesson_page(lesson_id: str, web: WebDep, request: Request) -> HTMLResponse:
    lesson = web.lessons().get(lesson_id)
    if lesson is None:
        raise Problem(404, "no_lesson", lesson=lesson_id)
    data = lesson.to_dict()
    return web.page(request, "lesson.html", lesson=data, lesson_json=script_json(data))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: str, web: WebDep, request: Request) -> HTMLResponse:
    meta = await web.readable_run(request, run_id)
    lesson = web.lessons().get(meta["lesson"]) if meta.get("lesson") else None
    share = meta.get("share")
    base = web.settings.public_url or str(request.base_url)
    share_url = f"{base.rstrip('/')}/runs/{run_id}?share={share}" if share else None
    run = {k: meta.get(k) for k in ("id", "lesson", "status", "created", "finished", "result", "answers", "room",
                                    "files")}
    resp = web.page(request, "run.html", run=run, run_json=script_json(run), share_url=share_url,
                    lesson=lesson.to_dict() if lesson else None,
                    lesson_json=script_json(lesson.to_dict() if lesson else None))
    if request.query_params.get("share") and share:
        # The page's own requests (events, WebSocket, export) then carry the share link too.
        resp.set_cookie(SHARE_COOKIE + run_id, share, httponly=True, samesite="lax",
                        max_age=web.settings.retention_days * 86400)
    return resp


@router.get("/room/{code}", response_class=HTMLResponse)
async def room_page(code: str, web: WebDep, request: Request) -> HTMLResponse:
    room = await asyncio.to_thread(web.state.rooms.get, code)
    if room is None:
        raise Problem(404, "no_room", room=code)
    info = web.room_info(room, request)
    return web.page(request, "room.html", room=info, room_json=script_json(info), instructor=web.instructor(request))


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204)
