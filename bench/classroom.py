"""4. classroom: one run broadcast to many WebSocket clients; nothing lost, delivery delay."""

from __future__ import annotations

import array
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from . import scenarios
from .common import (
    Result,
    Server,
    get_json_sync,
    http_client,
    ms,
    post_run,
    seq_problems,
    summary,
    sync_client,
)
from .sizes import Sizes
from .wsclients import ClientProcess

TOKEN = "bench-instructor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def broadcast(server: Server, clients: int, procs: int, seconds: float, room: bool = False) -> dict[str, Any]:
    """One broadcast run watched by `clients` WebSockets spread over `procs` processes.

    room: the classroom path of issue 7 — an instructor makes a room and starts the run in it; the
    students follow /ws/rooms/{code} (events tagged with their run) instead of the run's own socket.
    """
    http = sync_client(server)
    if room:
        code = http.post("/api/rooms", headers=AUTH).json()["code"]
        r = http.post(f"/api/rooms/{code}/runs", json={"files": {"main.py": scenarios.broadcast(seconds)}},
                      headers=AUTH)
        r.raise_for_status()
        run_id = r.json()["id"]
        url = f"{server.ws_base}/ws/rooms/{code}"
    else:
        run_id = asyncio.run(_post(server, scenarios.broadcast(seconds)))
        url = f"{server.ws_base}/ws/runs/{run_id}"
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers = [stack.enter_context(ClientProcess(url, n, Path(tmp) / f"{i}"))
                   for i, n in enumerate(per)]
        for w in workers:
            w.wait_ready(180)
        server_proc = psutil.Process(server.pid)
        cpu0 = server_proc.cpu_times()
        go = time.monotonic_ns()
        r = http.post(f"/api/runs/{run_id}/input", json={"text": "go\n"}, headers=AUTH)
        r.raise_for_status()
        outs = [w.result(120) for w in workers]
        wall = max(o["last_ns"] for o in outs) - go
        cpu1 = server_proc.cpu_times()
    events = get_json_sync(http, f"/api/runs/{run_id}/events")
    http.close()
    t0, err = scenarios.t0_of(events)
    n_events = len(events)
    delays: list[float] = []
    lost = dupes = incomplete = errors = 0
    frames = 0
    for out in outs:
        for c in out["clients"]:
            if "error" in c:
                errors += 1
                continue
            seqs = array.array("q", c["seq"])
            ts = array.array("q", c["t"])
            ats = array.array("q", c["at"])
            frames += c["frames"]
            prob = seq_problems(seqs, n_events)
            lost += prob["missing"]
            dupes += prob["duplicates"]
            incomplete += prob["missing"] > 0
            for t, at in zip(ts, ats, strict=True):
                happened = t0 + t
                if happened > go:
                    delays.append(ms(at - happened))
    return {"events": n_events, "clients": clients, "deliveries": len(delays), "lost": lost, "duplicates": dupes,
            "clients_missing_events": incomplete, "client_errors": errors, "frames": frames,
            "delay_ms": delays, "server_cpu_share": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (wall / 1e9),
            "client_cpu_s": [o["cpu_s"] for o in outs], "wall_s": wall / 1e9, "t0_uncertainty_us": err / 1e3,
            "types": _types(events)}


def _types(events: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[e["type"]] = out.get(e["type"], 0) + 1
    return dict(sorted(out.items(), key=lambda x: -x[1]))


async def _post(server: Server, source: str) -> str:
    async with http_client(server) as http:
        return await post_run(http, {"files": {"main.py": source}})


def run(sizes: Sizes) -> Result:
    res = Result("classroom", f"Classroom: one run to {sizes.clients} WebSockets",
                 method=(f"One run that waits for a line on stdin, then for {sizes.class_s:g} s prints a line "
                         "every ~2 ms while a child writes a pipe every 10 ms that the parent reads (output, "
                         "pipe transfers, state changes: a few thousand events). "
                         f"{sizes.clients} WebSocket clients (the `websockets` library, asyncio, spread over "
                         f"{sizes.client_procs} processes) connect to /ws/runs/{{id}}; once every one has its first "
                         "frame, POST /api/runs/{id}/input sends the line. Each client stamps every frame on arrival. "
                         "Lost = sequence numbers 0..n−1 (n = the run's events from /api/runs/{id}/events) that a "
                         "client never got. Delay = arrival − (t0 + event `t`), t0 placed on CLOCK_MONOTONIC through "
                         "the anchor, for events that happened after the go. Alternative in the same benchmark: the "
                         "same run with one client."))
    with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": TOKEN}, name="classroom") as server:
        server.check_runs()
        one = broadcast(server, 1, 1, sizes.class_s)
        many = broadcast(server, sizes.clients, sizes.client_procs, sizes.class_s)
        in_room = broadcast(server, sizes.clients, sizes.client_procs, sizes.class_s, room=True)
    res.raw = {k: {kk: vv for kk, vv in v.items() if kk != "delay_ms"} for k, v in (("one", one), ("many", many))}
    d1, dn = summary(one["delay_ms"]), summary(many["delay_ms"])
    res.raw["many"]["delay_summary"] = dn
    res.raw["one"]["delay_summary"] = d1
    res.add("events in the run", many["events"], "", f"one-client run: {one['events']}")
    res.add("events lost (sum over clients)", many["lost"], "", f"duplicates: {many['duplicates']}; clients "
            f"missing any: {many['clients_missing_events']}; errors: {many['client_errors']}", "0",
            many["lost"] == 0 and many["client_errors"] == 0 and many["duplicates"] == 0)
    res.add("delivery delay, median", dn["median"], "ms", f"1 client: {d1['median']:.2f} ms")
    res.add("delivery delay, p99", dn["p99"], "ms", f"1 client: {d1['p99']:.2f} ms", "< 100 ms", dn["p99"] < 100)
    res.add("deliveries measured", many["deliveries"], "", f"in {many['frames']} frames")
    res.add("server CPU while broadcasting", many["server_cpu_share"] * 100, "% of a core",
            f"1 client: {one['server_cpu_share'] * 100:.0f} %")
    res.add("client processes' CPU", " + ".join(f"{c:.1f}" for c in many["client_cpu_s"]), "s",
            f"over {many['wall_s']:.1f} s")
    dr = summary(in_room["delay_ms"])
    res.raw["room"] = {k: v for k, v in in_room.items() if k != "delay_ms"}
    res.raw["room"]["delay_summary"] = dr
    res.add("room: events lost (sum over clients)", in_room["lost"], "",
            f"{sizes.clients} students on /ws/rooms/{{code}}, the run started by the instructor; duplicates: "
            f"{in_room['duplicates']}; errors: {in_room['client_errors']}", "0",
            in_room["lost"] == 0 and in_room["client_errors"] == 0 and in_room["duplicates"] == 0)
    res.add("room: delivery delay, median", dr["median"], "ms", f"run socket: {dn['median']:.2f} ms")
    res.add("room: delivery delay, p99", dr["p99"], "ms", f"run socket: {dn['p99']:.2f} ms", "< 100 ms",
            dr["p99"] < 100)
    return res
