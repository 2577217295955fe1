"""Several nodes: a real redis-server and three real `proclab serve` nodes sharing one real PostgreSQL.

Each node has its own launcher and runs; they share live state through Redis (app/cluster/). What a
user would notice is asserted: a room's students on every node get the same events in order, a run
started on one node is watched and stopped from another, runs spread over the nodes, caps hold over
all of them, a class spread over the nodes is one wall, a run watched only from elsewhere still stops
when its watcher leaves, Redis stopped mid-run stops nothing local, and a node killed mid-run ends its
run as `node_lost` for a watcher elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from conftest import Server, http_client, output, start_server, stop_server
from pg_server import create_database
from redis_server import start_redis

SLOTS = 2
GRACE_S = 2  # a run nobody watches any more is stopped this long after its last watcher left
SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(25)\n"


class Cluster:
    def __init__(self, tmp: Path, redis_url: str, database_url: str | None, stop_redis: Callable[[], None]) -> None:
        self.tmp = tmp
        self.redis_url = redis_url
        self.stop_redis = stop_redis
        self.database_url = database_url
        self.nodes: dict[str, Server] = {}

    def start(self, name: str) -> Server:
        env = {"PROCLAB_REDIS_URL": self.redis_url, "PROCLAB_NODE_ID": name,
               "PROCLAB_MAX_CONCURRENT_RUNS": str(SLOTS), "PROCLAB_WARM_SPARES": "1",
               "PROCLAB_MAX_RUNS_PER_CLIENT": "3", "PROCLAB_DISCONNECT_GRACE_S": str(GRACE_S)}
        if self.database_url:
            env["PROCLAB_DATABASE_URL"] = self.database_url
        self.nodes[name] = start_server(self.tmp, env)  # one data dir: the nodes share its database
        return self.nodes[name]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {next(iter(self.nodes.values())).secret}"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Cluster]:
    """Three nodes on one real PostgreSQL database (its own) and one real redis-server."""
    tmp = tmp_path_factory.mktemp("cluster")
    database = create_database(postgres_url, "cluster_" + os.urandom(4).hex())
    redis_url, stop_redis = start_redis(tmp / "redis")
    c = Cluster(tmp, redis_url, database, stop_redis)
    try:
        for name in ("a", "b", "c"):
            c.start(name)
        _wait_nodes(c.nodes["a"], {"a", "b", "c"})
        yield c
    finally:
        for server in c.nodes.values():
            if server.proc.poll() is None:
                stop_server(server)
        c.stop_redis()


def _wait_nodes(server: Server, want: set[str], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = set(server.http.get("/healthz").json()["cluster"]["nodes"])
        if seen == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"node {server.base} sees {seen}, not {want}")


def ws_url(server: Server, path: str) -> str:
    return server.base.replace("http", "ws") + path


def _wait_finished(server: Server, run_id: str, headers: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = server.http.get(f"/api/runs/{run_id}", headers=headers).json()
        if info["status"] == "finished":
            return dict(info)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


async def _listen(url: str, out: list[dict[str, Any]], runs: int = 1, headers: dict[str, str] | None = None) -> None:
    async with websockets.connect(url, max_size=None, additional_headers=headers) as ws:
        finished = 0
        while finished < runs:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            for ev in frame if isinstance(frame, list) else [frame]:
                out.append(ev)
                finished += ev["type"] == "run.finished"


def test_a_room_with_students_on_three_nodes_gets_every_event_in_order(cluster: Cluster) -> None:
    a, b, c = (cluster.nodes[n] for n in "abc")
    room = a.http.post("/api/rooms", json={"title": "three nodes"}, headers=cluster.auth()).json()
    code = room["code"]
    assert b.http.get(f"/api/rooms/{code}").status_code == 200  # in the shared database: every node knows it
    program = "import os\nfor i in range(300):\n    print('line', i, flush=True)\nif os.fork() == 0:\n    os._exit(3)\nos.wait()\n"

    async def scenario() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], str]:
        streams: list[list[dict[str, Any]]] = [[] for _ in range(9)]
        tasks = [asyncio.create_task(_listen(ws_url((a, b, c)[i % 3], f"/ws/rooms/{code}"), s))
                 for i, s in enumerate(streams)]
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(base_url=b.base) as h:
            r = await h.post(f"/api/rooms/{code}/runs", json={"files": {"main.py": program}}, headers=cluster.auth())
            assert r.status_code == 201, r.text
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
        late: list[dict[str, Any]] = []
        await _listen(ws_url(c, f"/ws/rooms/{code}"), late)  # a late joiner on a third node
        return streams, late, r.json()["id"]

    streams, late, run_id = asyncio.run(scenario())
    recorded = a.http.get(f"/api/runs/{run_id}/events").json()
    assert recorded[-1]["type"] == "run.finished" and recorded[-1]["outcome"] == {"code": "exit", "exit_code": 0}
    want = [(run_id, e["seq"], e["type"]) for e in recorded]
    for s in streams:
        assert [(e["run"], e["seq"], e["type"]) for e in s] == want  # none lost, none doubled, one order
    assert [(e["run"], e["seq"], e["type"]) for e in late] == want
    assert "line 299" in output(recorded) and any(e["type"] == "proc.spawn" for e in recorded[2:])


def test_a_run_started_on_one_node_is_watched_and_stopped_from_another(cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    owner = http_client(a.base)
    r = owner.post("/api/runs", json={"files": {"main.py": SLEEPER}})
    assert r.status_code == 201, r.text
    run_id, node = r.json()["id"], r.json()["node"]
    other = next(s for n, s in cluster.nodes.items() if n != node)
    watcher = http_client(other.base, cookies=dict(owner.cookies))
    cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in owner.cookies.items())}

    async def scenario() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        task = asyncio.create_task(_listen(ws_url(other, f"/ws/runs/{run_id}"), seen, headers=cookie))
        deadline = time.monotonic() + 30
        while not any(e["type"] == "io.output" for e in seen):
            assert time.monotonic() < deadline, seen
            await asyncio.sleep(0.05)
        stranger = await asyncio.to_thread(lambda: http_client(other.base).post(f"/api/runs/{run_id}/stop"))
        assert stranger.status_code == 403  # owner checks hold for a run of another node
        stop = await asyncio.to_thread(lambda: watcher.post(f"/api/runs/{run_id}/stop"))
        assert stop.status_code == 200, stop.text
        await asyncio.wait_for(task, 30)
        return seen

    seen = asyncio.run(scenario())
    assert [e["seq"] for e in seen] == list(range(len(seen)))
    assert seen[-1]["type"] == "run.finished" and seen[-1]["status"] == "stopped"
    info = _wait_finished(other, run_id, cluster.auth())  # any node answers for it
    assert info["node"] == node
    resumed = watcher.get(f"/api/runs/{run_id}/events", params={"after": 2}).json()
    assert [e["seq"] for e in resumed] == [e["seq"] for e in seen[3:]]
    assert b.http.get(f"/api/runs/{run_id}/events", headers=cluster.auth()).json()[-1]["status"] == "stopped"


def test_admission_spreads_runs_over_nodes_and_queues_one_fifo_when_all_are_full(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    total = SLOTS * len(cluster.nodes)
    clients = [http_client(a.base) for _ in range(total + 3)]  # one run each: per-client caps stay out of it
    placed = []
    for c in clients:
        r = c.post("/api/runs", json={"files": {"main.py": SLEEPER}})
        assert r.status_code == 201, r.text
        placed.append(r.json())
    try:
        by_node: dict[str | None, int] = {}
        for p in placed[:total]:
            by_node[p["node"]] = by_node.get(p["node"], 0) + 1
        assert by_node == {n: SLOTS for n in cluster.nodes}, by_node
        queued = placed[total:]
        assert [p["status"] for p in queued] == ["queued", "queued", "queued"]
        assert [p["position"] for p in queued] == [1, 2, 3]
        # The first queued run takes the first slot that frees, whichever node it is on.
        clients[1].post(f"/api/runs/{placed[1]['id']}/stop")
        deadline = time.monotonic() + 20
        while (info := clients[total].get(f"/api/runs/{queued[0]['id']}").json())["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert info["node"] == placed[1]["node"]
        assert clients[total + 1].get(f"/api/runs/{queued[1]['id']}").json()["status"] == "queued"
        events = clients[total].get(f"/api/runs/{queued[0]['id']}/events").json()
        assert events[0]["type"] == "run.queued" and [e["seq"] for e in events] == list(range(len(events)))
        # Those still waiting are told they moved up, as the queue moves (a taken run, a stopped one).
        assert positions(clients[total + 1], queued[1]["id"]) == [2, 1]
        assert positions(clients[total + 2], queued[2]["id"]) == [3, 2]
        assert clients[total + 1].post(f"/api/runs/{queued[1]['id']}/stop").status_code == 200
        assert positions(clients[total + 2], queued[2]["id"]) == [3, 2, 1]
        seen = clients[total + 2].get(f"/api/runs/{queued[2]['id']}/events").json()
        assert [e["seq"] for e in seen] == list(range(len(seen)))
    finally:
        for c, p in zip(clients, placed, strict=True):
            c.post(f"/api/runs/{p['id']}/stop")
    for p in placed:
        _wait_finished(a, p["id"], cluster.auth())


def positions(client: httpx.Client, run_id: str) -> list[int]:
    events = client.get(f"/api/runs/{run_id}/events").json()
    return [e["position"] for e in events if e["type"] == "run.queued"]


def test_a_clients_cap_counts_its_runs_on_every_node(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    browser = {"pl_client": "one-browser-on-three-nodes"}  # the same cookie through each node
    me = http_client(a.base, cookies=browser)
    ids = []
    for node in "abc":
        r = http_client(cluster.nodes[node].base, cookies=browser).post("/api/runs", json={"files": {"main.py": SLEEPER}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert len({*ids}) == 3
    fourth = http_client(cluster.nodes["c"].base, cookies=browser).post(
        "/api/runs", json={"files": {"main.py": SLEEPER}})
    assert fourth.status_code == 429 and "at most 3" in fourth.text
    assert fourth.json()["code"] == "too_many_runs" and fourth.json()["params"] == {"count": 3, "max": 3}, fourth.text
    for run_id in ids:
        assert me.post(f"/api/runs/{run_id}/stop").status_code == 200
    for run_id in ids:
        _wait_finished(a, run_id, cluster.auth())
    again = me.post("/api/runs", json={"files": {"main.py": "print(1)"}})
    assert again.status_code == 201, again.text  # finished runs free the cap everywhere
    _wait_finished(a, again.json()["id"], cluster.auth())


def test_an_instructor_signed_in_on_one_node_is_signed_in_on_all_and_signing_out_ends_it_everywhere(
        cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = http_client(a.base).post("/signin", content=f"token={a.secret}", headers=form)
    assert r.status_code == 303
    session = {"pl_instructor": r.cookies["pl_instructor"]}
    on_b = http_client(b.base, cookies=session)
    assert on_b.get("/api/me").json()["instructor"] is True
    assert on_b.post("/api/rooms").status_code == 201
    assert http_client(b.base).post("/api/rooms").status_code == 401  # without the session: no
    assert on_b.post("/signout").status_code == 303
    on_a = http_client(a.base, cookies=session)
    deadline = time.monotonic() + 15  # a node that had just seen the session looks again within seconds
    while on_a.get("/api/me").json()["instructor"]:
        assert time.monotonic() < deadline, "the session outlived its sign-out on another node"
        time.sleep(0.2)
    assert on_a.post("/api/rooms").status_code == 401


def test_a_node_killed_mid_run_ends_its_run_as_node_lost_for_watchers_elsewhere(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    # One run on each of a, b, c: the new node is then the least loaded, and on a tie the one asked.
    others = [http_client(a.base) for _ in range(3)]
    busy = [h.post("/api/runs", json={"files": {"main.py": SLEEPER}}).json() for h in others]
    assert sorted(x["node"] for x in busy) == ["a", "b", "c"], busy
    doomed = cluster.start("d")
    _wait_nodes(cluster.nodes["a"], {"a", "b", "c", "d"})
    program = "import time\nfor i in range(5):\n    print('before', i, flush=True)\ntime.sleep(25)\n"
    # Straight to the doomed node: it holds the run (its own inbox decides nothing here, admission may
    # place it anywhere, so ask until it lands there).
    run_id = None
    for _ in range(6):
        r = doomed.http.post("/api/rooms", headers=cluster.auth())
        code = r.json()["code"]
        r = doomed.http.post(f"/api/rooms/{code}/runs", json={"files": {"main.py": program}}, headers=cluster.auth())
        assert r.status_code == 201, r.text
        if r.json()["node"] == "d":
            run_id = r.json()["id"]
            break
        a.http.post(f"/api/runs/{r.json()['id']}/stop", headers=cluster.auth())
    assert run_id is not None, "admission never placed a run on the new, empty node"
    pupil = http_client(doomed.base)
    assert pupil.post(f"/api/rooms/{code}/students", json={"name": "Eve"}).status_code == 201
    mine = pupil.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "files": {"main.py": SLEEPER}})
    assert mine.status_code == 201 and mine.json()["node"] == "d", mine.text

    async def scenario() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        task = asyncio.create_task(_listen(ws_url(a, f"/ws/rooms/{code}"), seen))
        deadline = time.monotonic() + 30
        while output(seen).count("before") < 5:
            assert time.monotonic() < deadline, seen
            await asyncio.sleep(0.05)
        os.kill(doomed.proc.pid, signal.SIGKILL)
        await asyncio.wait_for(task, 30)
        return seen

    seen = asyncio.run(scenario())
    doomed.proc.wait()
    doomed.http.close()
    del cluster.nodes["d"]
    fin = seen[-1]
    assert fin["type"] == "run.finished" and fin["status"] == "error", fin
    assert fin["outcome"]["code"] == "node_lost" and fin["outcome"]["node"] == "d"
    stored = a.http.get(f"/api/runs/{run_id}/events", headers=cluster.auth()).json()
    assert [e["seq"] for e in stored] == list(range(len(stored)))
    assert output(stored).count("before") == 5  # what the node recorded before it died is kept
    assert stored[-1]["outcome"]["code"] == "node_lost"
    assert a.http.get(f"/api/runs/{run_id}").json()["status"] == "finished"
    _wait_nodes(a, {"a", "b", "c"})
    deadline = time.monotonic() + 15
    while (eve := a.http.get(f"/api/rooms/{code}/wall", headers=cluster.auth()).json()["students"][0])["status"] != "error":
        assert time.monotonic() < deadline, eve  # the student's run on the lost node is not left "running"
        time.sleep(0.2)
    assert eve["run"] == mine.json()["id"] and eve["name"] == "Eve"
    for h, x in zip(others, busy, strict=True):
        h.post(f"/api/runs/{x['id']}/stop")
    for x in busy:
        _wait_finished(a, x["id"], cluster.auth())


def test_a_class_spread_over_three_nodes_is_one_wall_one_count_and_its_runs_are_admitted_anywhere(
        cluster: Cluster) -> None:
    a, b, c = (cluster.nodes[n] for n in "abc")
    code = a.http.post("/api/rooms", json={"title": "one class"}, headers=cluster.auth()).json()["code"]
    lesson = a.http.get("/api/lessons/pipe-basics", headers=cluster.auth()).json()
    ex = next(e for e in lesson["exercises"] if e["id"] == "pipe-hello")
    main, solution = next(iter(ex["solution"].items()))
    hold = "\nimport time\ntime.sleep(3)\n"  # each run holds its slot a moment (admission spreads them)
    slow, starter = {main: solution + hold}, {main: ex["starter"][main] + hold}
    joined = {}
    for name, node in (("Ann", a), ("Bo", b), ("Cy", c)):  # each joins through another node
        h = http_client(node.base, timeout=30)
        r = h.post(f"/api/rooms/{code}/students", json={"name": name})
        assert r.status_code == 201, r.text
        joined[name] = (h, r.json()["id"])

    async def count_and_notices() -> tuple[int, list[dict[str, Any]]]:
        """Two students watch the room from b and c; the instructor's class view on a hears a join on b."""
        heard: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(b, f"/ws/rooms/{code}")), websockets.connect(ws_url(c, f"/ws/rooms/{code}")):
            deadline = time.monotonic() + 15
            while (n := (await asyncio.to_thread(a.http.get, f"/api/rooms/{code}")).json()["clients"]) != 2:
                assert time.monotonic() < deadline, f"node a counts {n} students of the room, not 2"
                await asyncio.sleep(0.2)
            async with websockets.connect(ws_url(a, f"/ws/rooms/{code}/class"), additional_headers=cluster.auth()) as ws:
                heard.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))  # hello
                r = await asyncio.to_thread(http_client(b.base).post, f"/api/rooms/{code}/students",
                                            json={"name": "Dee"})
                assert r.status_code == 201
                while not any("students" in m["what"] for m in heard):
                    heard.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        return n, heard

    n, heard = asyncio.run(count_and_notices())
    assert n == 2 and heard[-1]["type"] == "class.changed"
    deadline = time.monotonic() + 15
    while a.http.get(f"/api/rooms/{code}").json()["clients"] != 0:  # they left: no one is counted any more
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # Every student presses Run through node a (their cookie, another node): admission spreads the runs.
    ids, nodes = {}, set()
    for name, (h, _sid) in joined.items():
        on_a = http_client(a.base, cookies=dict(h.cookies), timeout=30)
        r = on_a.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello",
                                                         "files": slow if name != "Cy" else starter})
        assert r.status_code == 201, r.text
        ids[name], _ = r.json()["id"], nodes.add(r.json()["node"])
        busy = http_client(c.base, cookies=dict(h.cookies)).post(
            f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello"})
        assert busy.status_code == 409, busy.text  # one run at a time, whichever node is asked
    assert nodes == {"a", "b", "c"}
    for run_id in ids.values():
        _wait_finished(a, run_id, cluster.auth())
    deadline = time.monotonic() + 15
    while True:
        walls = [{w["name"]: w for w in n.http.get(f"/api/rooms/{code}/wall", headers=cluster.auth()).json()["students"]}
                 for n in (a, c)]
        if all(w["Ann"]["status"] and w["Bo"]["status"] == "ok" and w["Cy"]["status"] == "ok" for w in walls):
            break
        assert time.monotonic() < deadline, walls
        time.sleep(0.2)
    for wall in walls:  # the instructor's wall on any node: every student, whichever node ran them
        assert [wall[x]["run"] for x in ("Ann", "Bo", "Cy")] == [ids["Ann"], ids["Bo"], ids["Cy"]]
        assert wall["Ann"]["passed"] is True and wall["Bo"]["passed"] is True and wall["Cy"]["passed"] is False
        assert wall["Dee"]["run"] is None
    deadline = time.monotonic() + 15
    while True:  # graded and recorded where each ran, in the shared database
        cells = {row["name"]: row["cells"]["pipe-basics/pipe-hello"]
                 for row in b.http.get(f"/api/rooms/{code}/progress", headers=cluster.auth()).json()["students"]}
        if all(cells[x]["attempts"] == 1 for x in ("Ann", "Bo", "Cy")):
            break
        assert time.monotonic() < deadline, cells
        time.sleep(0.2)
    assert [cells[x]["state"] for x in ("Ann", "Bo", "Cy")] == ["passed", "passed", "tried"]


def test_a_run_watched_only_from_another_node_stops_when_that_watcher_leaves(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    owner = http_client(a.base)
    r = owner.post("/api/runs", json={"files": {"main.py": SLEEPER}})
    assert r.status_code == 201, r.text
    run_id, node = r.json()["id"], r.json()["node"]
    other = next(s for n, s in cluster.nodes.items() if n != node)
    cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in owner.cookies.items())}

    async def watch() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(other, f"/ws/runs/{run_id}"), additional_headers=cookie) as ws:
            deadline = time.monotonic() + 30
            while not any(e["type"] == "io.output" for e in seen):
                assert time.monotonic() < deadline, seen
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                seen += frame if isinstance(frame, list) else [frame]
            await asyncio.sleep(3 * GRACE_S)  # watched from elsewhere all along: it goes on
        return seen

    asyncio.run(watch())
    assert owner.get(f"/api/runs/{run_id}").json()["status"] == "running"
    info = _wait_finished(a, run_id, cluster.auth(), timeout=20)  # the watcher left: the grace runs out
    assert info["result"]["status"] == "stopped", info["result"]


