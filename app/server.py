"""The web process: builds the FastAPI app (lifespan, middleware, /docs) and serves it.

Routes live in app/web/, one router per area; they reach the server state through the `Web`
dependency (app/web/deps.py), made complete in the lifespan before the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import i18n
from .auth import Auth
from .classroom.exercises import Exercise
from .classroom.hub import Classroom
from .cluster import Alone, Directory
from .lessons import LessonStore
from .rooms import RoomHub
from .runs import RunManager, interrupted_finish
from .runspec import floor_missing
from .sandbox.client import Launcher, LauncherError
from .settings import ROOT, Settings, get_settings
from .storage import Storage, StorageError
from .version import version
from .web import classroom_api, health, lessons_api, pages, rooms_api, runs_api
from .web.common import CSP, State, Web
from .web.guards import Guards
from .web.headers import PageHeaders
from .web.problems import Problem

log = logging.getLogger("proclab")


async def build_state(settings: Settings) -> State:
    """Everything the server holds. A database that cannot be used stops the start (StorageError)."""
    storage = await asyncio.to_thread(Storage.open, settings.database, settings.node_id)  # upgrades to head
    # A node named by PROCLAB_NODE_ID ends only its own runs (others may be going on other nodes); a server
    # without one is alone, and ends every run left going, whatever host name it had then (a new container).
    alone = "node_id" not in settings.model_fields_set
    left = await asyncio.to_thread(storage.interrupted, interrupted_finish, None if alone else settings.node_id)
    if left:
        log.warning("%d run(s) were going when the server last stopped; kept as interrupted: %s",
                    len(left), ", ".join(left))
    lessons = LessonStore(settings.lessons_dir)
    for err in lessons.errors:
        log.error("lesson not loaded: %s", err)
    launcher = Launcher.create(settings.runtime_dir, settings.uid_base, settings.max_concurrent_runs,
                               settings.run_python, settings.disabled)
    try:
        await asyncio.to_thread(launcher.start)
    except LauncherError as e:
        log.error("the sandbox launcher could not start: %s", e)
    manager = RunManager(settings, launcher, storage)
    manager.floor_missing = floor_missing(launcher.info, launcher.as_root) if launcher.info else ["process"]
    if manager.floor_missing:
        log.error("refusing to run student code: the sandbox floor is missing %s", ", ".join(manager.floor_missing))

    def fresh_lessons() -> LessonStore:
        lessons.refresh()
        return lessons

    auth = Auth(settings.instructor_token, settings.session_hours, settings.signin_per_minute)
    cluster: Directory
    rooms: RoomHub
    if settings.redis_url:  # several nodes: redis-py is imported only here
        from .cluster.node import RedisNode
        from .cluster.rooms import ClusterRoomHub
        from .cluster.sessions import SharedSessions

        node = RedisNode(settings, manager, storage)
        cluster, rooms = node, ClusterRoomHub(manager, node)
        auth.sessions = SharedSessions(settings.session_hours, node.sync)
    else:
        cluster, rooms = Alone(manager), RoomHub(manager)
    classroom = Classroom(manager, fresh_lessons)
    cluster.on_student_run = classroom.student_run_placed
    if settings.redis_url:
        classroom.shared = node
        node.exercise_of = functools.partial(_exercise_of, fresh_lessons)
        node.on_class_notice = classroom.remote_notice
    return State(settings=settings, lessons=lessons, launcher=launcher, storage=storage, manager=manager,
                 rooms=rooms, cluster=cluster, classroom=classroom, auth=auth)


def _exercise_of(lessons: Callable[[], LessonStore], lesson_id: str, exercise_id: str) -> Exercise | None:
    """An exercise named by a run another node admitted (every node reads the same lessons)."""
    lesson = lessons().get(lesson_id)
    return next((e for e in lesson.exercises if e.id == exercise_id), None) if lesson else None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    templates = Jinja2Templates(directory=str(ROOT / "templates"))
    i18n.install(templates.env)
    web = Web(settings, templates)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            state = await build_state(settings)
        except StorageError as e:
            log.error("%s", e)
            raise
        web.attach(state)
        await state.cluster.start()
        await state.manager.keep_warm()
        janitor = asyncio.get_running_loop().create_task(state.manager.janitor())
        try:
            yield
        finally:
            janitor.cancel()
            await state.manager.shutdown()
            await state.manager.flush()
            await state.cluster.stop()
            await asyncio.to_thread(state.launcher.stop)
            state.storage.close()

    app = FastAPI(title="ProcLab", version=version(), lifespan=lifespan, docs_url=None, redoc_url=None,
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
    app.state.web = web  # what the routers' WebDep returns
    app.add_middleware(PageHeaders, csp=CSP)
    app.add_middleware(Guards, max_body=settings.max_body_kb * 1024, max_import=settings.max_import_mb * 2**20,
                       public_url=settings.public_url, ws_send_buffer=settings.ws_send_buffer_kb * 1024)

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> Response:
        # A page a browser opened (not the API) is an HTML page in the reader's language; else the coded JSON.
        if not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", ""):
            page = web.page(request, "error.html", code=exc.code, params=exc.params)
            page.status_code = exc.status_code
            return page
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422, without echoing the input: NaN or a 2 MB string has no place in the answer.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    app.include_router(health.router(web))
    for module in (lessons_api, runs_api, rooms_api, classroom_api, pages):
        app.include_router(module.router)
    return app


def serve(host: str | None, port: int | None) -> int:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level, ws_max_size=1 << 20)
    return 0
