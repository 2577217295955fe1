"""1. start: POST /api/runs to the scenario's first output on the WebSocket, against a cold interpreter."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

from . import scenarios
from .common import (
    ANCHOR,
    PYTHON,
    Result,
    Server,
    Unavailable,
    http_client,
    ms,
    post_run,
    run_python,
    summary,
    watch,
)
from .sizes import Sizes

# The same work as the cold command, plus a timestamp that splits the latency into its parts. The
# clock anchor comes after the first output, so it does not delay it.
FIRST = "import multiprocessing\nimport time\nprint('hi', time.monotonic_ns(), flush=True)\n"
SCENARIO = FIRST + ANCHOR + "print('A', _banchor, flush=True)\n"
COLD = "import multiprocessing; print('hi')"


async def one_start(server: Server, http: Any) -> dict[str, float]:
    """One run: POST, open the WebSocket as a browser does after the 201, wait for the first io.output."""
    t_post = time.monotonic_ns()
    run_id = await post_run(http, {"files": {"main.py": SCENARIO}})
    t_created = time.monotonic_ns()
    w = await watch(server, run_id)
    first = None
    for at, ev in w.events():
        if ev["type"] == "io.output":
            first = (at, ev)
            break
        if ev["type"] == "run.finished":
            break
    if first is None:
        raise Unavailable(f"run {run_id} produced no output: {w.frames[-1][1][:300] if w.frames else 'no frames'}")
    at, ev = first
    printed = int(ev["text"].split()[1])
    events = [e for _, e in w.events()]
    t0, _err = scenarios.t0_of(events)
    spawn = next(e["t"] for e in events if e["type"] == "proc.spawn")
    return {"total_ms": ms(at - t_post), "http_ms": ms(t_created - t_post), "ws_open_ms": ms(w.opened_ns - t_post),
            "to_print_ms": ms(printed - t_post), "print_to_client_ms": ms(at - printed),
            "post_to_t0_ms": ms(t0 - t_post), "t0_to_spawn_ms": ms(spawn), "spawn_to_print_ms": ms(printed - t0 - spawn)}


def cold_start(python: str) -> float:
    """A fresh interpreter: from spawning it to reading its first output line, in ms."""
    t0 = time.monotonic_ns()
    p = subprocess.Popen([python, "-c", COLD], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout is not None
    line = p.stdout.readline()
    t1 = time.monotonic_ns()
    p.wait()
    if line.strip() != b"hi":
        raise RuntimeError(f"{python} printed {line!r}")
    return ms(t1 - t0)


# Pause before each measured start. Starts on a real server are seconds apart, and some costs depend on
# what happened just before: attaching a process to a cgroup waits for an RCU grace period unless another
# attach happened a moment ago. Back-to-back starts would measure a state a classroom never sees.
GAP_S = 0.2


async def measure(server: Server, n: int, colds: list[str]) -> tuple[list[dict[str, float]], dict[str, list[float]]]:
    """n starts through the server, interleaved with n cold starts of each interpreter in colds."""
    runs: list[dict[str, float]] = []
    cold: dict[str, list[float]] = {py: [] for py in colds}
    async with http_client(server) as http:
        await one_start(server, http)  # warm-up: first connection, first run of this launcher
        for py in colds:
            cold_start(py)
        for _ in range(n):
            await asyncio.sleep(GAP_S)
            runs.append(await one_start(server, http))
            for py in colds:
                await asyncio.sleep(GAP_S)
                cold[py].append(cold_start(py))
    return runs, cold


def run(sizes: Sizes) -> Result:
    res = Result("start", "Start latency",
                 method=(f"{sizes.starts} runs of `{FIRST.strip()!r}` (then the clock anchor) one after another on an idle server. "
                         "Client clock: from sending POST /api/runs, through opening /ws/runs/{id} once the 201 "
                         "arrives (as the page does), to the arrival of the frame holding the first `io.output`. "
                         "Interleaved with the same number of cold starts of "
                         f"`python -c \"{COLD}\"` (from spawn to its first output line), with the interpreter "
                         "the sandbox runs scenarios with, and with the server's own interpreter. One warm-up "
                         f"of each is not counted; each measurement starts {GAP_S * 1000:.0f} ms after the previous "
                         "one ended (see the findings on cgroup attach for why)."))
    with Server(name="start") as server:
        server.check_runs()
        rpy = run_python(server)
        colds = [rpy] + ([PYTHON] if PYTHON != rpy else [])
        runs, cold = asyncio.run(measure(server, sizes.starts, colds))
    total = summary([r["total_ms"] for r in runs])
    c = summary(cold[rpy])
    res.raw = {"runs": runs, "cold": cold, "run_python": rpy}
    res.add("start, median", total["median"], "ms", f"cold `{rpy}`: {c['median']:.1f} ms (half: "
            f"{c['median'] / 2:.1f} ms)", "≤ ½ of the cold start", total["median"] <= c["median"] / 2)
    res.add("start, p90", total["p90"], "ms", f"cold: {c['p90']:.1f} ms")
    for py in colds[1:]:
        s = summary(cold[py])
        res.add(f"cold start of `{py}` (server's venv), median / p90", f"{s['median']:.1f} / {s['p90']:.1f}", "ms")
    for key, label in (("http_ms", "POST → 201 at the client"), ("ws_open_ms", "POST → WebSocket open"),
                       ("post_to_t0_ms", "POST → supervisor's t=0"),
                       ("t0_to_spawn_ms", "t=0 → scenario process forked (proc.spawn t)"),
                       ("spawn_to_print_ms", "forked → scenario prints"),
                       ("print_to_client_ms", "print → frame at the client")):
        s = summary([r[key] for r in runs])
        res.add(f"part: {label}, median / p90", f"{s['median']:.2f} / {s['p90']:.2f}", "ms")
    return res
