"""Runs as the web process sees them: queue, uid pool, event buffers, subscribers, recordings.

The web process never forks student code: it asks the launcher, then reads
the supervisor's NDJSON stream. It renumbers `seq` so that its own events
(`run.queued`) and the supervisor's form one strictly increasing sequence.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .classroom.exercises import Exercise
from .classroom.grading import grade
from .expectations import answers as compute_answers
from .runspec import build_spec, new_run_id
from .sandbox.client import Launcher, LauncherError, StartingRun
from .settings import Settings
from .storage import Storage

log = logging.getLogger("proclab.runs")


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class RunRefused(Exception):
    """A run that cannot be accepted; the message is for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Run:
    id: str
    lesson: str | None
    files: dict[str, str]
    main: str
    limits: dict[str, Any] | None
    client: str
    questions: list[dict[str, Any]] = field(default_factory=list)
    stdin: str | None = None
    room: str | None = None
    pace: dict[str, Any] | None = None  # start paced: {"mode": "step"|"slow"|"paused", "delay_ms": N}
    exercise: Exercise | None = None  # run.finished gets this exercise's goals
    status: RunStatus = RunStatus.QUEUED
    created: float = field(default_factory=time.time)
    finished_at: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    encoded: list[str] = field(default_factory=list)  # each event's JSON, made once for every client and storage
    subscribers: set[asyncio.Queue[str | None]] = field(default_factory=set)
    ever_watched: bool = False
    unwatched_since: float | None = None
    writer: asyncio.StreamWriter | None = None
    pending_cmds: list[dict[str, Any]] = field(default_factory=list)  # sent before the supervisor was connected
    uid: int | None = None
    result: dict[str, Any] | None = None
    answers: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "lesson": self.lesson, "status": self.status.value, "created": self.created,
                "finished": self.finished_at, "result": self.result, "answers": self.answers, "room": self.room,
                "events": len(self.events)}


