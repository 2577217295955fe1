"""A node of several sharing one Redis (PROCLAB_REDIS_URL): registry, event streams, controls, admission.

What lives in Redis (keys under `proclab:`):
- `hb:<node>`: the node's heartbeat with its load (TTL HEARTBEAT_TTL_S); `nodes`: every node seen;
  `load`: runs each node holds or was given (reserved by admission, released at run.finished).
- `ev:<run>`: a stream of the run's events as they come (fields s = seq, d = the event's JSON, e = end),
  kept KEEP_S after the run; `meta:<run>`: its record (which node, owner, share, status).
- `room:<code>`: a stream of every event of the room's runs, tagged with their run, in one order for all
  nodes; `roomruns:<code>`: the room's runs.
- `inbox:<node>`: a stream of requests for the node (a control of one of its runs, a forwarded
  submission); answers come back on `reply:<token>` lists.
- `client:<id>`, `ip:<addr>`: the runs going for a client or an address, over all nodes (caps).
- `queue` + `queued:<run>`: one FIFO of submissions when every node is full; a node with a free slot
  takes the head, and every run still waiting is told its new place (`ANNOUNCE`).
- `presence:<room>:<node>` (students, instructors watching the room on that node), `watch:<run>:<node>`
  (feeds of a run another node holds): written by each node every heartbeat with its TTL, so a dead
  node's counts vanish; summed over the alive nodes.
- `wall:<room>`: the classroom wall's entries (student id -> the entry of their latest run), written by
  the node that holds the run; `class:<room>` (pub/sub): classroom notices for every node's class views.
A node whose heartbeat expires is reaped by one survivor (`reap:<node>` lock): its runs' published
events are written to storage, and each unfinished run ends `error` / `node_lost` for its watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from ..classroom.exercises import Exercise
from ..classroom.wall import WallEntry
from ..feeds import Feed
from ..outcome import Outcome, finished_event
from ..rooms import with_run
from ..runs import Client, Run, RunManager, RunRefused, RunStatus, Submission, _encode
from ..runspec import new_run_id
from ..sandbox import protocol
from ..settings import Settings
from ..storage import Storage
from . import NodeUnreachable, OnStudentRun, StudentOf

log = logging.getLogger("proclab.cluster")

P = "proclab:"
HEARTBEAT_S = 1.0
HEARTBEAT_TTL_S = 3  # a node silent this long is lost
KEEP_S = 3600  # a finished run's stream stays this long (late watchers, replays); storage has it after
ROOM_TTL_S = 86400  # a room's stream, from its last event
ROOM_MAXLEN = 200_000  # entries a room's stream keeps (older runs are read from storage)
ASK_TIMEOUT_S = 5.0
BLOCK_MS = 1000
CLAIM_EVERY_S = 0.2

# Admission: the alive node with the lowest load/slots that has a free slot (prefer this one on a tie),
# reserved in the same step so a burst of submissions spreads instead of all seeing the same stale load.
PLACE = """
local best, best_score = false, 2
for i = 2, #KEYS do
  local hb = redis.call('GET', KEYS[i])
  if hb then
    local node = ARGV[i]
    local slots = tonumber(cjson.decode(hb)['slots'])
    local load = tonumber(redis.call('HGET', KEYS[1], node) or '0')
    if load < slots then
      local score = load / slots
      if score < best_score or (score == best_score and node == ARGV[1]) then best, best_score = node, score end
    end
  end
end
if best then redis.call('HINCRBY', KEYS[1], best, 1) end
return best
"""
# Caps over all nodes: add the run to its client's (and address's) set unless that is full.
ADMIT = """
local mine = redis.call('SCARD', KEYS[1])
if mine >= tonumber(ARGV[2]) then return {1, mine} end
if ARGV[4] == '1' then
  local same = redis.call('SCARD', KEYS[2])
  if same >= tonumber(ARGV[3]) then return {2, same} end
  redis.call('SADD', KEYS[2], ARGV[1])
end
redis.call('SADD', KEYS[1], ARGV[1])
return {0, 0}
"""
# Every run still in the shared queue gets a run.queued with its place now (seq: the next of its stream,
# which holds only run.queued events while it waits). ARGV[1]: the key prefix.
ANNOUNCE = """
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
for i, id in ipairs(ids) do
  local key = ARGV[1] .. 'ev:' .. id
  local seq = redis.call('XLEN', key)
  local text = '{"v":1,"seq":' .. seq .. ',"t":0,"type":"run.queued","position":' .. i .. '}'
  redis.call('XADD', key, '*', 's', seq, 'd', text)
  local body = redis.call('GET', ARGV[1] .. 'queued:' .. id)
  if body then
    local room = cjson.decode(body)['room']
    if type(room) == 'string' then
      local tagged = string.sub(text, 1, -2) .. ',"run":"' .. id .. '"}'
      redis.call('XADD', ARGV[1] .. 'room:' .. room, 'MAXLEN', '~', ARGV[2], '*', 'r', id, 's', seq, 'd', tagged)
    end
  end
