"""The web process: builds the FastAPI app (lifespan, middleware, /docs, /healthz) and serves it.

Routes live in app/web/, one module per area; they share the server state through `Web`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .classroom.hub import Classroom
from .lessons import LessonStore
from .rooms import RoomHub
from .runs import RunManager
from .runspec import floor_missing
from .sandbox.client import Launcher, LauncherError
from .settings import ROOT, Settings, get_settings
from .storage import Storage
from .web import classroom_api, lessons_api, pages, rooms_api, runs_api
from .web.common import CSP, State, Web
from .web.headers import PageHeaders

log = logging.getLogger("proclab")


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
        state.classroom = Classroom(state.manager, web.lessons)
        state.manager.floor_missing = floor_missing(state.launcher.info, state.launcher.as_root) \
            if state.launcher.info else ["process"]
        if state.manager.floor_missing:
            log.error("refusing to run student code: the sandbox floor is missing %s",
                      ", ".join(state.manager.floor_missing))
        await state.manager.keep_warm()
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

    app.add_middleware(PageHeaders, csp=CSP)


    web = Web(state, templates)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        h = web.health()
        return JSONResponse(h, status_code=200)

    for module in (lessons_api, runs_api, rooms_api, classroom_api, pages):
        module.register(app, web)
    app.state.proclab = state
    return app


def serve(host: str | None, port: int | None) -> int:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, ws_max_size=1 << 20)
    return 0

