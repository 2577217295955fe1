"""Instructor sessions every node knows: a sign-in on one node is valid on the others, a sign-out ends it
everywhere (at most RECHECK_S later on a node that had just seen it).

Sessions are kept in Redis under the hash of their id (the cookie's value never sits in Redis) with the
session's lifetime as TTL. Lookups are synchronous, like `Auth.is_instructor`: one GET on loopback or a
LAN, and at most once per RECHECK_S per session per node.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import redis

from ..auth import Sessions

log = logging.getLogger("proclab.cluster")

P = "proclab:session:"
RECHECK_S = 5.0


class SharedSessions(Sessions):
    def __init__(self, hours: float, sync: Any) -> None:
        super().__init__(hours)
        self.sync = sync  # redis.Redis (decode_responses), short socket timeouts
        self.checked: dict[str, float] = {}  # sid -> when Redis last said it is valid

    @staticmethod
    def _key(sid: str) -> str:
        return P + hashlib.sha256(sid.encode()).hexdigest()

    def create(self) -> str:
        sid = super().create()
        try:
            self.sync.set(self._key(sid), "1", ex=max(1, int(self.ttl)))
        except (redis.RedisError, OSError) as e:  # Redis away: a sign-in on this node, known here only
            log.error("redis: the session is known on this node only: %s", e)
        self.checked[sid] = time.monotonic()
        return sid

    def valid(self, sid: str) -> bool:
        now = time.monotonic()
        if now - self.checked.get(sid, -RECHECK_S) < RECHECK_S:
            return True
        try:
            ok = bool(self.sync.exists(self._key(sid)))
        except (redis.RedisError, OSError):  # Redis away: what this node knows (its own sign-ins)
            return super().valid(sid) or sid in self.checked
        if ok:
            if len(self.checked) > 10_000:
                self.checked.clear()
            self.checked[sid] = now
        else:
            self.checked.pop(sid, None)
        return ok

    def revoke(self, sid: str) -> None:
        super().revoke(sid)
        self.checked.pop(sid, None)
        try:
            self.sync.delete(self._key(sid))
        except (redis.RedisError, OSError) as e:
            log.error("redis: a sign-out other nodes will not hear of until the session expires: %s", e)