class RunManager:
    def __init__(self, settings: Settings, launcher: Launcher, storage: Storage) -> None:
        self.settings = settings
        self.launcher = launcher
        self.storage = storage
        self.runs: dict[str, Run] = {}
        self.queue: deque[Run] = deque()
        self.free_uids: list[int] = list(launcher.uid_pool)
        self.slots = settings.max_concurrent_runs
        self.running = 0
        self.listeners: list[Callable[[Run, list[str]], None]] = []  # (run, the new events' JSON texts)
        self.floor_missing: list[str] = []
        self._janitor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ submit

    def submit(self, files: dict[str, str], main: str, lesson: str | None, limits: dict[str, Any] | None,
               client: str, questions: list[dict[str, Any]] | None = None, stdin: str | None = None,
               room: str | None = None, pace: dict[str, Any] | None = None, exercise: Exercise | None = None) -> Run:
        if self.floor_missing:
            raise RunRefused(503, "student code cannot run on this server: the sandbox is missing "
                             f"{', '.join(self.floor_missing)} (see /healthz)")
        if not self.launcher.alive():
            raise RunRefused(503, "the sandbox launcher is not running; see the server log")
        if main not in files:
            raise RunRefused(422, f"the files do not include the main file {main!r}")
        mine = sum(1 for r in self.runs.values() if r.client == client and r.status != RunStatus.FINISHED)
        if room is None and mine >= self.settings.max_runs_per_client:
            raise RunRefused(429, f"you already have {mine} runs going (at most "
                             f"{self.settings.max_runs_per_client}); stop one or wait for it to finish")
        if len(self.queue) >= self.settings.max_queue:
            raise RunRefused(503, "the server is full; try again in a minute")
        run = Run(id=new_run_id(), lesson=lesson, files=files, main=main, limits=limits, client=client,
                  questions=questions or [], stdin=stdin, room=room, pace=pace, exercise=exercise)
        self.runs[run.id] = run
        self.queue.append(run)
        self._pump()
        if run.status == RunStatus.QUEUED:
            self._announce_queue()
        return run

    def _announce_queue(self) -> None:
        for i, r in enumerate(self.queue):
            self._publish(r, [{"type": "run.queued", "position": i + 1}])

    def _pump(self) -> None:
        while self.queue and self.running < self.slots and self.free_uids:
            run = self.queue.popleft()
            run.uid = self.free_uids.pop(0)
            run.status = RunStatus.RUNNING
            self.running += 1
            # The request leaves now, before this handler's response is even written: a task would
            # only start after the 201, the WebSocket handshake and whatever else the loop has queued.
            starting: StartingRun | Exception
            try:
                starting = self.launcher.start_run(self._spec(run))
            except (LauncherError, ValueError, OSError) as e:
                starting = e
            run.task = asyncio.get_running_loop().create_task(self._drive(run, starting))

    # ------------------------------------------------------------ driving a run

    def _spec(self, run: Run) -> dict[str, Any]:
        spec = build_spec(self.settings, self.launcher, run.files, run.main, run.lesson, run.limits, run.stdin,
                          run.uid, run.id)
        if run.pace:
            spec["pace"] = run.pace
        return spec

    async def _drive(self, run: Run, starting: StartingRun | Exception) -> None:
        try:
            if isinstance(starting, Exception):
                raise starting
            sock, _reply = await self.launcher.finish_run(starting)
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=8 * 2**20)
            run.writer = writer
            for cmd in run.pending_cmds:
                writer.write(json.dumps(cmd).encode() + b"\n")
            run.pending_cmds.clear()
            await writer.drain()
            finished = False
            while True:
                line = await reader.readline()
                if not line:
                    break
                batch = [json.loads(line)]
                # Take whatever else is already buffered: one publish (one WS frame) per burst.
                while len(reader._buffer) and b"\n" in reader._buffer and len(batch) < 512:  # type: ignore[attr-defined]
                    batch.append(json.loads(await reader.readline()))
                if batch[-1]["type"] == "run.finished" and run.questions:
                    # The page shows the real answers with the end of the run, without asking again.
                    try:
                        batch[-1]["answers"] = compute_answers(run.questions, run.events + batch)
                    except Exception:
                        log.exception("answers for run %s", run.id)
                if batch[-1]["type"] == "run.finished" and run.exercise is not None:
                    # In a thread: finding each goal's evidence re-reads the run a few times.
                    goals = await asyncio.to_thread(grade, run.exercise, run.events + batch)
                    batch[-1]["goals"] = [g.to_dict() for g in goals]
                self._publish(run, batch)
                if batch[-1]["type"] == "run.finished":
                    finished = True
                    break
            if not finished:
                self._publish(run, [{"type": "run.error", "detail": "the supervisor ended without finishing"},
                                    _finished_error("the sandbox ended the run unexpectedly")])
            writer.close()
        except (LauncherError, ValueError, OSError) as e:
            log.exception("run %s failed in the sandbox", run.id)
            self._publish(run, [{"type": "run.error", "detail": str(e)}, _finished_error(str(e))])
        finally:
            run.writer = None
            await self._finish(run)

    async def _finish(self, run: Run) -> None:
        run.status = RunStatus.FINISHED
        run.finished_at = time.time()
        fin = next((e for e in reversed(run.events) if e["type"] == "run.finished"), None)
        run.result = fin
        try:
            run.answers = compute_answers(run.questions, run.events)
        except Exception:  # a bad question must not lose the recording
            log.exception("answers for run %s", run.id)
            run.answers = {}
        if run.uid is not None:
            self.free_uids.append(run.uid)
        self.running -= 1
        for q in list(run.subscribers):
            q.put_nowait(None)
        run.done.set()
        try:
            await asyncio.to_thread(self.storage.save_run, self._record(run), run.events, run.encoded)
        except Exception:
            log.exception("could not store run %s", run.id)
        self._pump()
        self._announce_queue()
        self._forget_old()

    def _record(self, run: Run) -> dict[str, Any]:
        return {"id": run.id, "lesson": run.lesson, "status": run.status.value, "created": run.created,
                "finished": run.finished_at, "result": run.result, "files": run.files, "room": run.room,
                "answers": run.answers}

    KEEP_FINISHED = 50

    def _forget_old(self) -> None:
        """Keep the last finished runs in memory (replays are common right after a run); the rest are
        served from SQLite, so memory stays bounded however long the server runs."""
        done = [r for r in self.runs.values() if r.status == RunStatus.FINISHED and not r.subscribers]
        for r in sorted(done, key=lambda r: r.created)[:-self.KEEP_FINISHED]:
            self.runs.pop(r.id, None)

    def _publish(self, run: Run, batch: list[dict[str, Any]]) -> None:
        texts = []
        for ev in batch:
            ev["seq"] = len(run.events)
            ev.setdefault("v", 1)
            if "t" not in ev:
                ev["t"] = run.events[-1]["t"] if run.events else 0
            run.events.append(ev)
            # Encoded once: with 200 clients, encoding per client cost a quarter of a core.
            text = json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
            run.encoded.append(text)
            texts.append(text)
        for q in list(run.subscribers):
            for text in texts:
                q.put_nowait(text)
        for fn in self.listeners:
            fn(run, texts)

    # ------------------------------------------------------------ control

    async def command(self, run_id: str, cmd: dict[str, Any]) -> bool:
        run = self.runs.get(run_id)
        if run is None:
            return False
        if run.status == RunStatus.QUEUED and cmd.get("cmd") == "stop":
            self.queue.remove(run)
            run.status = RunStatus.RUNNING  # so that _finish's bookkeeping balances
            self.running += 1
            self._publish(run, [_finished("stopped", "stopped while waiting in the queue")])
            await self._finish(run)
            return True
        if run.writer is None:
            if run.status == RunStatus.FINISHED:
                return False
            run.pending_cmds.append(cmd)  # the run is starting: deliver when its supervisor is connected
            return True
        run.writer.write(json.dumps(cmd).encode() + b"\n")
        await run.writer.drain()
        return True

    def subscribe(self, run: Run, after: int = -1) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue()
        for text in run.encoded[after + 1:]:
            q.put_nowait(text)
        if run.status == RunStatus.FINISHED:
            q.put_nowait(None)
        else:
            run.subscribers.add(q)
            run.ever_watched = True
            run.unwatched_since = None
        return q

    def unsubscribe(self, run: Run, q: asyncio.Queue[str | None]) -> None:
        run.subscribers.discard(q)
        if not run.subscribers and run.status != RunStatus.FINISHED:
            run.unwatched_since = time.monotonic()

    async def keep_warm(self) -> None:
        """Tell a (re)started launcher how many spares to keep, for runs with this server's defaults."""
        if not self.launcher.alive() or not self.launcher.uid_pool or self.floor_missing:
            return
        spec = build_spec(self.settings, self.launcher, {"main.py": ""}, "main.py", None, None)
        try:
            await self.launcher.keep_warm_async(self.settings.warm_spares, spec)
        except LauncherError as e:
            log.error("the launcher keeps no warm spares: %s", e)

    async def janitor(self) -> None:
        """Stop runs whose browser went away (after a grace period); prune old recordings."""
        last_prune = 0.0
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if self.launcher.info and not self.launcher.alive():
                # Runs in flight keep going (their supervisors talk to us directly); new runs need a launcher.
                log.error("the sandbox launcher died; starting a new one")
                try:
                    await asyncio.to_thread(self.launcher.restart)
                    await self.keep_warm()
                except LauncherError as e:
                    log.error("could not restart the launcher: %s", e)
            for run in list(self.runs.values()):
                if (run.status != RunStatus.FINISHED and run.ever_watched and run.room is None
                        and run.unwatched_since is not None
                        and now - run.unwatched_since > self.settings.disconnect_grace_s):
                    run.unwatched_since = None
                    await self.command(run.id, {"cmd": "stop"})
            if now - last_prune > 3600:
                last_prune = now
                await asyncio.to_thread(self.storage.prune, self.settings.retention_days)

    async def shutdown(self) -> None:
        for run in list(self.runs.values()):
            if run.status != RunStatus.FINISHED:
                await self.command(run.id, {"cmd": "stop"})
        tasks = [r.task for r in self.runs.values() if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)


def _finished(status: str, reason: str) -> dict[str, Any]:
    return {"type": "run.finished", "status": status, "code": None, "reason": reason, "duration_ms": 0,
            "stats": {}, "message": {"en": reason, "zh": reason}}


def _finished_error(reason: str) -> dict[str, Any]:
    ev = _finished("error", reason)
    ev["message"] = {"en": f"The run could not finish: {reason}", "zh": f"运行未能完成：{reason}"}
    return ev
