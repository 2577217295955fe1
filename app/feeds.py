"""What waits for one WebSocket client: a bounded list of encoded events.

A client that stops reading must not make the server hold everything a room or a run produces for
it: past `limit` events waiting, the feed overflows, forgets what it held and the stream is closed
with a reason; the client resumes with `?after=` (docs/events.md).
"""

from __future__ import annotations

import asyncio
from collections import deque


class Feed:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: deque[str] = deque()
        self.ended = False  # nothing more will come (the run finished)
        self.overflowed = False
        self.wake = asyncio.Event()
        self.overflow = asyncio.Event()
        self.catching_up = 0  # preloaded items not sent yet (they are first in items)

    def preload(self, texts: list[str]) -> None:
        """The catch-up: what the client has not seen yet when it connects (finite, not bounded)."""
        self.items.extend(texts)
        self.catching_up += len(texts)
        if texts:
            self.wake.set()

    def prepend(self, texts: list[str]) -> None:
        """A catch-up read after the feed was registered (a cluster stream's reader): it goes before what
        came live meanwhile."""
        self.items.extendleft(reversed(texts))
        self.catching_up += len(texts)
        if texts:
            self.wake.set()

    def push(self, texts: list[str]) -> None:
        if self.overflowed or self.ended:
            return
        if len(self.items) + len(texts) > self.limit + self.catching_up:
            self.overflowed = True
            self.overflow.set()
            self.items.clear()
            self.catching_up = 0
        else:
            self.items.extend(texts)
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()

    def take(self, most: int) -> list[str]:
        n = min(most, len(self.items))
        out = [self.items.popleft() for _ in range(n)]
        self.catching_up = max(0, self.catching_up - n)
        if not self.items and not self.ended and not self.overflowed:
            self.wake.clear()
        return out
