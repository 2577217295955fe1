"""Dependencies the routers declare: the server's `Web`, the caller, instructor-only routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..runs import Client
from .common import Web, client_of


def get_web(conn: HTTPConnection) -> Web:
    web: Web = conn.app.state.web
    return web


WebDep = Annotated[Web, Depends(get_web)]


def get_client(conn: HTTPConnection) -> Client:
    return client_of(conn)


ClientDep = Annotated[Client, Depends(get_client)]


def need_instructor(conn: HTTPConnection, web: WebDep) -> None:
    web.need_instructor(conn)


Instructor = Depends(need_instructor)