end
return #ids
"""
# A node with a free slot takes the head of the shared queue, reserving its slot.
CLAIM = """
local load = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if load >= tonumber(ARGV[2]) then return false end
local id = redis.call('LPOP', KEYS[2])
if not id then return false end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local body = redis.call('GET', ARGV[3] .. id)
redis.call('DEL', ARGV[3] .. id)
return {id, body}
"""


def ev_key(run_id: str) -> str:
    return f"{P}ev:{run_id}"


def meta_key(run_id: str) -> str:
    return f"{P}meta:{run_id}"


def room_key(code: str) -> str:
    return f"{P}room:{code}"


def roomruns_key(code: str) -> str:
    return f"{P}roomruns:{code}"


def client_key(client_id: str) -> str:
    return f"{P}client:{client_id}"


def ip_key(ip: str) -> str:
    return f"{P}ip:{ip}"


def sub_to_json(sub: Submission) -> dict[str, Any]:
    d = {f.name: getattr(sub, f.name) for f in dataclasses.fields(sub)}
    # An exercise travels as its name: every node reads the same lessons and grades it where it runs.
    d["exercise"] = [sub.exercise.lesson, sub.exercise.id] if sub.exercise is not None else None
    return d


ExerciseOf = Callable[[str, str], Exercise | None]


def sub_from_json(d: dict[str, Any], exercise_of: ExerciseOf) -> Submission:
    named = d.get("exercise")
    exercise = exercise_of(str(named[0]), str(named[1])) if named else None
    if named and exercise is None:
        # This node's lessons differ from the asking node's (a deployment mid-update).
        raise RunRefused(422, "no_exercise", lesson=str(named[0]), exercise=str(named[1]), expected="-")
    return Submission(**{**{k: v for k, v in d.items() if k != "exercise"}, "exercise": exercise})


def presence_key(code: str, node: str) -> str:
    return f"{P}presence:{code}:{node}"


def watch_key(run_id: str, node: str) -> str:
    return f"{P}watch:{run_id}:{node}"


def wall_key(code: str) -> str:
    return f"{P}wall:{code}"


def class_channel(code: str) -> str:
    return f"{P}class:{code}"


Filter = Callable[[dict[str, str]], bool]


@dataclasses.dataclass
class Tail:
    """One reader of a stream on this node, shared by every local feed of that run or room."""

    key: str
    pos: str
    feeds: dict[Feed, Filter] = dataclasses.field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    on_entry: Callable[[dict[str, str]], None] | None = None


class RedisNode:
    """The Directory of a node among several (see the module's docstring)."""

    def __init__(self, settings: Settings, manager: RunManager, storage: Storage) -> None:
        assert settings.redis_url is not None
        self.settings = settings
        self.manager = manager
        self.storage = storage
        self.node = settings.node_id
        # Any: redis-py types every answer as bytes | str | None; with decode_responses they are str.
        self.r: Any = aioredis.from_url(settings.redis_url, decode_responses=True)
        # For worker threads and the instructor's session lookups (synchronous, like Auth.is_instructor).
        self.sync: Any = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=2,
                                              socket_connect_timeout=2)
        self._place = self.r.register_script(PLACE)
        self._admit = self.r.register_script(ADMIT)
        self._claim = self.r.register_script(CLAIM)
        self._announce = self.r.register_script(ANNOUNCE)
        self.tails: dict[str, Tail] = {}
        self.outbox: deque[tuple[Run, int, list[str], bool]] = deque()
        self.wake = asyncio.Event()
        self.claim_now = asyncio.Event()
        self.seen: set[str] = set()  # runs of this node whose record is in Redis
        self.counted: set[str] = set()  # runs of this node counted in `load`
        self.tasks: list[asyncio.Task[None]] = []
        self.peers: dict[str, dict[str, Any]] = {}  # last heartbeats seen
        self.on_student_run: OnStudentRun | None = None
        self.exercise_of: ExerciseOf = lambda lesson, ex: None  # set by build_state (the lessons it reads)
        # Keys this node keeps alive with the heartbeat's TTL (presence, remote watchers); None: delete it.
        self.kept: dict[str, str | None] = {}
        self.keep_now = asyncio.Event()
        self.watched: dict[str, int] = {}  # run of this node -> feeds other nodes have of it
        self.on_class_notice: Callable[[str, str], None] | None = None  # (room, what) from another node
        self.redis_problem: str | None = None
        self.bg: set[asyncio.Task[None]] = set()
        self.students: dict[str, StudentOf] = {}  # runs of this node that are a classroom student's own
        manager.listeners.append(self._on_events)

    # ------------------------------------------------------------ life

    async def start(self) -> None:
        """Register (after the inbox is empty and read), then heartbeat, publish, claim and reap."""
        await self.r.delete(f"{P}inbox:{self.node}")  # requests to an earlier life of this node are stale
        await self.r.hset(f"{P}load", self.node, 0)
        await self._heartbeat()
        await self.r.sadd(f"{P}nodes", self.node)
        loop = asyncio.get_running_loop()
        for fn in (self._publisher, self._inbox, self._beat, self._claimer, self._reaper, self._keeper,
                   self._class_notices):
            self.tasks.append(loop.create_task(self._forever(fn)))

    async def stop(self) -> None:
        """Publish what is left (the runs' run.finished of a shutdown), leave the registry, close."""
        deadline = time.monotonic() + 5
        while self.outbox and time.monotonic() < deadline:
            self.wake.set()
            await asyncio.sleep(0.02)
        for t in [*self.tasks, *self.bg]:
            t.cancel()
        await asyncio.gather(*self.tasks, *self.bg, return_exceptions=True)
        for tail in list(self.tails.values()):
            if tail.task is not None:
                tail.task.cancel()
        with contextlib.suppress(redis.RedisError, OSError):
            await self.r.delete(f"{P}hb:{self.node}")
            await self.r.srem(f"{P}nodes", self.node)
            await self.r.hdel(f"{P}load", self.node)
        await self.r.aclose()
        self.sync.close()

    async def _forever(self, fn: Callable[[], Any]) -> None:
        """A background loop that outlives Redis hiccups (logged, retried)."""
        while True:
            try:
                await fn()
                return
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as e:
                self.redis_problem = str(e) or type(e).__name__
                log.error("redis (%s): %s; retrying", fn.__name__, e)
                await asyncio.sleep(0.5)

    def describe(self) -> dict[str, Any]:
        return {"mode": "redis", "node": self.node, "nodes": sorted(self.peers),
                "redis": {"ok": self.redis_problem is None, "problem": self.redis_problem}}

    async def problem(self) -> str | None:
        try:
            await asyncio.wait_for(self.r.ping(), 1.0)
        except (redis.RedisError, OSError, TimeoutError) as e:
            self.redis_problem = str(e) or type(e).__name__
            return self.redis_problem
        return None

    # ------------------------------------------------------------ heartbeat and load

    def _load(self) -> dict[str, Any]:
        m = self.manager
        return {"node": self.node, "running": m.running, "queued": len(m.queue), "slots": m.slots, "t": time.time()}

    async def _heartbeat(self) -> None:
        await self.r.set(f"{P}hb:{self.node}", json.dumps(self._load()), ex=HEARTBEAT_TTL_S)

    async def _beat(self) -> None:
        while True:
            await self._heartbeat()
            if not await self.r.sismember(f"{P}nodes", self.node):
                # Redis came back empty (restarted without its data) or a survivor took this node for
                # lost: register again, with the load this node really holds.
                await self.r.hset(f"{P}load", self.node, len(self.counted))
                await self.r.sadd(f"{P}nodes", self.node)
                self.seen.clear()  # records and streams are written again with the next events
            nodes = sorted(await self.r.smembers(f"{P}nodes"))
            beats = await self.r.mget([f"{P}hb:{n}" for n in nodes]) if nodes else []
            self.peers = {n: json.loads(b) for n, b in zip(nodes, beats, strict=True) if b}
            await self._count_watchers()
            self.redis_problem = None
            await asyncio.sleep(HEARTBEAT_S)

    # ------------------------------------------------------------ counts every node keeps (TTL)

    def keep(self, key: str, value: str | None) -> None:
        """Keep `key` = value in Redis (refreshed every heartbeat, gone with this node); None deletes it."""
        self.kept[key] = value
        self.keep_now.set()

    async def _keeper(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.keep_now.wait(), HEARTBEAT_S)
            self.keep_now.clear()
            items = list(self.kept.items())
            if not items:
                continue
            pipe = self.r.pipeline(transaction=False)
            for key, value in items:
                if value is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, value, ex=HEARTBEAT_TTL_S)
            await pipe.execute()
            for key, value in items:
                if value is None and self.kept.get(key, "") is None:
                    del self.kept[key]

    def alive_nodes(self) -> list[str]:
        return sorted({*self.peers, self.node})

    async def _count_watchers(self) -> None:
        """Feeds other nodes have of this node's runs: a run watched only from elsewhere is watched, and
        its disconnect grace starts when the last of them goes (RunManager.janitor)."""
        runs = [r for r in self.manager.runs.values() if r.status != RunStatus.FINISHED and r.room is None]
        if not runs:
            return
        others = [n for n in self.alive_nodes() if n != self.node]
        keys = [watch_key(r.id, n) for r in runs for n in others]
        counts = await self.r.mget(keys) if keys else []
        for i, run in enumerate(runs):
            n = sum(int(c) for c in counts[i * len(others):(i + 1) * len(others)] if c)
            self.manager.remote_watchers(run, n)

    # ------------------------------------------------------------ publishing this node's runs

    def _on_events(self, run: Run, texts: list[str]) -> None:
        """RunManager listener (no await): queue the events; one task publishes them, in order."""
        self.outbox.append((run, len(run.events) - len(texts), texts, run.status == RunStatus.FINISHED))
        self.wake.set()

    def _meta(self, run: Run) -> dict[str, Any]:
        return {**run.public(), "owner": run.client.id, "ip": run.client.ip, "share": run.share,
                "files": run.files, "node": self.node, "student": self.students.get(run.id)}

    async def _publisher(self) -> None:
        while True:
            if not self.outbox:  # after a Redis failure the outbox still holds what was not sent
                await self.wake.wait()
            self.wake.clear()
            while self.outbox:
                pipe = self.r.pipeline(transaction=False)
                n = 0
                batch = []
                while self.outbox and n < 2000:
                    item = self.outbox.popleft()
                    batch.append(item)
                    n += len(item[2])
                    self._publish(pipe, *item)
                try:
                    await pipe.execute()
                except (redis.RedisError, OSError):
                    self.outbox.extendleft(reversed(batch))  # Redis away: published when it is back
                    raise

    def _publish(self, pipe: Any, run: Run, first: int, texts: list[str], finished: bool) -> None:
        if run.id not in self.seen and not finished:
            self.seen.add(run.id)
            pipe.set(meta_key(run.id), json.dumps(self._meta(run)), ex=KEEP_S * 24)
            pipe.sadd(f"{P}noderuns:{self.node}", run.id)
            if run.id not in self.counted:  # a run made here without admission (classroom, batch, check)
                self.counted.add(run.id)
                pipe.hincrby(f"{P}load", self.node, 1)
        key = ev_key(run.id)
        for i, text in enumerate(texts):
            fields: dict[str, Any] = {"s": first + i, "d": text}
            if finished and i == len(texts) - 1:
                fields["e"] = 1
            pipe.xadd(key, fields)
        if run.room is not None:
            rkey = room_key(run.room)
            for i, text in enumerate(texts):
                pipe.xadd(rkey, {"r": run.id, "s": first + i, "d": with_run(text, run.id)},
                          maxlen=ROOM_MAXLEN, approximate=True)
            pipe.expire(rkey, ROOM_TTL_S)
        if finished:
            pipe.set(meta_key(run.id), json.dumps(self._meta(run)), ex=KEEP_S)
            pipe.expire(key, KEEP_S)
            pipe.srem(f"{P}noderuns:{self.node}", run.id)
            self.students.pop(run.id, None)
            pipe.srem(client_key(run.client.id), run.id)
            if run.client.ip:
                pipe.srem(ip_key(run.client.ip), run.id)
            if run.id in self.counted:
                self.counted.discard(run.id)
                pipe.hincrby(f"{P}load", self.node, -1)
            self.seen.discard(run.id)
            self.claim_now.set()

    # ------------------------------------------------------------ admission

    async def place(self, sub: Submission, client: Client, room: str | None = None,
                    student: StudentOf | None = None) -> dict[str, Any]:
        run_id = new_run_id()
        try:
            return await self._admitted(run_id, sub, client, room, student)
        except (redis.RedisError, OSError) as e:
            # Redis away: this node runs it with its own caps, as a single node would; its events reach
            # Redis (for watchers elsewhere) when Redis is back.
            self.redis_problem = str(e) or type(e).__name__
            log.error("redis: run %s placed here without admission: %s", run_id, e)
            run = self.manager.submit(sub, client, room=room, run_id=run_id)
            if student is not None and self.on_student_run is not None:
                self.on_student_run(run, *student)
            return {**run.public(), "share": run.share}

    async def _admitted(self, run_id: str, sub: Submission, client: Client, room: str | None,
                        student: StudentOf | None) -> dict[str, Any]:
        if room is None:
            s = self.settings
            res = await self._admit(keys=[client_key(client.id), ip_key(client.ip or "-")],
                                    args=[run_id, s.max_runs_per_client, s.max_runs_per_ip, 1 if client.ip else 0])
            which, count = int(res[0]), int(res[1])
            if which == 1:
                raise RunRefused(429, "too_many_runs", count=count, max=s.max_runs_per_client)
            if which == 2:
                raise RunRefused(429, "too_many_from_address", count=count, max=s.max_runs_per_ip)
        try:
            out = await self._place_run(run_id, sub, client, room, student)
        except BaseException:
            await self._uncap(run_id, client)
            raise
        if room is not None:
            await self.r.rpush(roomruns_key(room), run_id)
        return out

    async def _uncap(self, run_id: str, client: Client) -> None:
        await self.r.srem(client_key(client.id), run_id)
        if client.ip:
            await self.r.srem(ip_key(client.ip), run_id)

    async def _place_run(self, run_id: str, sub: Submission, client: Client, room: str | None,
                         student: StudentOf | None) -> dict[str, Any]:
        nodes = sorted(await self.r.smembers(f"{P}nodes"))
        target = await self._place(keys=[f"{P}load", *[f"{P}hb:{n}" for n in nodes]], args=[self.node, *nodes])
        if not target:
            return await self._enqueue(run_id, sub, client, room, student)
        if target == self.node:
            return await self._local(run_id, sub, client, room, reserved=True, student=student)
        body = {"run": run_id, "sub": sub_to_json(sub), "client": [client.id, client.ip], "room": room,
                "student": student}
        try:
            answer = await self.ask(target, "submit", body)
        except NodeUnreachable:
            await self.r.hincrby(f"{P}load", target, -1)
            return await self._local(run_id, sub, client, room, reserved=False, student=student)
        if "error" in answer:
            raise RunRefused(int(answer["error"]), str(answer["code"]), **dict(answer["params"]))
        return dict(answer["run"])

    async def _local(self, run_id: str, sub: Submission, client: Client, room: str | None, reserved: bool,
                     prior: list[str] | None = None, student: StudentOf | None = None) -> dict[str, Any]:
        if not reserved:
            await self.r.hincrby(f"{P}load", self.node, 1)
        self.counted.add(run_id)
        try:
            run = self.manager.submit(sub, client, room=room, run_id=run_id, prior=prior)
        except RunRefused:
            self.counted.discard(run_id)
            await self.r.hincrby(f"{P}load", self.node, -1)
            raise
        if student is not None and self.on_student_run is not None:
            self.students[run.id] = (str(student[0]), str(student[1]))  # in its record: a reaper fixes its wall
            entry = self.on_student_run(run, str(student[0]), str(student[1]))
            await self.r.hset(wall_key(str(student[0])), str(student[1]), entry)
        if run.status != RunStatus.FINISHED:
            self.seen.add(run.id)
            await self.r.set(meta_key(run.id), json.dumps(self._meta(run)), ex=KEEP_S * 24)
            await self.r.sadd(f"{P}noderuns:{self.node}", run.id)
        return {**run.public(), "share": run.share}

    async def _enqueue(self, run_id: str, sub: Submission, client: Client, room: str | None,
                       student: StudentOf | None) -> dict[str, Any]:
        """Every node is full: the run waits in the one queue all nodes take from, first come first served."""
        if await self.r.llen(f"{P}queue") >= self.settings.max_queue:
            raise RunRefused(503, "server_full")
        created, share = time.time(), secrets.token_urlsafe(16)
        body = {"run": run_id, "sub": sub_to_json(sub), "client": [client.id, client.ip], "room": room,
                "share": share, "created": created, "student": student}
        position = int(await self.r.llen(f"{P}queue")) + 1  # as announced: a node may take one meanwhile
        ev = {"v": protocol.EVENT_VERSION, "seq": 0, "t": 0, **protocol.run_queued(position)}
        text = _encode(ev)
        meta = {"id": run_id, "lesson": sub.lesson, "status": RunStatus.QUEUED.value, "created": created,
                "finished": None, "result": None, "answers": None, "room": room, "events": 1, "owner": client.id,
                "ip": client.ip, "share": share, "files": sub.files, "node": None}
        # Everything a claiming node reads is written before the run id enters the queue.
        pipe = self.r.pipeline(transaction=False)
        pipe.set(f"{P}queued:{run_id}", json.dumps(body), ex=KEEP_S * 24)
        pipe.set(meta_key(run_id), json.dumps(meta), ex=KEEP_S * 24)
        pipe.xadd(ev_key(run_id), {"s": 0, "d": text})
        if room is not None:
            pipe.xadd(room_key(room), {"r": run_id, "s": 0, "d": with_run(text, run_id)},
                      maxlen=ROOM_MAXLEN, approximate=True)
        if student is not None:  # on the wall as waiting (one run at a time holds on every node)
            entry = WallEntry(run=run_id, lesson=sub.lesson, exercise=sub.exercise.id if sub.exercise else None)
            pipe.hset(wall_key(student[0]), student[1], entry.to_json())
        pipe.rpush(f"{P}queue", run_id)
        await pipe.execute()
        return {**{k: meta[k] for k in ("id", "lesson", "status", "created", "finished", "result", "answers",
                                        "room", "events", "share", "node")}, "position": position}

    async def _claimer(self) -> None:
        """Take runs from the shared queue while this node has a free slot."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.claim_now.wait(), CLAIM_EVERY_S)
            self.claim_now.clear()
            while self.manager.free_uids and self.manager.launcher.alive() and not self.manager.floor_missing:
                got = await self._claim(keys=[f"{P}load", f"{P}queue"],
                                        args=[self.node, self.manager.slots, f"{P}queued:"])
                if not got:
                    break
                run_id, raw = got
                if not raw:
                    await self.r.hincrby(f"{P}load", self.node, -1)
                    continue
                await self._announce(keys=[f"{P}queue"], args=[P, ROOM_MAXLEN])  # the others moved up
                body = json.loads(raw)
                prior = [f["d"] for _, f in await self.r.xrange(ev_key(run_id))]
                client = Client(id=body["client"][0], ip=body["client"][1])
                try:
                    await self._local(run_id, sub_from_json(body["sub"], self.exercise_of), client, body["room"],
                                      reserved=True, prior=prior, student=body.get("student"))
                    run = self.manager.runs.get(run_id)
                    if run is not None:
                        run.share, run.created = body["share"], body["created"]
                        await self.r.set(meta_key(run_id), json.dumps(self._meta(run)), ex=KEEP_S * 24)
                except RunRefused as e:
                    log.error("queued run %s could not start here: %s", run_id, e.message)

    # ------------------------------------------------------------ requests between nodes

    async def ask(self, node: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = f"{P}reply:{secrets.token_hex(8)}"
        await self.r.xadd(f"{P}inbox:{node}", {"op": op, "b": json.dumps(body), "reply": reply},
                          maxlen=10_000, approximate=True)
        got = await self.r.blpop([reply], timeout=ASK_TIMEOUT_S)
        if got is None:
            raise NodeUnreachable(node)
        return dict(json.loads(got[1]))

    async def _inbox(self) -> None:
        key, pos = f"{P}inbox:{self.node}", "0-0"
        handlers = {"submit": self._on_submit, "cmd": self._on_command}
        while True:
            got = await self.r.xread({key: pos}, block=BLOCK_MS, count=100)
            for _, entries in got or []:
                for entry_id, f in entries:
                    pos = entry_id
                    handler = handlers.get(f.get("op", ""))
                    answer = (await handler(json.loads(f["b"])) if handler is not None
                              else {"error": 400, "message": f"unknown request {f.get('op')!r}"})
                    await self.r.rpush(f["reply"], json.dumps(answer))
                    await self.r.expire(f["reply"], 30)

    async def _on_submit(self, body: dict[str, Any]) -> dict[str, Any]:
        client = Client(id=body["client"][0], ip=body["client"][1])
        try:
            run = await self._local(body["run"], sub_from_json(body["sub"], self.exercise_of), client, body["room"],
                                    reserved=True, student=body.get("student"))
        except RunRefused as e:
            return {"error": e.status, "code": e.code, "params": e.params, "message": e.message}
        return {"run": run}

    async def _on_command(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": await self.manager.command(body["run"], body["cmd"])}

    # ------------------------------------------------------------ runs held elsewhere

    async def meta(self, run_id: str) -> dict[str, Any] | None:
        pipe = self.r.pipeline(transaction=False)
        pipe.get(meta_key(run_id))
        pipe.xlen(ev_key(run_id))
        try:
            raw, n = await pipe.execute()
        except (redis.RedisError, OSError) as e:  # Redis away: the routes read the shared database instead
            self.redis_problem = str(e) or type(e).__name__
            return None
        if raw is None:
            return None
        meta = dict(json.loads(raw))
        meta["events"] = max(int(n), int(meta.get("events") or 0))
        return meta

    async def events(self, run_id: str, after: int) -> list[dict[str, Any]] | None:
        try:
            entries = await self.r.xrange(ev_key(run_id))
        except (redis.RedisError, OSError):
            return None
        if not entries:
            return None
        return [json.loads(f["d"]) for _, f in entries if int(f["s"]) > after]

    async def command(self, run_id: str, cmd: dict[str, Any]) -> bool:
        meta = await self.meta(run_id)
        if meta is None or meta.get("status") == RunStatus.FINISHED.value:
            return False
        if meta.get("node") is None:  # waiting in the shared queue: only stop means something there
            if cmd.get("cmd") == protocol.Op.STOP:
                return await self._stop_queued(run_id, meta)
            return True
        if meta["node"] == self.node:
            return await self.manager.command(run_id, cmd)
        try:
            return bool((await self.ask(str(meta["node"]), "cmd", {"run": run_id, "cmd": cmd}))["ok"])
        except (redis.RedisError, OSError) as e:
            raise NodeUnreachable(f"the node {meta['node']} holding this run cannot be reached: "
                                  f"Redis does not answer ({e})") from e

    async def _stop_queued(self, run_id: str, meta: dict[str, Any]) -> bool:
        if not await self.r.lrem(f"{P}queue", 0, run_id):
            return True  # a node took it meanwhile: the next stop reaches it there
        await self.r.delete(f"{P}queued:{run_id}")
        await self._announce(keys=[f"{P}queue"], args=[P, ROOM_MAXLEN])
        events = await self.events(run_id, -1) or []
        fin = finished_event(None, events, outcome=Outcome.STOPPED)
        fin.update(v=1, seq=len(events), t=events[-1]["t"] if events else 0)
        await self._end_elsewhere(run_id, meta, events, fin)
        return True

    async def _end_elsewhere(self, run_id: str, meta: dict[str, Any], events: list[dict[str, Any]],
                             fin: dict[str, Any]) -> None:
        """Write a run's end that its own node cannot write (stopped in the queue), then publish it."""
        record = {**{k: meta.get(k) for k in ("id", "lesson", "created", "files", "room", "owner", "share", "node")},
                  "status": RunStatus.FINISHED.value, "finished": time.time(), "result": fin,
                  "answers": fin.get("answers")}
        items = [(e["seq"], _encode(e)) for e in events] + [(fin["seq"], _encode(fin))]
        await asyncio.to_thread(self.storage.finish_run, record, items)
        await self._publish_end(run_id, {**meta, **record}, fin)

    async def _publish_end(self, run_id: str, meta: dict[str, Any], fin: dict[str, Any]) -> None:
        text = _encode(fin)
        pipe = self.r.pipeline(transaction=False)
        pipe.xadd(ev_key(run_id), {"s": fin["seq"], "d": text, "e": 1})
        pipe.expire(ev_key(run_id), KEEP_S)
        room = meta.get("room")
        if room:
            pipe.xadd(room_key(room), {"r": run_id, "s": fin["seq"], "d": with_run(text, run_id)},
                      maxlen=ROOM_MAXLEN, approximate=True)
        meta = {**meta, "status": RunStatus.FINISHED.value, "result": fin, "events": fin["seq"] + 1}
        pipe.set(meta_key(run_id), json.dumps(meta), ex=KEEP_S)
        if meta.get("owner"):
            pipe.srem(client_key(str(meta["owner"])), run_id)
        if meta.get("ip"):
            pipe.srem(ip_key(str(meta["ip"])), run_id)
        await pipe.execute()

    # ------------------------------------------------------------ tails: watching streams

    async def subscribe(self, run_id: str, after: int) -> Feed | None:
        if await self.meta(run_id) is None:
            return None
        try:
            feed, _ = await self.tail(ev_key(run_id), lambda f: int(f["s"]) > after)
        except (redis.RedisError, OSError):
            return None
        self.watched[run_id] = self.watched.get(run_id, 0) + 1
        self.keep(watch_key(run_id, self.node), str(self.watched[run_id]))
        return feed

    def unsubscribe(self, run_id: str, feed: Feed) -> None:
        self.untail(ev_key(run_id), feed)
        n = self.watched.pop(run_id, 1) - 1
        if n > 0:
            self.watched[run_id] = n
        self.keep(watch_key(run_id, self.node), str(n) if n > 0 else None)

    async def tail(self, key: str, keep: Filter, on_entry: Callable[[dict[str, str]], None] | None = None
                   ) -> tuple[Feed, list[dict[str, str]]]:
        """A feed of a stream: everything so far that `keep` accepts, then live, with no gap.

        The feed is registered with the stream's reader first, at the reader's position; the catch-up
        up to that position is read after and put before whatever came live meanwhile.
        Returns the feed and the catch-up's entries."""
        tail = self.tails.get(key)
        if tail is None:
            last = await self.r.xrevrange(key, count=1)
            tail = self.tails.get(key)  # another subscriber may have made it meanwhile
            if tail is None:
                tail = Tail(key=key, pos=last[0][0] if last else "0-0", on_entry=on_entry)
                self.tails[key] = tail
        feed = Feed(self.settings.ws_buffer_events)
        tail.feeds[feed] = keep
        upto = tail.pos
        if tail.task is None:
            tail.task = asyncio.get_running_loop().create_task(self._read_tail(tail))
        entries = [f for _, f in await self.r.xrange(key, "-", upto)] if upto != "0-0" else []
        caught = [f for f in entries if keep(f)]
        feed.prepend([f["d"] for f in caught])
        if any(f.get("e") for f in entries):
            feed.end()
            tail.feeds.pop(feed, None)
        return feed, entries

    def untail(self, key: str, feed: Feed) -> None:
        tail = self.tails.get(key)
        if tail is not None:
            tail.feeds.pop(feed, None)

    async def _read_tail(self, tail: Tail) -> None:
        try:
            while tail.feeds:
                got = await self.r.xread({tail.key: tail.pos}, block=BLOCK_MS, count=1000)
                ended = False
                out: dict[Feed, list[str]] = {}
                for _, entries in got or []:
                    for entry_id, f in entries:
                        tail.pos = entry_id
                        if tail.on_entry is not None:
                            tail.on_entry(f)
                        for feed, keep in tail.feeds.items():
                            if keep(f):
                                out.setdefault(feed, []).append(f["d"])
                        ended = ended or bool(f.get("e"))
                for feed, texts in out.items():
                    feed.push(texts)
                if ended:
                    for feed in tail.feeds:
                        feed.end()
                    tail.feeds.clear()
        except (redis.RedisError, OSError) as e:
            log.error("redis: reading %s: %s", tail.key, e)
            for feed in tail.feeds:
                feed.end()
        finally:
            if self.tails.get(tail.key) is tail:
                del self.tails[tail.key]

    # ------------------------------------------------------------ rooms (for ClusterRoomHub)

    def room_runs(self, code: str) -> list[str]:
        """The room's runs every node placed (worker thread: the sync client)."""
        return [str(x) for x in self.sync.lrange(roomruns_key(code), 0, -1)]

    def presence(self, code: str) -> tuple[int, int]:
        """(students, instructors) watching the room on every alive node (sync: one MGET)."""
        students = instructors = 0
        for value in self.sync.mget([presence_key(code, n) for n in self.alive_nodes()]):
            if value:
                s, i = value.split(",")
                students, instructors = students + int(s), instructors + int(i)
        return students, instructors

    # ------------------------------------------------------------ the classroom's wall and notices

    def put_wall(self, code: str, entries: dict[str, str]) -> None:
        """Wall entries (student id -> JSON) of runs this node holds; written in the background."""
        async def write() -> None:
            try:
                pipe = self.r.pipeline(transaction=False)
                pipe.hset(wall_key(code), mapping=entries)
                pipe.expire(wall_key(code), ROOM_TTL_S)
                await pipe.execute()
            except (redis.RedisError, OSError) as e:
                log.error("redis: the wall of room %s: %s", code, e)
        self._background(write())

    def drop_wall(self, code: str, sid: str) -> None:
        async def drop() -> None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self.r.hdel(wall_key(code), sid)
        self._background(drop())

    async def wall(self, code: str) -> dict[str, str]:
        return dict(await self.r.hgetall(wall_key(code)))

    def class_notice(self, code: str, what: str) -> None:
        """Tell the other nodes' class views of the room (pub/sub: a notice is only a hint to fetch)."""
        async def send() -> None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self.r.publish(class_channel(code), json.dumps([self.node, what]))
        self._background(send())

    async def _class_notices(self) -> None:
        pubsub = self.r.pubsub()
        try:
            await pubsub.psubscribe(class_channel("*"))
            async for msg in pubsub.listen():
                if msg.get("type") != "pmessage":
                    continue
                node, what = json.loads(msg["data"])
                if node != self.node and self.on_class_notice is not None:
                    self.on_class_notice(str(msg["channel"])[len(class_channel("")):], str(what))
        finally:
            await pubsub.aclose()

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.bg.add(task)
        task.add_done_callback(self.bg.discard)

    # ------------------------------------------------------------ lost nodes

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            for node in sorted(await self.r.smembers(f"{P}nodes")):
                if node == self.node or await self.r.exists(f"{P}hb:{node}"):
                    continue
                if not await self.r.set(f"{P}reap:{node}", self.node, nx=True, ex=60):
                    continue  # another survivor is on it
                try:
                    await self.reap(node)
                finally:
                    await self.r.delete(f"{P}reap:{node}")

    async def _end_on_wall(self, code: str, sid: str, run_id: str, fin: dict[str, Any]) -> None:
        text = await self.r.hget(wall_key(code), sid)
        if not text:
            return
        entry = WallEntry.from_json(text)
        if entry.run == run_id:
            entry.apply(fin)
            await self.r.hset(wall_key(code), sid, entry.to_json())
            await self.r.publish(class_channel(code), json.dumps([self.node, "wall"]))
            if self.on_class_notice is not None:
                self.on_class_notice(code, "wall")

    async def reap(self, node: str) -> list[str]:
        """End a lost node's unfinished runs as error/node_lost after what they had published."""
        ids = sorted(await self.r.smembers(f"{P}noderuns:{node}"))
        metas: dict[str, dict[str, Any]] = {}
        for run_id in ids:
            meta = await self.meta(run_id)
            if meta is None or meta.get("status") == RunStatus.FINISHED.value:
                continue
            metas[run_id] = meta
            entries = await self.r.xrange(ev_key(run_id))
            items = [(int(f["s"]), f["d"]) for _, f in entries]
            record = {**{k: meta.get(k) for k in ("id", "lesson", "created", "files", "room", "owner", "share")},
                      "status": RunStatus.RUNNING.value, "finished": None, "result": None, "answers": None,
                      "node": node}
            await asyncio.to_thread(self.storage.begin_run, record)  # a run younger than its first flush
            await asyncio.to_thread(self.storage.append_events, run_id, items)

        def lost(run: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
            fin = finished_event(None, events, outcome=Outcome.NODE_LOST)
            fin["outcome"]["node"] = node
            fin.update(v=1, t=events[-1]["t"] if events else 0)
            return fin

        ended = await asyncio.to_thread(self.storage.mark_node_lost, node, lost)
        for run_id in ended:
            rec = await asyncio.to_thread(self.storage.get_run, run_id)
            if rec is None or not rec.get("result"):
                continue
            meta = metas.get(run_id) or {**rec, "node": node}
            await self._publish_end(run_id, meta, rec["result"])
            if meta.get("student"):  # a student's own run: its wall entry ends too (its node cannot say so)
                await self._end_on_wall(str(meta["student"][0]), str(meta["student"][1]), run_id, rec["result"])
        log.warning("node %s stopped answering; its runs ended as node_lost: %s", node, ", ".join(ended) or "none")
        pipe = self.r.pipeline(transaction=False)
        pipe.srem(f"{P}nodes", node)
        pipe.hdel(f"{P}load", node)
        pipe.delete(f"{P}noderuns:{node}", f"{P}inbox:{node}")
        await pipe.execute()
        return ended
