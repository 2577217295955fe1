"""Runs as the web process sees them: queue, uid pool, event buffers, subscribers, recordings.

The web process never forks student code: it asks the launcher, then reads the supervisor's
NDJSON stream. Its own events (`run.queued`) come first; the supervisor is told where its `seq`
starts (`seq_base`), so the two form one sequence without renumbering. The supervisor's events are
kept as they came; its last message, the exit report, becomes the public `run.finished` through
`outcome.finished_event`, the one place that builds it. Events are written to storage as the run
goes (every FLUSH_S; a queued run's row and run.queued too), so a killed web process loses at most that
much and the next start marks the run interrupted.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import logging
import secrets
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .classroom.exercises import Exercise
from .classroom.grading import grade
from .feeds import Feed
from .i18n import Lang, translate
from .outcome import Outcome, finished_event
from .runspec import build_spec, new_run_id
from .sandbox import protocol
from .sandbox.client import Launcher, LauncherError, StartingRun
from .sandbox.protocol import Pace, RunSpec
from .settings import Settings
from .storage import Storage

log = logging.getLogger("proclab.runs")

FLUSH_S = 0.5


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class RunRefused(Exception):
    """A run that cannot be accepted: an HTTP status and an error code with its parameters (the user's
    words: `error.<code>` in static/i18n/); `message` is the English, for logs and API users."""

    def __init__(self, status: int, code: str, **params: Any) -> None:
        self.message = translate(Lang.EN, f"error.{code}", **params)
        super().__init__(self.message)
        self.status = status
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Client:
    """Who asks: an id for per-client caps and ownership, and the address for per-IP caps.

    Ids from a browser's cookie start with `c:`, from an address with `ip:`, the server's own with
    `sys:`: no cookie can name another kind (`pl_client=instructor-check` is just `c:instructor-check`).
    """

    id: str
    ip: str

    @classmethod
    def internal(cls, name: str) -> Client:
        return cls(id=f"sys:{name}", ip="")


@dataclass(frozen=True)
class Submission:
    """A run as asked for, checked: what app/web/submission.py makes of a request."""

    files: dict[str, str]
    main: str
    lesson: str | None = None
    limits: dict[str, Any] | None = None
    questions: list[dict[str, Any]] = field(default_factory=list)
    stdin: str | None = None
    pace: Pace | None = None  # start paced (step, slow or paused)
    stdio: str | None = None  # protocol.Stdio value; None: as on a terminal
    exercise: Exercise | None = None  # an exercise of the lesson: run.finished carries its goals


@dataclass
class Run:
    id: str
    sub: Submission
    client: Client
    room: str | None = None
    share: str = field(default_factory=lambda: secrets.token_urlsafe(16))  # the share link's secret
    exercise: Exercise | None = None  # run.finished gets this exercise's goals
    status: RunStatus = RunStatus.QUEUED
    created: float = field(default_factory=time.time)
    finished_at: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # events[i]["seq"] == i
    encoded: list[str] = field(default_factory=list)  # each event's JSON, made once for every client and storage
    subscribers: set[Feed] = field(default_factory=set)
    ever_watched: bool = False
    remote: int = 0  # feeds other nodes have of it (app/cluster/): they watch it too
    unwatched_since: float | None = None
    writer: asyncio.StreamWriter | None = None
    pending_cmds: list[dict[str, Any]] = field(default_factory=list)  # sent before the supervisor was connected
    uid: int | None = None
    launcher_proc: subprocess.Popen[bytes] | None = None  # the launcher that started it: did it die?
    has_row: bool = False  # its row is in storage (events can follow)
    stored: int = 0  # events[:stored] are in storage
    result: dict[str, Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    node: str | None = None  # the node that runs it (settings.node_id)

    @property
    def lesson(self) -> str | None:
        return self.sub.lesson

    def process_ended(self, pid: int) -> bool | None:
        """None: no process of this run has had that pid; True: the last one has exited; False: it lives."""
        ended: bool | None = None
        for ev in self.events:
            if ev.get("pid") == pid and ev["type"] in ("proc.spawn", "proc.exit"):
                ended = ev["type"] == "proc.exit"
        return ended

    @property
    def files(self) -> dict[str, str]:
        return self.sub.files

    @property
    def answers(self) -> dict[str, Any] | None:
        return self.result.get("answers") if self.result else None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "lesson": self.lesson, "status": self.status.value, "created": self.created,
                "finished": self.finished_at, "result": self.result, "answers": self.answers, "room": self.room,
                "events": len(self.events), "node": self.node}

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "lesson": self.lesson, "status": self.status.value, "created": self.created,
                "finished": self.finished_at, "result": self.result, "files": self.files, "room": self.room,
                "answers": self.answers, "owner": self.client.id, "share": self.share, "node": self.node}


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

    # ------------------------------------------------------------ submit

    def submit(self, sub: Submission, client: Client, room: str | None = None, run_id: str | None = None,
               prior: list[str] | None = None) -> Run:
        """run_id, prior: a run admitted by the cluster (app/cluster/node.py) keeps the id it was given and
        the events already published for it (its run.queued in the shared queue)."""
        if self.floor_missing:
            raise RunRefused(503, "sandbox_missing", missing=", ".join(self.floor_missing))
        if not self.launcher.alive():
            raise RunRefused(503, "launcher_down")
        if sub.main not in sub.files:
            raise RunRefused(422, "no_main", main=sub.main)
        if room is None:
            mine = same_ip = 0
            for r in self.runs.values():  # one pass: this runs on every press of a burst
                if r.room is None and r.status is not RunStatus.FINISHED:
                    mine += r.client.id == client.id
                    same_ip += bool(client.ip) and r.client.ip == client.ip
            if mine >= self.settings.max_runs_per_client:
                raise RunRefused(429, "too_many_runs", count=mine, max=self.settings.max_runs_per_client)
            if same_ip >= self.settings.max_runs_per_ip:
                raise RunRefused(429, "too_many_from_address", count=same_ip, max=self.settings.max_runs_per_ip)
        if len(self.queue) >= self.settings.max_queue:
            raise RunRefused(503, "server_full")
        run = Run(id=run_id or new_run_id(), sub=sub, client=client, room=room, exercise=sub.exercise,
                  node=self.settings.node_id)
        if prior:
            run.encoded.extend(prior)
            run.events.extend(json.loads(t) for t in prior)
        self.runs[run.id] = run
        self.queue.append(run)
        self._pump()
        if run.status == RunStatus.QUEUED:  # at the tail: nobody else's place changed, so only it is told
            self._publish_own(run, [protocol.run_queued(len(self.queue))])
        return run

    def _announce_queue(self) -> None:
        for i, r in enumerate(self.queue):
            self._publish_own(r, [protocol.run_queued(i + 1)])

    def _pump(self) -> None:
        # While the launcher is down (the janitor is restarting it) queued runs keep their places: started
        # now, each would end at once as "the launcher is not running".
        while self.queue and self.running < self.slots and self.free_uids and self.launcher.alive():
            run = self.queue.popleft()
            run.uid = self.free_uids.pop(0)
            run.status = RunStatus.RUNNING
            run.launcher_proc = self.launcher.proc
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

    def _spec(self, run: Run) -> RunSpec:
        s = run.sub
        # The supervisor's first seq follows our run.queued events.
        return build_spec(self.settings, self.launcher, s.files, s.main, s.lesson, s.limits, s.stdin, run.uid, run.id,
                          s.stdio, pace=s.pace, seq_base=len(run.events))

    def _sandbox_restarted(self, run: Run) -> bool:
        return run.launcher_proc is not None and run.launcher_proc.poll() is not None

    async def _drive(self, run: Run, starting: StartingRun | Exception) -> None:
        report: dict[str, Any] | None = None
        failure: tuple[Outcome, str] | None = None
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
            while report is None:
                line = await reader.readline()
                if not line:
                    break
                lines = [line]
                # Take whatever else is already buffered: one publish (one WS frame) per burst.
                while len(reader._buffer) and b"\n" in reader._buffer and len(lines) < 512:  # type: ignore[attr-defined]
                    lines.append(await reader.readline())
                batch = [(json.loads(x), x.decode().rstrip("\n")) for x in lines]
                if batch[-1][0]["type"] == "run.finished":
                    report = batch.pop()[0]
                self._publish_theirs(run, batch)
            if report is None:
                failure = (Outcome.FAILED, "the sandbox ended the run without finishing it")
            writer.close()
        except (LauncherError, ValueError, OSError) as e:
            log.exception("run %s failed in the sandbox", run.id)
            failure = (Outcome.START_FAILED if run.writer is None else Outcome.FAILED, str(e))
        finally:
            run.writer = None
            if self._sandbox_restarted(run) and report is not None and report.get("status") != "stopped":
                failure = (Outcome.SANDBOX_RESTARTED, "")
            elif self._sandbox_restarted(run) and report is None:
                failure = (Outcome.SANDBOX_RESTARTED, "")
            if failure is not None and failure[0] != Outcome.SANDBOX_RESTARTED and failure[1]:
                self._publish_own(run, [protocol.run_error(failure[1])])
            await self._finish(run, report, failure)

    async def _finish(self, run: Run, report: dict[str, Any] | None,
                      failure: tuple[Outcome, str] | None = None) -> None:
        exercise = run.exercise
        build = functools.partial(finished_event, report, run.events, run.sub.questions,
                                  outcome=failure[0] if failure else None, detail=failure[1] if failure else None,
                                  recording={"saved": True},
                                  goals=(lambda evs: [g.to_dict() for g in grade(exercise, evs)]) if exercise else None)
        # In a thread for an exercise: finding each goal's evidence re-reads the run a few times.
        fin = await asyncio.to_thread(build) if exercise is not None else build()
        fin.setdefault("v", 1)
        fin["seq"] = len(run.events)
        fin.setdefault("t", run.events[-1]["t"] if run.events else 0)
        finished_at = time.time()
        text = _encode(fin)
        items = [(i, run.encoded[i]) for i in range(run.stored, len(run.encoded))] + [(fin["seq"], text)]
        record = {**run.record(), "status": RunStatus.FINISHED.value, "finished": finished_at, "result": fin,
                  "answers": fin.get("answers")}
        saved = await asyncio.to_thread(self.storage.finish_run, record, items)
        if not saved:  # runs go on; the student is told the recording is lost, /readyz says why
            fin = {**fin, "recording": {"saved": False, "problem": self.storage.health()[1]}}
            text = _encode(fin)
        # No await from here on: a reader sees the run finished together with its run.finished (nothing
        # else is published for a running run meanwhile, so its seq still follows the last event).
        run.status = RunStatus.FINISHED
        run.finished_at = finished_at
        run.result = fin
        if run.uid is not None:
            self.free_uids.append(run.uid)
        self.running -= 1
        self._append(run, [(fin, text)])
        run.stored = len(run.encoded)
        for feed in list(run.subscribers):
            feed.end()
        run.done.set()
        self._pump()
        self._announce_queue()
        self._forget_old()

    KEEP_FINISHED = 50

    def _forget_old(self) -> None:
        """Keep the last finished runs in memory (replays are common right after a run); the rest are
        served from SQLite, so memory stays bounded however long the server runs."""
        done = [r for r in self.runs.values() if r.status == RunStatus.FINISHED and not r.subscribers]
        for r in sorted(done, key=lambda r: r.created)[:-self.KEEP_FINISHED]:
            self.runs.pop(r.id, None)

    def _publish_own(self, run: Run, batch: list[dict[str, Any]]) -> None:
        """Events the web process makes (run.queued, run.error): numbered after the run's last."""
        out: list[tuple[dict[str, Any], str]] = []
        for ev in batch:
            ev = {"v": 1, "seq": len(run.events) + len(out), "t": run.events[-1]["t"] if run.events else 0, **ev}
            out.append((ev, _encode(ev)))
        self._append(run, out)

    def _publish_theirs(self, run: Run, batch: list[tuple[dict[str, Any], str]]) -> None:
        """The supervisor's events, as they came (its text is reused, not encoded again)."""
        out: list[tuple[dict[str, Any], str]] = []
        for ev, text in batch:
            want = len(run.events) + len(out)
            if ev.get("seq") != want:  # a supervisor that failed before it read seq_base
                ev = {**ev, "seq": want}
                text = _encode(ev)
            out.append((ev, text))
        self._append(run, out)

    def _append(self, run: Run, out: list[tuple[dict[str, Any], str]]) -> None:
        texts = [t for _, t in out]
        run.events.extend(e for e, _ in out)
        run.encoded.extend(texts)
        for feed in list(run.subscribers):
            feed.push(texts)
        for fn in self.listeners:
            fn(run, texts)

    async def flush(self) -> None:
        """Write what runs in flight produced since the last flush (one transaction per run), all in one
        worker thread: a burst of new runs costs one thread hop, not two per run, next to the presses."""
        work = []
        # Queued runs too: a killed web process must leave every run it answered 201 for, not only those
        # that had started (the next start marks them interrupted; a queued one would be a 404 otherwise).
        for run in [r for r in self.runs.values() if r.status in (RunStatus.RUNNING, RunStatus.QUEUED)]:
            end = len(run.encoded)
            items = [(i, run.encoded[i]) for i in range(run.stored, end)]
            if run.has_row and not items:
                continue
            work.append((run, None if run.has_row else run.record(), items, end))
        if not work:
            return

        def write() -> list[tuple[bool, bool]]:
            done = []
            for run, record, items, _end in work:
                has_row = record is None or self.storage.begin_run(record)
                done.append((has_row, has_row and bool(items) and self.storage.append_events(run.id, items)))
            return done

        for (run, _record, _items, end), (has_row, stored) in zip(work, await asyncio.to_thread(write), strict=True):
            run.has_row = run.has_row or has_row
            if stored and run.status != RunStatus.FINISHED and run.stored < end:
                run.stored = end

    # ------------------------------------------------------------ control

    async def command(self, run_id: str, cmd: dict[str, Any]) -> bool:
        run = self.runs.get(run_id)
        if run is None:
            return False
        if run.status == RunStatus.QUEUED and cmd.get("cmd") == protocol.Op.STOP:
            self.queue.remove(run)
            run.status = RunStatus.RUNNING  # so that _finish's bookkeeping balances
            self.running += 1
            await self._finish(run, None, (Outcome.STOPPED, ""))
            return True
        if run.writer is None:
            if run.status == RunStatus.FINISHED:
                return False
            run.pending_cmds.append(cmd)  # the run is starting: deliver when its supervisor is connected
            return True
        run.writer.write(json.dumps(cmd).encode() + b"\n")
        await run.writer.drain()
        return True

    def subscribe(self, run: Run, after: int = -1) -> Feed:
        feed = Feed(self.settings.ws_buffer_events)
        feed.preload(run.encoded[after + 1:])
        if run.status == RunStatus.FINISHED:
            feed.end()
        else:
            run.subscribers.add(feed)
            run.ever_watched = True
            run.unwatched_since = None
        return feed

    def unsubscribe(self, run: Run, feed: Feed) -> None:
        run.subscribers.discard(feed)
        if not run.subscribers and not run.remote and run.status != RunStatus.FINISHED:
            run.unwatched_since = time.monotonic()

    def remote_watchers(self, run: Run, n: int) -> None:
        """How many feeds other nodes have of this run now: while any, it is watched; when the last goes
        (and none is here) its disconnect grace starts, as for a local one."""
        if n > 0:
            run.ever_watched = True
            run.unwatched_since = None
        elif run.remote and not run.subscribers and run.status != RunStatus.FINISHED:
            run.unwatched_since = time.monotonic()
        run.remote = n

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
        """Stop runs whose browser went away (after a grace period); store events; prune old recordings."""
        last_prune = 0.0
        while True:
            await asyncio.sleep(FLUSH_S)
            await self.flush()
            now = time.monotonic()
            if self.launcher.info and not self.launcher.alive():
                # Its runs end (the new launcher sweeps their uids) and are reported sandbox_restarted.
                log.error("the sandbox launcher died; starting a new one")
                try:
                    await asyncio.to_thread(self.launcher.restart)
                    self._pump()
                    await self.keep_warm()
                except LauncherError as e:
                    log.error("could not restart the launcher: %s", e)
            for run in list(self.runs.values()):
                if (run.status != RunStatus.FINISHED and run.ever_watched and run.room is None
                        and run.unwatched_since is not None
                        and now - run.unwatched_since > self.settings.disconnect_grace_s):
                    run.unwatched_since = None
                    await self.command(run.id, protocol.stop())
            if now - last_prune > 3600:
                last_prune = now
                await asyncio.to_thread(self.storage.prune, self.settings.retention_days)

    async def shutdown(self) -> None:
        for run in list(self.runs.values()):
            if run.status != RunStatus.FINISHED:
                await self.command(run.id, protocol.stop())
        tasks = [r.task for r in self.runs.values() if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)


def interrupted_finish(run: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """run.finished for a run a killed web process left going (Storage.interrupted)."""
    fin = finished_event(None, events, outcome=Outcome.INTERRUPTED)
    fin.update(v=1, t=events[-1]["t"] if events else 0)
    return fin


def _encode(ev: dict[str, Any]) -> str:
    # Encoded once: with 200 clients, encoding per client cost a quarter of a core.
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
