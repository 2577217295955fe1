"""6. memory: the server idle, per open WebSocket, per active run (web side and sandbox side)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psutil

from . import scenarios
from .common import Result, Server, get_json_sync, host_pids, http_client, post_run, sync_client, watch
from .wsclients import ClientProcess

MiB = 2**20


def mem(pid: int) -> dict[str, float]:
    """RSS, USS (pages only this process has) and PSS (shared pages divided among their users), MiB."""
    m = psutil.Process(pid).memory_full_info()
    return {"rss": m.rss / MiB, "uss": m.uss / MiB, "pss": m.pss / MiB}


def settle(pid: int, seconds: float = 1.0) -> dict[str, float]:
    time.sleep(seconds)
    return mem(pid)


def wait_events(http: httpx.Client, run_id: str, kind: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = get_json_sync(http, f"/api/runs/{run_id}/events")
        if any(e["type"] == kind for e in events):
            return events
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id}: no {kind} in {timeout} s")


def measure(server: Server, n_ws: int, n_runs: int) -> dict[str, Any]:
    http = sync_client(server)
    web = server.pid
    launcher = int(server.health["launcher"]["pid"])
    # Warm up: one short run watched over a WebSocket, so that first-use allocations are not counted per item.
    asyncio.run(_watched(server, "print('warm')\n"))
    out: dict[str, Any] = {"idle_web": settle(web), "idle_launcher": mem(launcher)}
    out["spares"] = _spares(launcher)

    # Active runs: each a quiet process that sleeps; web side and sandbox side.
    time.sleep(0.5)
    before = settle(web)
    ids = [asyncio.run(_post(server, scenarios.long_sleep(25))) for _ in range(n_runs)]
    sides = []
    for rid in ids:
        events = wait_events(http, rid, "io.output")
        started = next(e for e in events if e["type"] == "run.started")
        sup, root = host_pids(started)
        sides.append({"supervisor": mem(sup), "scenario": mem(root)})
    after = settle(web)
    for rid in ids:
        http.post(f"/api/runs/{rid}/stop").raise_for_status()
    out["runs"] = {"n": n_runs, "before": before, "after": after, "sides": sides,
                   "web_per_run_kib": (after["rss"] - before["rss"]) * 1024 / n_runs}

    # Idle WebSockets: all on one long, quiet run.
    time.sleep(0.5)
    run_id = asyncio.run(_post(server, scenarios.long_sleep(25)))
    wait_events(http, run_id, "io.output")
    before = settle(web)
    with ClientProcess(f"{server.ws_base}/ws/runs/{run_id}", n_ws, server.tmp / "ws.pickle") as clients:
        clients.wait_ready(120)
        after = settle(web)
        http.post(f"/api/runs/{run_id}/stop").raise_for_status()
        clients.result(60)
    out["ws"] = {"n": n_ws, "before": before, "after": after,
                 "per_ws_kib": (after["rss"] - before["rss"]) * 1024 / n_ws}

    http.close()
    return out


def _spares(launcher: int) -> dict[str, Any]:
    """The idle launcher's children are its warm spares: each a small tree (the process outside the
    namespaces, the supervisor, the waiting root)."""
    spares = []
    for child in psutil.Process(launcher).children():
        tree = [child, *child.children(recursive=True)]
        spares.append({"procs": len(tree), "uss": sum(mem(p.pid)["uss"] for p in tree),
                       "pss": sum(mem(p.pid)["pss"] for p in tree)})
    return {"n": len(spares), "each": spares}


async def _watched(server: Server, source: str) -> None:
    await watch(server, await _post(server, source))


async def _post(server: Server, source: str) -> str:
    async with http_client(server) as http:
        return await post_run(http, {"files": {"main.py": source}})


def _avg(rows: list[dict[str, float]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def run(sizes) -> Result:  # type: ignore[no-untyped-def]
    res = Result("memory", "Memory",
                 method=("A fresh server. RSS, USS and PSS from /proc (psutil `memory_full_info`): the web "
                         "process (`python -m app serve`) and the launcher, idle after one warm-up run. Per "
                         f"WebSocket: {sizes.mem_ws} clients (another process) connected to one quiet long run; "
                         "(web RSS after − before) / count, each read 1 s after things settled. Per active run: "
                         f"{sizes.mem_runs} runs of a program that sleeps; web RSS growth per run, and each "
                         "run's supervisor and scenario process (USS: what the run really adds, as both are "
                         "forked and share pages with the launcher; PSS: its fair share of shared pages). "
                         "Per warm spare: the processes of each idle spare (USS and PSS summed)."))
    with Server(env={"PROCLAB_MAX_CONCURRENT_RUNS": str(max(4, sizes.mem_runs))}, name="memory") as server:
        m = measure(server, sizes.mem_ws, sizes.mem_runs)
    res.raw = m
    res.add("web process idle, RSS", m["idle_web"]["rss"], "MiB", f"USS {m['idle_web']['uss']:.1f} MiB")
    res.add("launcher idle, RSS", m["idle_launcher"]["rss"], "MiB", f"USS {m['idle_launcher']['uss']:.1f} MiB")
    res.add("per open WebSocket (web RSS)", m["ws"]["per_ws_kib"], "KiB",
            f"web RSS {m['ws']['before']['rss']:.1f} → {m['ws']['after']['rss']:.1f} MiB with {m['ws']['n']}")
    sp = m["spares"]
    if sp["n"]:
        res.add("per warm spare (idle), USS / PSS", f"{_avg(sp['each'], 'uss'):.1f} / {_avg(sp['each'], 'pss'):.1f}",
                "MiB", f"{sp['n']} spares of {sp['each'][0]['procs']} processes each, kept ready by the launcher")
    r = m["runs"]
    res.add("per active run, web side (RSS)", r["web_per_run_kib"], "KiB",
            f"web RSS {r['before']['rss']:.1f} → {r['after']['rss']:.1f} MiB with {r['n']} runs")
    sup = [s["supervisor"] for s in r["sides"]]
    scn = [s["scenario"] for s in r["sides"]]
    res.add("per active run, supervisor USS / PSS / RSS",
            f"{_avg(sup, 'uss'):.1f} / {_avg(sup, 'pss'):.1f} / {_avg(sup, 'rss'):.1f}", "MiB")
    res.add("per active run, scenario process USS / PSS / RSS",
            f"{_avg(scn, 'uss'):.1f} / {_avg(scn, 'pss'):.1f} / {_avg(scn, 'rss'):.1f}", "MiB",
            "a program that only sleeps")
    return res