def test_redis_stopped_mid_run_stops_nothing_local_and_everything_comes_back(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    program = "import time\nprint('before', flush=True)\ntime.sleep(4)\nprint('after', flush=True)\n"
    owner = http_client(a.base)
    r = owner.post("/api/runs", json={"files": {"main.py": program}})
    assert r.status_code == 201, r.text
    first, holder = r.json()["id"], cluster.nodes[r.json()["node"]]
    port = int(cluster.redis_url.rsplit(":", 1)[1].split("/")[0])
    cluster.stop_redis()
    try:
        deadline = time.monotonic() + 15
        while (ready := a.http.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "readyz did not notice that Redis is gone"
            time.sleep(0.2)
        reasons = ready.json()["reasons"]
        assert [x["check"] for x in reasons] == ["redis"] and reasons[0]["code"] == "redis", reasons
        assert "Redis" in reasons[0]["detail"]
        health = a.http.get("/healthz")
        assert health.status_code == 200 and "redis" in [n["code"] for n in health.json()["notices"]]
        # A run asked for now runs here, is watched here, and is stored.
        r = owner.post("/api/runs", json={"files": {"main.py": "print('alone', flush=True)"}})
        assert r.status_code == 201, r.text
        assert r.json()["node"] == "a"
        alone = _wait_finished(a, r.json()["id"], cluster.auth())
        assert alone["result"]["outcome"] == {"code": "exit", "exit_code": 0}
        assert "alone" in output(a.http.get(f"/api/runs/{r.json()['id']}/events", headers=cluster.auth()).json())
        done = _wait_finished(holder, first, cluster.auth())  # the run going when Redis went ends as it would
        assert done["result"]["outcome"] == {"code": "exit", "exit_code": 0}
        events = holder.http.get(f"/api/runs/{first}/events", headers=cluster.auth()).json()
        assert output(events) == "before\nafter\n" and [e["seq"] for e in events] == list(range(len(events)))
        for server in cluster.nodes.values():
            assert server.proc.poll() is None and server.http.get("/healthz").status_code == 200
    finally:
        cluster.redis_url, cluster.stop_redis = start_redis(cluster.tmp / "redis-again", port=port)
    for server in cluster.nodes.values():  # Redis is back (empty): every node registers again
        deadline = time.monotonic() + 20
        while server.http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, server.http.get("/readyz").json()
            time.sleep(0.2)
    _wait_nodes(a, {"a", "b", "c"})
    r = owner.post("/api/runs", json={"files": {"main.py": "print('together again', flush=True)"}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    watcher = http_client(cluster.nodes["c" if r.json()["node"] != "c" else "b"].base, cookies=dict(owner.cookies))
    deadline = time.monotonic() + 30
    while not (events := watcher.get(f"/api/runs/{run_id}/events").json()) or events[-1]["type"] != "run.finished":
        assert time.monotonic() < deadline, events
        time.sleep(0.1)
    assert "together again" in output(events)
