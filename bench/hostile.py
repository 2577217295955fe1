"""7. hostile containment: fork bomb to containment, /healthz under four hostile runs, cost of the layers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import HOSTILE, HealthPoller, Result, Server, http_client, ms, post_run, summary, watch
from .sizes import Sizes
from .start import one_start

FOUR = ("01_fork_bomb.py", "06_memory_bomb.py", "07_output_flood.py", "13_thread_bomb.py")


def source(name: str) -> str:
    path = HOSTILE / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (the hostile programs live in shared/hostile)")
    return path.read_text()


async def hostile_run(server: Server, http: Any, name: str) -> dict[str, Any]:
    run_id = await post_run(http, {"files": {"main.py": source(name)}})
    w = await watch(server, run_id)
    events = [ev for _, ev in w.events()]
    limit = next((e for e in events if e["type"] == "run.limit"), None)
    fin = next((e for e in events if e["type"] == "run.finished"), None)
    spawn = next((e for e in events if e["type"] == "proc.spawn"), None)
    spawns = sum(1 for e in events if e["type"] == "proc.spawn")
    return {"name": name, "limit": limit["limit"] if limit else None, "limit_t_ms": ms(limit["t"]) if limit else None,
            "root_spawn_ms": ms(spawn["t"]) if spawn else None, "finished_ms": ms(fin["t"]) if fin else None,
            "status": fin["status"] if fin else None, "stats": fin.get("stats") if fin else None,
            "spawn_events": spawns, "events": len(events)}


async def bombs(server: Server, n: int) -> list[dict[str, Any]]:
    async with http_client(server) as http:
        return [await hostile_run(server, http, "01_fork_bomb.py") for _ in range(n)]


async def keep_four(server: Server, seconds: float) -> list[dict[str, Any]]:
    """Keep the four hostile programs running (each restarted as soon as it ends) for `seconds`."""
    end = time.monotonic() + seconds
    out: list[dict[str, Any]] = []

    async def loop(name: str) -> None:
        async with http_client(server) as http:
            while time.monotonic() < end:
                out.append(await hostile_run(server, http, name))

    await asyncio.gather(*(loop(name) for name in FOUR))
    return out


async def layer_starts(a: Server, b: Server, n: int) -> tuple[list[float], list[float]]:
    ta: list[float] = []
    tb: list[float] = []
    async with http_client(a) as ha, http_client(b) as hb:
        await one_start(a, ha)
        await one_start(b, hb)
        for _ in range(n):
            ta.append((await one_start(a, ha))["total_ms"])
            tb.append((await one_start(b, hb))["total_ms"])
    return ta, tb


def run(sizes: Sizes) -> Result:
    res = Result("hostile", "Hostile programs",
                 method=(f"Containment: `01_fork_bomb.py` from shared/hostile run {sizes.bombs} times, one after "
                         "another; its `run.limit` event's `t` (ns since the run's t=0, which precedes the "
                         "scenario's fork) is the time to containment; `run.finished` `t` adds the teardown that "
                         f"verifies nothing is left. Under attack: {', '.join(FOUR)} kept running together, each "
                         f"restarted as soon as it ends, for {sizes.hostile_s:g} s, while another process polls "
                         "/healthz every 20 ms; compared with the same poll for 2 s before, on the idle server. "
                         f"Layers: the start benchmark, {sizes.layer_starts} starts each, alternating between a "
                         "default server and one with PROCLAB_DISABLE_LAYERS=seccomp,landlock."))
    with Server(name="hostile") as server:
        server.check_runs()
        b = asyncio.run(bombs(server, sizes.bombs))
        with HealthPoller(server) as idle:
            time.sleep(2)
            hi = idle.stop()
        with HealthPoller(server) as busy:
            four = asyncio.run(keep_four(server, sizes.hostile_s))
            hb = busy.stop()
    with Server(name="layers-all") as full, Server(env={"PROCLAB_DISABLE_LAYERS": "seccomp,landlock"},
                                                   name="layers-less") as less:
        full.check_runs()
        less.check_runs()
        t_full, t_less = asyncio.run(layer_starts(full, less, sizes.layer_starts))
        layers_full, layers_less = full.health.get("active"), less.health.get("active")
    res.raw = {"bombs": b, "four": four, "health_idle": {k: v for k, v in hi.items() if k != "latencies_ms"},
               "health_busy": {k: v for k, v in hb.items() if k != "latencies_ms"}, "starts_full": t_full,
               "starts_less": t_less, "layers_full": layers_full, "layers_less": layers_less}
    lim = [x["limit_t_ms"] for x in b if x["limit_t_ms"] is not None]
    fin = [x["finished_ms"] for x in b if x["finished_ms"] is not None]
    sl, sf = summary(lim), summary(fin)
    limits = sorted({str(x["limit"]) for x in b})
    res.add("fork bomb: t=0 → run.limit, median / max", f"{sl['median']:.0f} / {sl['max']:.0f}", "ms",
            f"limit: {', '.join(limits)}; contained {len(lim)}/{len(b)}",
            "contained", len(lim) == len(b) and limits == ["processes"])
    res.add("fork bomb: t=0 → run.finished (torn down, verified), median / max",
            f"{sf['median']:.0f} / {sf['max']:.0f}", "ms",
            f"processes seen: {', '.join(str((x['stats'] or {}).get('processes')) for x in b)}")
    kinds: dict[str, list[dict[str, Any]]] = {}
    for x in four:
        kinds.setdefault(x["name"], []).append(x)
    detail = "; ".join(f"{k}: {len(v)} runs, {'/'.join(sorted({str(x['limit']) for x in v}))}" for k, v in kinds.items())
    res.add("/healthz p99 under four hostile runs", hb["p99"], "ms",
            f"idle: {hi['p99']:.1f} ms; median {hb['median']:.1f} vs {hi['median']:.1f} ms; {hb['n']} polls, "
            f"{hb['errors']} errors")
    res.notes.append(f"Hostile runs during the /healthz measurement: {detail}.")
    a, c = summary(t_full), summary(t_less)
    res.add("start with every layer, median / p90", f"{a['median']:.1f} / {a['p90']:.1f}", "ms",
            f"without seccomp and Landlock: {c['median']:.1f} / {c['p90']:.1f} ms")
    res.add("cost of seccomp + Landlock per start (difference of medians)", a["median"] - c["median"], "ms")
    res.notes.append(f"Layers active: default server {layers_full}; the other {layers_less}.")
    return res
