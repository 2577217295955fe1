"""Instructor identity: one token from PROCLAB_INSTRUCTOR_TOKEN, as a Bearer header or a sign-in session.

Signing in with the token makes a session: a random id in the cookie, known only to this server,
that expires (`session_hours`) and that signing out ends. The token itself never leaves the web
process (the launcher was started with a clean environment). Sign-in attempts are limited per IP.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections import deque

from starlette.requests import HTTPConnection

from .web.problems import Problem

COOKIE = "pl_instructor"


class Sessions:
    """Instructor sessions in memory: a restart signs everyone out, which is the safe direction."""

    def __init__(self, hours: float) -> None:
        self.ttl = hours * 3600
        self.expires: dict[str, float] = {}

    def create(self) -> str:
        self._prune()
        sid = secrets.token_urlsafe(32)
        self.expires[sid] = time.monotonic() + self.ttl
        return sid

    def valid(self, sid: str) -> bool:
        end = self.expires.get(sid)
        if end is None:
            return False
        if end < time.monotonic():
            self.expires.pop(sid, None)
            return False
        return True

    def revoke(self, sid: str) -> None:
        self.expires.pop(sid, None)

    def _prune(self) -> None:
        now = time.monotonic()
        for sid in [s for s, end in self.expires.items() if end < now]:
            del self.expires[sid]


class RateLimit:
    """At most `per_minute` attempts per key in any 60 s."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """0 if an attempt is allowed now (and counts it); else the seconds to wait."""
        now = time.monotonic()
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= now - self.WINDOW:
            q.popleft()
        if len(q) >= self.per_minute:
            return max(1, math.ceil(q[0] + self.WINDOW - now))
        q.append(now)
        if len(self.hits) > 10_000:  # many addresses: forget the idle ones
            for k in [k for k, v in self.hits.items() if not v or v[-1] <= now - self.WINDOW]:
                del self.hits[k]
        return 0


class Auth:
    def __init__(self, token: str, session_hours: float, signin_per_minute: int) -> None:
        self.token = token
        self.sessions = Sessions(session_hours)
        self.signin_limit = RateLimit(signin_per_minute)

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    def token_ok(self, given: str) -> bool:
        return self.enabled and hmac.compare_digest(given.encode(), self.token.encode())

    def is_instructor(self, conn: HTTPConnection) -> bool:
        if not self.enabled:
            return False
        header = conn.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self.token_ok(header[7:].strip()):
            return True
        sid = conn.cookies.get(COOKIE, "")
        return bool(sid) and self.sessions.valid(sid)

    def require(self, conn: HTTPConnection) -> None:
        if not self.enabled:
            raise Problem(403, "instructor_off")
        if not self.is_instructor(conn):
            raise Problem(401, "signin_required", headers={"WWW-Authenticate": "Bearer"})
