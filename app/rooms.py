"""Classroom rooms: a short code; every event of the room's runs goes to every connected student.

Late joiners first receive everything the room's runs produced so far (each
event names its run), then the live stream, in one ordered queue.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from .feeds import Feed
from .runs import Run, RunManager

# No 0/O, 1/I/L: students type these from a projector.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def with_run(text: str, run_id: str) -> str:
    """An event's JSON with its run id added (room streams mix the events of several runs)."""
    return f'{text[:-1]},"run":{json.dumps(run_id)}}}'


def new_code(length: int = 5) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


@dataclass
class Room:
    code: str
    title: str | None = None
    run_ids: list[str] = field(default_factory=list)
    subscribers: set[Feed] = field(default_factory=set)
    instructors: set[Feed] = field(default_factory=set)  # the subset that is not a student


class RoomHub:
    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.rooms: dict[str, Room] = {}
        manager.listeners.append(self._on_events)

    def create(self, title: str | None) -> Room:
        code = new_code()
        while code in self.rooms or self.manager.storage.get_room(code):
            code = new_code()
        self.manager.storage.add_room(code, title)
        room = Room(code=code, title=title)
        self.rooms[code] = room
        return room

    def get(self, code: str) -> Room | None:
        code = code.upper()
        room = self.rooms.get(code)
        if room is None:
            stored = self.manager.storage.get_room(code)
            if stored is None:
                return None
            room = Room(code=code, title=stored["title"],
                        run_ids=[r["id"] for r in reversed(self.manager.storage.list_runs(500, room=code))])
            self.rooms[code] = room
        return room

    def add_run(self, room: Room, run_id: str) -> None:
        if run_id not in room.run_ids:
            room.run_ids.append(run_id)

    def _on_events(self, run: Run, texts: list[str]) -> None:
        if run.room is None:
            return
        room = self.rooms.get(run.room)
        if room is None:
            return
        if run.id not in room.run_ids:
            room.run_ids.append(run.id)
        tagged = [with_run(t, run.id) for t in texts]  # once per room, not once per student
        for feed in list(room.subscribers):
            feed.push(tagged)

    async def subscribe(self, room: Room, instructor: bool = False, after: dict[str, int] | None = None) -> Feed:
        """Catch-up first (events of every run so far), then live, with no gap and no duplicate.

        after: {run id: last seq seen} from a client that resumes; those runs start after that seq.
        Finished runs are read from SQLite first (that awaits); then the in-memory runs are copied and
        the feed registered without any await in between, so no live event can slip past.
        """
        after = after or {}
        stored: dict[str, list[dict[str, Any]]] = {}
        for run_id in list(room.run_ids):
            if run_id not in self.manager.runs:
                stored[run_id] = await asyncio.to_thread(self.manager.storage.get_events, run_id,
                                                         after.get(run_id, -1))
        feed = Feed(self.manager.settings.ws_buffer_events)
        catch_up: list[str] = []
        for run_id in list(room.run_ids):
            run = self.manager.runs.get(run_id)
            if run is not None:
                catch_up += [with_run(text, run_id) for text in run.encoded[after.get(run_id, -1) + 1:]]
            else:
                catch_up += [json.dumps({**ev, "run": run_id}, ensure_ascii=False) for ev in stored.get(run_id, [])]
        feed.preload(catch_up)
        room.subscribers.add(feed)
        if instructor:
            room.instructors.add(feed)
        return feed

    def unsubscribe(self, room: Room, feed: Feed) -> None:
        room.subscribers.discard(feed)
        room.instructors.discard(feed)

    def clients(self, room: Room) -> tuple[int, int]:
        """(students, instructors) connected."""
        return len(room.subscribers) - len(room.instructors), len(room.instructors)
