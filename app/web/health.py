"""Liveness and readiness.

`/healthz` (liveness) answers 200 while the process lives, with what the sandbox probe found.
`/readyz` (readiness, the container's HEALTHCHECK) answers 200 only when a run can start and be kept:
the launcher is alive, the sandbox floor is there and the data directory and its database work; else 503
with the reasons, one per failed check.
"""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import Callable
from typing import Any

import psutil
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..i18n import Lang, translate
from .common import Web

STORAGE_TIMEOUT_S = 2.0  # a database busy longer than this with a save is reported, not waited for


class Check(enum.Enum):
    LAUNCHER = "launcher"
    SANDBOX = "sandbox"
    STORAGE = "storage"
    REDIS = "redis"


def _launcher(web: Web) -> str | None:
    launcher = web.state.launcher
    if not launcher.info:
        return "the sandbox launcher did not start (see the server log)"
    if not launcher.alive():
        return "the sandbox launcher is not running (the server restarts it within a few seconds)"
    return None


def _sandbox(web: Web) -> str | None:
    missing = web.state.manager.floor_missing
    return f"student code is refused: the sandbox is missing {', '.join(missing)}" if missing else None


def _storage(web: Web) -> str | None:
    """Write and remove a file in the data directory (SQLite's), then read from the database. No fsync: under a
    busy disk it could outlast the HEALTHCHECK's timeout, and a full disk shows in the database's own writes."""
    storage = web.state.storage
    ok, problem = storage.health()
    if not ok:  # a save that failed while a run went on (disk full, read-only …)
        return f"recordings could not be saved lately ({problem}): see the server log"
    if storage.path is not None:
        probe = storage.path.parent / f".readyz-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
            os.unlink(probe)
        except OSError as e:
            return f"the data directory {storage.path.parent} is not writable: {e.strerror or e}"
    return storage.ping(STORAGE_TIMEOUT_S)


CHECKS: dict[Check, Callable[[Web], str | None]] = {
    Check.LAUNCHER: _launcher,
    Check.SANDBOX: _sandbox,
    Check.STORAGE: _storage,
}


async def readiness(web: Web) -> list[dict[str, Any]]:
    """[{"check": name, "detail": why}, ...] for each failed check; empty when ready. The Redis check also
    has the code and parameters of its words (`health.redis` in static/i18n/)."""
    reasons: list[dict[str, Any]] = []
    for check, fn in CHECKS.items():
        detail = await asyncio.to_thread(fn, web) if check is Check.STORAGE else fn(web)
        if detail is not None:
            reasons.append({"check": check.value, "detail": detail})
    problem = await web.state.cluster.problem()  # several nodes: the Redis they share must answer
    if problem is not None:
        reasons.append({"check": Check.REDIS.value, "code": "redis", "params": {"problem": problem},
                        "detail": translate(Lang.EN, "health.redis", problem=problem)})
    return reasons


def _server_process() -> dict[str, Any]:
    """The web process's own footprint (memory per classroom is what instructors ask about)."""
    me = psutil.Process()
    with me.oneshot():
        cpu = me.cpu_times()
        return {"pid": me.pid, "rss_mb": round(me.memory_info().rss / 2**20, 1), "threads": me.num_threads(),
                "cpu_s": round(cpu.user + cpu.system, 2)}


def router(web: Web) -> APIRouter:
    r = APIRouter(tags=["health"])

    @r.get("/healthz", summary="liveness: 200 while the process lives, with the sandbox layers found")
    async def healthz() -> dict[str, Any]:
        return {**web.health(), "server": _server_process()}

    @r.get("/readyz", summary="readiness: 200 when runs can start and be stored, else 503 with the reasons",
           responses={503: {"description": "not ready; `reasons` names each failed check"}})
    async def readyz() -> JSONResponse:
        reasons = await readiness(web)
        return JSONResponse({"ready": not reasons, "reasons": reasons}, status_code=503 if reasons else 200)

    return r
