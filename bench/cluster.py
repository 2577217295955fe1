"""cluster: one room across three nodes sharing Redis, next to the same room on one embedded node (issue 18).

Targets: 0 events lost on every node; p99 delay reported per node; the Redis hop's cost (delay and CPU
per event) is the difference from the single node measured in the same run.
"""

from __future__ import annotations

import array
import contextlib
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from . import scenarios
from .classroom import AUTH, TOKEN
from .common import ROOT, Result, Server, Unavailable, get_json_sync, ms, seq_problems, summary, sync_client
from .sizes import Sizes
from .wsclients import ClientProcess

NODES = ("a", "b", "c")


def _start_redis(tmp: Path) -> tuple[str, Any]:
    """tests/redis_server.py's real redis-server (no persistence, free loopback port)."""
    if shutil.which("redis-server") is None:
        raise Unavailable("no redis-server (Debian package redis-server)")
    spec = importlib.util.spec_from_file_location("redis_server", ROOT / "tests" / "redis_server.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    url, stop = mod.start_redis(tmp)
    return str(url), stop


def room_broadcast(control: Server, watchers: list[tuple[Server, int]], seconds: float) -> dict[str, Any]:
    """The instructor's broadcast run in a room made on `control`; `watchers`: (node, students there), one
    client process per node. Returns what each node's students saw (lost, delays) and each node's CPU."""
    http = sync_client(control)
    code = http.post("/api/rooms", headers=AUTH).json()["code"]
    r = http.post(f"/api/rooms/{code}/runs", json={"files": {"main.py": scenarios.broadcast(seconds)}}, headers=AUTH)
    r.raise_for_status()
    run_id, holder = r.json()["id"], r.json().get("node")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers = [stack.enter_context(ClientProcess(f"{s.ws_base}/ws/rooms/{code}", n, Path(tmp) / f"{i}"))
                   for i, (s, n) in enumerate(watchers)]
        for w in workers:
            w.wait_ready(180)
        procs = {s.pid: psutil.Process(s.pid) for s, _ in watchers}
        cpu0 = {pid: p.cpu_times() for pid, p in procs.items()}
        go = time.monotonic_ns()
        http.post(f"/api/runs/{run_id}/input", json={"text": "go\n"}, headers=AUTH).raise_for_status()
        outs = [w.result(180) for w in workers]
        wall = max(o["last_ns"] for o in outs) - go
        cpu1 = {pid: p.cpu_times() for pid, p in procs.items()}
    events = get_json_sync(http, f"/api/runs/{run_id}/events")
    http.close()
    t0, _err = scenarios.t0_of(events)
    per_node = []
    for (server, n), out in zip(watchers, outs, strict=True):
        delays: list[float] = []
        lost = dupes = errors = 0
        for c in out["clients"]:
            if "error" in c:
                errors += 1
                continue
            seqs, ts, ats = (array.array("q", c[k]) for k in ("seq", "t", "at"))
            prob = seq_problems(seqs, len(events))
            lost += prob["missing"]
            dupes += prob["duplicates"]
            delays += [ms(at - (t0 + t)) for t, at in zip(ts, ats, strict=True) if t0 + t > go]
        c0, c1 = cpu0[server.pid], cpu1[server.pid]
        cpu = c1.user + c1.system - c0.user - c0.system
        per_node.append({"node": server.env.get("PROCLAB_NODE_ID", "single"), "students": n, "lost": lost,
                         "duplicates": dupes, "errors": errors, "delay": summary(delays), "cpu_s": cpu,
                         "client_cpu_s": out["cpu_s"]})
    return {"events": len(events), "holder": holder, "wall_s": wall / 1e9, "nodes": per_node}


def run(sizes: Sizes) -> Result:
    n = sizes.cluster_students
    res = Result("cluster", f"Several nodes: one room of {n} students over three nodes sharing Redis",
                 method=(f"The run of `bench classroom` ({sizes.class_s:g} s of output and pipe traffic), started by "
                         f"the instructor in a room. Cluster: a real redis-server and three `proclab serve` nodes "
                         f"(PROCLAB_REDIS_URL, one shared SQLite file), {n // 3} students on each node (WebSocket "
                         "clients, one process per node), the room made and the run started through node a "
                         "(admission picks the node that runs it). Every student, on every node, is served from the "
                         "room's Redis stream. Single: one embedded node (no Redis) with all the students, measured "
                         "right before in the same run. Lost = seqs a student never got; delay = arrival − the "
                         "event's time on CLOCK_MONOTONIC; Redis hop = cluster delay − single delay (medians, p99); "
                         "CPU per event = a node's CPU during the broadcast / events. The same with one student per node "
                         "(three on the single node) first: the hop's own delay, without 600 clients on the cores."))
    with tempfile.TemporaryDirectory(prefix="proclab-bench-cluster-") as tmp:
        with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": TOKEN}, name="single") as single:
            single.check_runs()
            quiet_alone = room_broadcast(single, [(single, 3)], sizes.class_s)
            alone = room_broadcast(single, [(single, n)], sizes.class_s)
        url, stop_redis = _start_redis(Path(tmp) / "redis")
        try:
            with contextlib.ExitStack() as stack:
                nodes = [stack.enter_context(Server(env={
                    "PROCLAB_INSTRUCTOR_TOKEN": TOKEN, "PROCLAB_REDIS_URL": url, "PROCLAB_NODE_ID": name,
                    "PROCLAB_DATA_DIR": str(Path(tmp) / "data")}, name=f"node-{name}")) for name in NODES]
                nodes[0].check_runs()
                time.sleep(HEARTBEAT_WAIT_S)  # every node has seen the others' heartbeats
                quiet = room_broadcast(nodes[0], [(node, 1) for node in nodes], sizes.class_s)
                per = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
                spread = room_broadcast(nodes[0], list(zip(nodes, per, strict=True)), sizes.class_s)
        finally:
            stop_redis()
    s = alone["nodes"][0]
    lost = sum(x["lost"] + x["duplicates"] + x["errors"] for x in spread["nodes"])
    res.add("events lost (sum over students, all nodes)", lost, "",
            f"{spread['events']} events; single node: {s['lost'] + s['duplicates'] + s['errors']} lost of "
            f"{alone['events']}", "0", lost == 0)
    for x in spread["nodes"]:
        held = " (runs it)" if x["node"] == spread["holder"] else ""
        res.add(f"node {x['node']}{held}: delay median / p99", f"{x['delay']['median']:.0f} / {x['delay']['p99']:.0f}",
                "ms", f"{x['students']} students; single node, {s['students']} students: "
                f"{s['delay']['median']:.0f} / {s['delay']['p99']:.0f} ms")
    med = max(x["delay"]["median"] for x in spread["nodes"]) - s["delay"]["median"]
    p99 = max(x["delay"]["p99"] for x in spread["nodes"]) - s["delay"]["p99"]
    res.add("Redis hop: added delay, median / p99 (worst node)", f"{med:.1f} / {p99:.1f}", "ms",
            "cluster minus single node, same run")
    qa = quiet_alone["nodes"][0]["delay"]
    qm = max(x["delay"]["median"] for x in quiet["nodes"]) - qa["median"]
    qp = max(x["delay"]["p99"] for x in quiet["nodes"]) - qa["p99"]
    res.add("Redis hop with one student per node: added delay, median / p99", f"{qm:.1f} / {qp:.1f}", "ms",
            f"single node, 3 students: {qa['median']:.1f} / {qa['p99']:.1f} ms; cluster nodes: " + ", ".join(
                f"{x['node']} {x['delay']['median']:.1f} / {x['delay']['p99']:.1f}" for x in quiet["nodes"]))
    for x in spread["nodes"]:
        res.add(f"node {x['node']}: CPU per event", x["cpu_s"] / max(1, spread["events"]) * 1e6, "µs",
                f"{x['cpu_s']:.1f} s over {spread['wall_s']:.1f} s for {x['students']} students; single node: "
                f"{s['cpu_s'] / max(1, alone['events']) * 1e6:.0f} µs for {s['students']}")
    res.raw = {"single": alone, "cluster": spread, "single_quiet": quiet_alone, "cluster_quiet": quiet}
    return res


HEARTBEAT_WAIT_S = 2.5
