"""Dependencies the routers declare: the server's `Web`, the caller, instructor-only routes.

All `async def`: FastAPI runs a plain `def` dependency in a worker thread, two thread hops on every
request (a Run press among them), which a burst of 60 presses queued behind each other and the GIL.
None of them blocks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..runs import Client
from .common import Web, client_of


async def get_web(conn: HTTPConnection) -> Web:
    web: Web = conn.app.state.web
    return web


WebDep = Annotated[Web, Depends(get_web)]


async def get_client(conn: HTTPConnection) -> Client:
    return client_of(conn)


ClientDep = Annotated[Client, Depends(get_client)]


async def need_instructor(conn: HTTPConnection, web: WebDep) -> None:
    web.need_instructor(conn)


Instructor = Depends(need_instructor)
