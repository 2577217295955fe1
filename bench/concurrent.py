"""5. concurrent runs: many lesson runs started together; all finish, nothing lost, /healthz stays quick."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import HealthPoller, Result, Server, get_json, http_client, post_run, seq_problems, watch
from .sizes import Sizes


async def burst(server: Server, n: int) -> dict[str, Any]:
    """Start n lesson runs (the bundled lessons, cycled) at once, each watched over its WebSocket."""
    async with http_client(server) as http:
        lessons = [x["id"] for x in await get_json(http, "/api/lessons")]
        if not lessons:
            raise RuntimeError("the server has no lessons")
        t0 = time.monotonic()
        ids = await asyncio.gather(*(post_run(http, {"lesson": lessons[i % len(lessons)]}) for i in range(n)))
        watches = await asyncio.gather(*(watch(server, run_id) for run_id in ids))
        wall = time.monotonic() - t0
        stored = await asyncio.gather(*(get_json(http, f"/api/runs/{run_id}/events") for run_id in ids))
    runs = []
    for run_id, w, st in zip(ids, watches, stored, strict=True):
        events = [ev for _, ev in w.events()]
        fin = [e for e in events if e["type"] == "run.finished"]
        total = len(st)
        prob = seq_problems([e["seq"] for e in events], total)
        runs.append({"id": run_id, "lesson": next((e.get("lesson") for e in events if e["type"] == "run.started"),
                                                  None),
                     "finished": bool(fin), "status": fin[-1]["status"] if fin else None, **prob,
                     "queued": any(e["type"] == "run.queued" for e in events)})
    return {"runs": runs, "wall_s": wall, "lessons": len(lessons)}


def measure(server: Server, n: int) -> dict[str, Any]:
    with HealthPoller(server) as idle:
        time.sleep(2)
        idle_h = idle.stop()
    with HealthPoller(server) as busy:
        out = asyncio.run(burst(server, n))
        busy_h = busy.stop()
    return {**out, "health_idle": idle_h, "health_busy": busy_h}


def run(sizes: Sizes) -> Result:
    n = sizes.concurrent
    res = Result("concurrent", f"{n} lesson runs started together",
                 method=(f"{n} POST /api/runs with the bundled lessons (GET /api/lessons, cycled) sent at once, "
                         "each run followed on its own WebSocket until it closes. Every run must end with "
                         "`run.finished`, and each client must have received every seq 0..n−1 of its run "
                         "(n from /api/runs/{id}/events). Meanwhile a separate process polls /healthz every "
                         "20 ms on a kept-alive connection; the same poll for 2 s on the idle server is the "
                         "comparison. Done twice: with the default slot count (2 × cores: the rest queue) and "
                         f"with PROCLAB_MAX_CONCURRENT_RUNS={n} (all run at once)."))
    out: dict[str, Any] = {}
    for label, env in (("default slots", {}), (f"{n} slots", {"PROCLAB_MAX_CONCURRENT_RUNS": str(n)})):
        with Server(env=env, name="concurrent") as server:
            server.check_runs()
            slots = server.health.get("runs", {}).get("slots")
            m = measure(server, n)
        m["slots"] = slots
        out[label] = m
        runs = m["runs"]
        done = sum(r["finished"] for r in runs)
        lost = sum(r["missing"] + r["duplicates"] for r in runs)
        ok = sum(r["status"] == "ok" for r in runs)
        hb, hi = m["health_busy"], m["health_idle"]
        res.add(f"{label} ({slots}): runs finished", f"{done}/{n}", "",
                f"status ok: {ok}; queued at some point: {sum(r['queued'] for r in runs)}; all done in "
                f"{m['wall_s']:.1f} s", f"{n}/{n}", done == n)
        res.add(f"{label}: events lost or duplicated", lost, "", f"{sum(r['expected'] for r in runs)} events in all",
                "0", lost == 0)
        res.add(f"{label}: /healthz p99 while they run", hb["p99"], "ms",
                f"idle: {hi['p99']:.1f} ms; median {hb['median']:.1f} vs {hi['median']:.1f} ms; "
                f"{hb['n']} polls, {hb['errors']} errors", "< 200 ms", hb["p99"] < 200 and hb["errors"] == 0)
    res.raw = {k: {**v, "health_idle": {kk: vv for kk, vv in v["health_idle"].items() if kk != "latencies_ms"},
                   "health_busy": {kk: vv for kk, vv in v["health_busy"].items() if kk != "latencies_ms"}}
               for k, v in out.items()}
    return res
