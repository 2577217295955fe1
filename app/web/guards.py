"""Checks before a request reaches a route (a plain ASGI middleware, see headers.py for why):

- cross-site requests that change state, and WebSocket upgrades from other sites, get 403: the
  Origin (or, without it, Sec-Fetch-Site) must name this server;
- request bodies over the cap get 413 before the route reads them (Content-Length, or counted as
  they arrive), so nothing of an oversized request is stored or started;
- a WebSocket's kernel send buffer is fixed (`ws_send_buffer_kb`): autotuned, the kernel holds up to
  4 MiB for a client that stopped reading, and hides the stall from its feed's bound (app/feeds.py).
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_bytes

SAFE = {"GET", "HEAD", "OPTIONS"}


class TooLarge(BaseException):
    """Raised from receive(): a BaseException so FastAPI's body parsing does not turn it into a 400."""


class Guards:
    def __init__(self, app: ASGIApp, max_body: int, max_import: int, public_url: str = "",
                 ws_send_buffer: int = 0) -> None:
        self.app = app
        self.ws_send_buffer = ws_send_buffer
        self.max_body = max_body
        self.max_import = max_import
        public = urlsplit(public_url) if public_url else None
        self.public = f"{public.scheme}://{public.netloc}".lower() if public and public.netloc else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        if (scope["type"] == "websocket" or method not in SAFE) and not self._same_origin(scope, headers):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "cross-site WebSocket refused"})
                return
            await _error(send, 403, "cross_site")
            return
        if scope["type"] == "websocket" and self.ws_send_buffer:
            _bound_send_buffer(send, self.ws_send_buffer)
        if scope["type"] != "http" or method in SAFE:
            await self.app(scope, receive, send)
            return
        cap = self.max_import if scope.get("path") == "/api/runs/import" else self.max_body
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            await _error(send, 413, "body_too_large", kib=cap // 1024)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > cap:
                    raise TooLarge
            return msg

        async def watched_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted, watched_send)
        except TooLarge:
            if not started:
                await _error(send, 413, "body_too_large", kib=cap // 1024)

    def _same_origin(self, scope: Scope, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # No Origin: not a browser's cross-site request, unless Fetch metadata says so.
            return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        origin = origin.lower()
        if origin == "null":
            return False
        if self.public is not None and origin == self.public:
            return True
        host = headers.get("host", "").lower()
        parts = urlsplit(origin)
        return bool(host) and parts.netloc == host and parts.scheme in ("http", "https")


def _bound_send_buffer(send: Send, size: int) -> None:
    """Reached through the server's own send (ASGI has no socket): uvicorn passes a bound method of its
    protocol, which holds the transport. Another server keeps the kernel's default."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except (OSError, AttributeError):
            pass


async def _error(send: Send, status: int, code: str, **params: Any) -> None:
    body = problem_bytes(code, **params)
    # Outside PageHeaders (it runs inside these guards), so the header every answer gets is set here too.
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})
