"""Instructor identity: one token from PROCLAB_INSTRUCTOR_TOKEN, as a Bearer header or a sign-in cookie.

The cookie holds an HMAC of the token, never the token itself. The token lives
only in the web process: the launcher was started with a clean environment.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request
from starlette.requests import HTTPConnection

COOKIE = "pl_instructor"


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"proclab-instructor-cookie", hashlib.sha256).hexdigest()


def is_instructor(request: HTTPConnection, token: str) -> bool:
    if not token:
        return False
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), cookie_value(token).encode())


def require_instructor(request: Request, token: str) -> None:
    if not token:
        raise HTTPException(403, "instructor features are off: the server has no PROCLAB_INSTRUCTOR_TOKEN")
    if not is_instructor(request, token):
        raise HTTPException(401, "instructor sign-in required: send 'Authorization: Bearer TOKEN' or sign in at "
                                 "/signin", headers={"WWW-Authenticate": "Bearer"})
