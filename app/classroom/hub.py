"""The classroom's server state: who is in each room, their runs on the wall, progress, live notices.

Listens to every run's events (RunManager.listeners): a room student's run updates the wall as it
goes, and its run.finished records exercise progress. Pages that watch a room's class view get a
small notice ("wall", "predictions", "progress", "show") when something changed, at most a few
times a second, and fetch what they need.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..feeds import Feed
from ..lessons import LessonStore
from ..runs import Run, RunManager, RunStatus
from .batches import Batches
from .exercises import Exercise
from .store import ClassStore, token_hash
from .wall import WallEntry

log = logging.getLogger("proclab.classroom")
NOTICE_EVERY_S = 0.25
QUEUE_MAX = 256
ROWS_EVERY_S = 0.05  # notices are tiny and coalesced; a watcher this far behind is dropped


class SharedWall(Protocol):
    """What several nodes share of a class (app/cluster/node.py's RedisNode): the wall's entries of the
    runs each node holds, and the notices for class views on other nodes."""

    def put_wall(self, code: str, entries: dict[str, str]) -> None: ...

    def drop_wall(self, code: str, sid: str) -> None: ...

    async def wall(self, code: str) -> dict[str, str]: ...

    def class_notice(self, code: str, what: str) -> None: ...


@dataclass
class ClassRoom:
    code: str
    wall: dict[str, WallEntry] = field(default_factory=dict)  # student id -> current or last run
    names: dict[str, str] = field(default_factory=dict)  # student id -> nickname, of those still in the room
    tokens: dict[str, str] = field(default_factory=dict)  # token hash -> student id (no SQLite on a Run press)
    watchers: set[Feed] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)
    told: set[str] = field(default_factory=set)  # notices to pass on to the other nodes
    walled: set[str] = field(default_factory=set)  # students whose entry changed since the last flush
    flush: asyncio.TimerHandle | None = None
    shown: str | None = None


@dataclass
class StudentRun:
    room: str
    student: str
    exercise: Exercise | None


class Classroom:
    def __init__(self, manager: RunManager, lessons: Callable[[], LessonStore]) -> None:
        self.manager = manager
        self.lessons = lessons
        self.store = ClassStore(manager.storage)
        self.batches = Batches(manager)
        self.rooms: dict[str, ClassRoom] = {}
        self.student_runs: dict[str, StudentRun] = {}  # run id -> whose
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_rows: list[tuple[str, str, str, str, str | None]] = []  # class_runs rows not yet written
        self._rows_task: asyncio.Task[None] | None = None
        self.shared: SharedWall | None = None  # several nodes (set by server.build_state)
        manager.listeners.append(self._on_events)

    def room(self, code: str) -> ClassRoom:
        code = code.upper()
        room = self.rooms.get(code)
        if room is None:  # may run in a worker thread: the first complete one wins
            fresh = ClassRoom(code=code)
            for s in self.store.students(code):
                fresh.names[s["id"]] = s["name"]
            fresh.tokens = self.store.tokens(code)
            room = self.rooms.setdefault(code, fresh)
        return room

    def student(self, code: str, token: str) -> dict[str, Any] | None:
        room = self.room(code)
        sid = room.tokens.get(token_hash(token))
        if sid is None and self.shared is not None:  # joined through another node: the database knows
            room.tokens = self.store.tokens(code.upper())
            room.names = {s["id"]: s["name"] for s in self.store.students(code.upper())}
            sid = room.tokens.get(token_hash(token))
        if sid is None or sid not in room.names:
            return None
        return {"id": sid, "name": room.names[sid]}

    def joined(self, code: str, student: dict[str, Any], token: str | None) -> None:
        room = self.room(code)
        room.names[student["id"]] = student["name"]
        if token is not None:
            room.tokens[token_hash(token)] = student["id"]

    def removed(self, code: str, sid: str) -> None:
        room = self.room(code)
        room.names.pop(sid, None)
        room.wall.pop(sid, None)
        if self.shared is not None:
            self.shared.drop_wall(room.code, sid)
        room.tokens = {h: s for h, s in room.tokens.items() if s != sid}

    # ------------------------------------------------------------ notices

    def notify(self, code: str, what: str, echo: bool = True) -> None:
        """echo: tell the other nodes too (False for a notice that came from one)."""
        room = self.rooms.get(code.upper())
        if room is None:  # not loaded: nobody watches it (watching loads it), and the loop must not read SQLite
            return
        room.dirty.add(what)
        if echo:
            room.told.add(what)
        if room.flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called from a worker thread: nobody to tell yet
                return
            room.flush = loop.call_later(NOTICE_EVERY_S, self._flush, room)

    def _flush(self, room: ClassRoom) -> None:
        room.flush = None
        text = json.dumps({"type": "class.changed", "what": sorted(room.dirty), "shown": room.shown})
        room.dirty.clear()
        if self.shared is not None:
            if room.walled:
                self.shared.put_wall(room.code, {sid: room.wall[sid].to_json() for sid in room.walled
                                                 if sid in room.wall})
                room.walled.clear()
            if room.told:
                self.shared.class_notice(room.code, ",".join(sorted(room.told)))
                room.told.clear()
        for feed in list(room.watchers):
            feed.push([text])  # past QUEUE_MAX it overflows: closed, the page reconnects and fetches afresh

    def watch(self, code: str) -> Feed:
        feed = Feed(QUEUE_MAX)
        self.room(code).watchers.add(feed)
        return feed

    def unwatch(self, code: str, feed: Feed) -> None:
        self.room(code).watchers.discard(feed)

    # ------------------------------------------------------------ runs

    def add_student_run(self, code: str, sid: str, run: Run, exercise: Exercise | None) -> None:
        room = self.room(code)
        self.student_runs[run.id] = StudentRun(room.code, sid, exercise)
        entry = WallEntry(run=run.id, lesson=run.lesson, exercise=exercise.id if exercise else None)
        for ev in run.events:  # whatever the run already said (its queue position, or more)
            entry.apply(ev)
        if run.status == RunStatus.RUNNING and entry.status == "queued":
            entry.status = "running"
        room.wall[sid] = entry
        room.walled.add(sid)
        self.notify(room.code, "wall")

    def student_run_placed(self, run: Run, code: str, sid: str) -> str:
        """A student's run made on this node (whichever node the student asked): on the wall, graded here.
        Returns its wall entry, which the cluster writes before the student's answer (a second press
        through another node sees it)."""
        self.add_student_run(code, sid, run, run.exercise)
        room = self.room(code)
        room.walled.discard(sid)
        return room.wall[sid].to_json()

    def remote_notice(self, code: str, what: str) -> None:
        for w in what.split(","):
            self.notify(code, w, echo=False)

    def remember_run(self, code: str, sid: str, run_id: str, lesson: str, exercise: str | None) -> None:
        """Stored after the response: the student's 201 does not wait for SQLite. Presses close together
        are written by one worker thread in one go (a thread each, 60 at once, fought the presses still
        being answered for the GIL)."""
        self._run_rows.append((code, sid, run_id, lesson, exercise))
        if self._rows_task is None:
            self._rows_task = asyncio.get_running_loop().create_task(self._write_run_rows())

    def _add_runs(self, rows: list[tuple[str, str, str, str, str | None]]) -> None:
        for row in rows:
            self.store.add_run(*row)

    async def _write_run_rows(self) -> None:
        try:
            await asyncio.sleep(ROWS_EVERY_S)  # let the rest of a burst arrive first
            while self._run_rows:
                rows, self._run_rows = self._run_rows, []
                await asyncio.to_thread(self._add_runs, rows)
        except Exception:
            log.exception("storing the students' runs")
        finally:
            self._rows_task = None

    def _on_events(self, run: Run, texts: list[str]) -> None:
        if run.room is not None and run.events and run.events[-1]["type"] == "run.finished":
            self.notify(run.room, "predictions")  # the kernel's answers are in: mark them on the histograms
        who = self.student_runs.get(run.id)
        if who is None:
            return
        room = self.room(who.room)
        entry = room.wall.get(who.student)
        if entry is None or entry.run != run.id:
            return
        for ev in run.events[len(run.events) - len(texts):]:
            entry.apply(ev)
        room.walled.add(who.student)
        self.notify(room.code, "wall")
        if run.events and run.events[-1]["type"] == "run.finished":
            self.student_runs.pop(run.id, None)
            fin = run.events[-1]
            if who.exercise is not None:  # a run the sandbox could not finish is an attempt too, not passed
                goals = fin.get("goals") or []
                passed = bool(goals) and all(g["passed"] for g in goals)
                task = asyncio.get_running_loop().create_task(self._record(who, run.id, passed))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _record(self, who: StudentRun, run_id: str, passed: bool) -> None:
        assert who.exercise is not None
        try:
            await asyncio.to_thread(self.store.record_attempt, who.room, who.student, who.exercise.lesson,
                                    who.exercise.id, passed, run_id)
        except Exception:
            log.exception("progress of run %s", run_id)
        self.notify(who.room, "progress")

    def wall(self, code: str) -> list[dict[str, Any]]:
        room = self.room(code)
        out = []
        for sid, name in room.names.items():
            entry = room.wall.get(sid)
            if entry is None:
                out.append({"student": sid, "name": name, "run": None, "status": None, "stuck": False,
                            "reason": None})
            else:
                out.append(entry.public(name, sid))
        return out

    async def wall_everywhere(self, code: str) -> list[dict[str, Any]]:
        """The wall over every node: students from the database, each with the newest entry of their run
        whichever node holds it (the embedded server: `wall`)."""
        if self.shared is None:
            return self.wall(code)
        room = self.room(code)
        students = await asyncio.to_thread(self.store.students, room.code)
        entries = {sid: WallEntry.from_json(text) for sid, text in (await self.shared.wall(room.code)).items()}
        for sid, entry in room.wall.items():
            if sid not in entries or entry.started >= entries[sid].started:
                entries[sid] = entry
        out = []
        for s in students:
            found = entries.get(s["id"])
            out.append(found.public(s["name"], s["id"]) if found is not None else
                       {"student": s["id"], "name": s["name"], "run": None, "status": None, "stuck": False,
                        "reason": None})
        return out

    async def latest_run(self, code: str, sid: str) -> str | None:
        """The run on the student's wall entry, on any node."""
        entry: WallEntry | None = self.room(code).wall.get(sid)
        if self.shared is not None:
            text = (await self.shared.wall(code.upper())).get(sid)
            other = WallEntry.from_json(text) if text else None
            if other is not None and (entry is None or other.started > entry.started):
                entry = other
        return entry.run if entry is not None else None

    def queue_position(self, run: Run) -> int:
        """1 for the first in line; 0 once it runs."""
        if run.status != RunStatus.QUEUED:
            return 0
        for i, r in enumerate(self.manager.queue):
            if r is run:
                return i + 1
        return 0

    def exercises(self) -> list[Exercise]:
        return [ex for lesson in self.lessons().ordered() for ex in lesson.exercises]
