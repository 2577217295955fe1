"""Response headers every page gets: the content security policy and the anonymous client cookie.

A plain ASGI middleware rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware
runs each request in an extra task with memory streams, which cost about a millisecond per
request on the 2-core machine of docs/benchmarks.md, on the path of every "Run" press.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "pl_client"
COOKIE_MAX_AGE = 365 * 86400
WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Swagger UI starts itself with an inline script; everything else of the page policy holds for /docs too.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")


class PageHeaders:
    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_cookie = False
        for name, value in scope.get("headers", []):
            if name == b"cookie" and WELL_FORMED.match(cookie_parser(value.decode("latin-1")).get(COOKIE, "")):
                has_cookie = True  # a malformed one is replaced (client ids come only from well-formed ones)
                break
        is_docs = scope.get("path") == "/docs"
        token = None
        if not has_cookie:
            # The new id, also for this request: a client's first POST and its later reads are the same client.
            token = secrets.token_urlsafe(12)
            scope = {**scope, "headers": _with_cookie(scope.get("headers", []), f"{COOKIE}={token}")}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = DOCS_CSP if is_docs else self.csp
                    headers["Referrer-Policy"] = "same-origin"
                    headers["X-Frame-Options"] = "SAMEORIGIN"
                if token is not None:
                    headers.append("set-cookie", client_cookie(token))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_cookie(headers: list[tuple[bytes, bytes]], pair: str) -> list[tuple[bytes, bytes]]:
    """The request's headers with one more cookie, in its one Cookie header (Starlette reads only the first)."""
    out, added = [], False
    for name, value in headers:
        if name == b"cookie" and not added:
            value = value + b"; " + pair.encode()  # last wins over a malformed one before it
            added = True
        out.append((name, value))
    if not added:
        out.append((b"cookie", pair.encode()))
    return out


def client_cookie(token: str | None = None) -> str:
    """An anonymous id for per-client run limits; not a credential, so no Secure flag is needed."""
    return (f"{COOKIE}={token or secrets.token_urlsafe(12)}; HttpOnly; Max-Age={COOKIE_MAX_AGE}; Path=/; "
            "SameSite=lax")


__all__ = ["PageHeaders", "client_cookie"]
