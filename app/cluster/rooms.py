"""Rooms over several nodes: a room's events reach its students through the room's Redis stream.

Every node, the one running the instructor's run included, serves its students from the same
stream (`proclab:room:<code>`, written by the nodes that run the room's runs), so all of them get the
events in one order, and a late joiner on any node catches up from it. Runs older than the stream
keeps are read from storage, as in the embedded hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis

from ..feeds import Feed
from ..rooms import Room, RoomHub
from ..runs import Run, RunManager
from .node import RedisNode, presence_key, room_key

log = logging.getLogger("proclab.cluster")


class ClusterRoomHub(RoomHub):
    def __init__(self, manager: RunManager, node: RedisNode) -> None:
        super().__init__(manager)
        self.node = node

    def get(self, code: str) -> Room | None:
        room = super().get(code)
        if room is not None:  # runs placed by other nodes (worker thread: the sync client)
            try:
                placed = self.node.room_runs(room.code)
            except (redis.RedisError, OSError) as e:  # Redis away: the runs this node knows
                log.error("redis: the runs of room %s: %s", room.code, e)
                placed = []
            for run_id in placed:
                if run_id not in room.run_ids:
                    room.run_ids.append(run_id)
        return room

    def _on_events(self, run: Run, texts: list[str]) -> None:
        # Students get events from the room's stream, not from here (that would skip the shared order).
        if run.room is not None and (room := self.rooms.get(run.room)) is not None and run.id not in room.run_ids:
            room.run_ids.append(run.id)

    async def subscribe(self, room: Room, instructor: bool = False, after: dict[str, int] | None = None) -> Feed:
        after = after or {}

        def keep(f: dict[str, str]) -> bool:
            return int(f["s"]) > after.get(f["r"], -1)

        def seen(f: dict[str, str]) -> None:
            if f["r"] not in room.run_ids:
                room.run_ids.append(f["r"])

        known = list(room.run_ids)
        feed, entries = await self.node.tail(room_key(room.code), keep, on_entry=seen)
        # Runs of the room whose start the stream no longer holds: from storage, before the rest. A run
        # missing from the stream altogether is read only once finished (one that starts now comes live).
        first: dict[str, int] = {}
        for f in entries:
            first.setdefault(f["r"], int(f["s"]))
        older: list[str] = []
        for run_id in known:
            start = first.get(run_id)
            if start == 0:
                continue
            if start is None:
                rec = await asyncio.to_thread(self.manager.storage.get_run, run_id)
                if rec is None or rec.get("status") != "finished":
                    continue
            stored: list[dict[str, Any]] = await asyncio.to_thread(self.manager.storage.get_events, run_id,
                                                                  after.get(run_id, -1))
            older += [json.dumps({**ev, "run": run_id}, ensure_ascii=False) for ev in stored
                      if start is None or ev["seq"] < start]
        feed.prepend(older)
        room.subscribers.add(feed)
        if instructor:
            room.instructors.add(feed)
        self._present(room)
        return feed

    def unsubscribe(self, room: Room, feed: Feed) -> None:
        super().unsubscribe(room, feed)
        self.node.untail(room_key(room.code), feed)
        self._present(room)

    def _present(self, room: Room) -> None:
        """This node's count of the room's watchers, for every node's `clients` (kept with its TTL)."""
        students, instructors = super().clients(room)
        value = f"{students},{instructors}" if room.subscribers else None
        self.node.keep(presence_key(room.code, self.node.node), value)

    def clients(self, room: Room) -> tuple[int, int]:
        """(students, instructors) connected to the room on every node."""
        try:
            return self.node.presence(room.code)
        except (redis.RedisError, OSError) as e:  # Redis away: what this node sees is all it knows
            log.error("redis: the room %s's presence: %s", room.code, e)
            return super().clients(room)
