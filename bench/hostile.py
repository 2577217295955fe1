"""7. hostile containment: fork bomb to containment, /healthz under four hostile runs, cost of the layers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from .common import (
    COOKIE_HEADER,
    HOSTILE,
    HealthPoller,
    Result,
    Server,
    http_client,
    ms,
    post_run,
    summary,
    watch,
)
from .rawclient import RawHttp
from .sizes import Sizes
from .start import GAP_S, one_start

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


# Server configurations for the layer comparison: (label, PROCLAB_DISABLE_LAYERS).
LAYER_CONFIGS = (("every layer", ""), ("without seccomp and Landlock", "seccomp,landlock"),
                 ("without the cgroup", "cgroup"), ("without namespaces", "namespaces"),
                 ("without all four", "seccomp,landlock,namespaces,cgroup"))


async def layer_starts(servers: list[Server], n: int) -> list[list[dict[str, float]]]:
    """n starts on each server, round-robin, so that drift in the machine's load hits all alike."""
    out: list[list[dict[str, float]]] = [[] for _ in servers]
    clients = [RawHttp(s.port, COOKIE_HEADER) for s in servers]
    try:
        for s, h in zip(servers, clients, strict=True):
            await one_start(s, h)
        for _ in range(n):
            for i, (s, h) in enumerate(zip(servers, clients, strict=True)):
                await asyncio.sleep(GAP_S)
                out[i].append(await one_start(s, h))
    finally:
        for h in clients:
            await h.close()
    return out


def run(sizes: Sizes) -> Result:
    res = Result("hostile", "Hostile programs",
                 method=(f"Containment: `01_fork_bomb.py` from shared/hostile run {sizes.bombs} times, one after "
                         "another; its `run.limit` event's `t` (ns since the run's t=0, which precedes the "
                         "scenario's fork) is the time to containment; `run.finished` `t` adds the teardown that "
                         f"verifies nothing is left. Under attack: {', '.join(FOUR)} kept running together, each "
                         f"restarted as soon as it ends, for {sizes.hostile_s:g} s, while another process polls "
                         "/healthz every 20 ms; compared with the same poll for 2 s before, on the idle server. "
                         f"Layers: the start benchmark, {sizes.layer_starts} starts on each of five servers in turn "
                         "(round-robin, each start "
                         f"{GAP_S * 1000:.0f} ms after the previous one ended): the default one, and ones started "
                         "with PROCLAB_DISABLE_LAYERS=seccomp,landlock; cgroup; namespaces; all four."))
    with Server(name="hostile") as server:
        server.check_runs()
        b = asyncio.run(bombs(server, sizes.bombs))
        with HealthPoller(server) as idle:
            time.sleep(2)
            hi = idle.stop()
        with HealthPoller(server) as busy:
            four = asyncio.run(keep_four(server, sizes.hostile_s))
            hb = busy.stop()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(Server(env={"PROCLAB_DISABLE_LAYERS": off} if off else {}, name="layers"))
                   for _label, off in LAYER_CONFIGS]
        for s in servers:
            s.check_runs()
        starts = asyncio.run(layer_starts(servers, sizes.layer_starts))
        active = [s.health.get("active") for s in servers]
    res.raw = {"bombs": b, "four": four, "health_idle": {k: v for k, v in hi.items() if k != "latencies_ms"},
               "health_busy": {k: v for k, v in hb.items() if k != "latencies_ms"},
               "layers": [{"label": label, "disabled": off, "active": act, "starts": st}
                          for (label, off), act, st in zip(LAYER_CONFIGS, active, starts, strict=True)]}
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
    def parts(st: list[dict[str, float]]) -> str:
        return ", ".join(f"{label} {summary([x[key] for x in st])['median']:.1f}" for key, label in (
            ("post_to_t0_ms", "POST→t0"), ("t0_to_spawn_ms", "t0→fork"), ("spawn_to_print_ms", "fork→print")))

    full = summary([x["total_ms"] for x in starts[0]])
    res.add("start with every layer, median / p90", f"{full['median']:.1f} / {full['p90']:.1f}", "ms",
            f"medians of the parts (ms): {parts(starts[0])}")
    for (label, _off), st in zip(LAYER_CONFIGS[1:], starts[1:], strict=True):
        layer = summary([x["total_ms"] for x in st])
        res.add(f"start {label}, median / p90", f"{layer['median']:.1f} / {layer['p90']:.1f}", "ms",
                f"every layer: {full['median'] - layer['median']:+.1f} ms; parts: {parts(st)}")
    res.notes.append("Layers active per configuration: " + "; ".join(
        f"{label}: {', '.join(act or [])}" for (label, _off), act in zip(LAYER_CONFIGS, active, strict=True)) + ".")
    return res
