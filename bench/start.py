"""1. start: POST /api/runs to the scenario's first output on the WebSocket, against a cold interpreter."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import time
from typing import Any

from . import scenarios
from .common import (
    ANCHOR,
    COOKIE_HEADER,
    GAP_S,
    PYTHON,
    Result,
    Server,
    Unavailable,
    Watch,
    http_client,
    interleaved,
    ms,
    post_run,
    raw_run,
    run_python,
    summary,
    watch,
)
from .rawclient import RawHttp
from .sizes import Sizes

# The same work as the cold command, plus a timestamp that splits the latency into its parts. The
# clock anchor comes after the first output, so it does not delay it.
FIRST = "import multiprocessing\nimport time\nprint('hi', time.monotonic_ns(), flush=True)\n"
SCENARIO = FIRST + ANCHOR + "print('A', _banchor, flush=True)\n"
COLD = "import multiprocessing; print('hi')"


async def one_start(server: Server, raw: RawHttp) -> dict[str, float]:
    """One run with the minimal client: POST, open the WebSocket as a browser does after the 201, wait for
    the first io.output."""
    run_id, t_post, t_created, w = await raw_run(server.port, raw, {"main.py": SCENARIO})
    return _parts(run_id, w, t_post, t_created)


async def one_start_httpx(server: Server, http: Any) -> dict[str, float]:
    """The same with httpx and the websockets library, whose own Python work is counted too."""
    t_post = time.monotonic_ns()
    run_id = await post_run(http, {"files": {"main.py": SCENARIO}})
    t_created = time.monotonic_ns()
    return _parts(run_id, await watch(server, run_id), t_post, t_created)


def _parts(run_id: str, w: Watch, t_post: int, t_created: int) -> dict[str, float]:
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
    started = next(e for e in events if e["type"] == "run.started")
    return {"total_ms": ms(at - t_post), "http_ms": ms(t_created - t_post), "ws_open_ms": ms(w.opened_ns - t_post),
            "to_print_ms": ms(printed - t_post), "print_to_client_ms": ms(at - printed),
            "post_to_t0_ms": ms(t0 - t_post), "t0_to_spawn_ms": ms(spawn), "spawn_to_print_ms": ms(printed - t0 - spawn),
            "warm": 1.0 if started.get("warm") else 0.0}


def cold_start(python: str) -> float:
    """A fresh interpreter: from spawning it to reading its first output line, in ms."""
    t0 = time.monotonic_ns()
    with subprocess.Popen([python, "-c", COLD], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as p:
        assert p.stdout is not None
        line = p.stdout.readline()
        t1 = time.monotonic_ns()
    if line.strip() != b"hi":
        raise RuntimeError(f"{python} printed {line!r}")
    return ms(t1 - t0)


async def measure(server: Server, n: int, colds: list[str]
                  ) -> tuple[list[dict[str, float]], list[dict[str, float]], dict[str, list[float]]]:
    """n starts through the server with each client, interleaved with n cold starts of each interpreter."""
    raw = RawHttp(server.port, COOKIE_HEADER)
    async with http_client(server) as http:
        runs, runs_httpx, *cold = await interleaved(n, [lambda: one_start(server, raw), lambda: one_start_httpx(server, http),
                                                        *[functools.partial(cold_start, py) for py in colds]])
    await raw.close()
    return runs, runs_httpx, dict(zip(colds, cold, strict=True))


def run(sizes: Sizes) -> Result:
    res = Result("start", "Start latency",
                 method=(f"{sizes.starts} runs of `{FIRST.strip()!r}` (then the clock anchor) one after another on an idle server. "
                         "Client clock: from writing POST /api/runs, through opening /ws/runs/{id} once the 201 "
                         "arrives (as the page does), to the arrival of the frame holding the first `io.output`. "
                         "The client is a minimal HTTP/1.1 + WebSocket client on asyncio streams "
                         "(bench/rawclient.py: a browser does this work natively, outside the page); the same "
                         "number of starts with httpx + websockets, alternating with them, is reported too. "
                         "Interleaved with the same number of cold starts of "
                         f"`python -c \"{COLD}\"` (from spawn to its first output line), with the interpreter "
                         "the sandbox runs scenarios with, and with the server's own interpreter. One warm-up "
                         f"of each is not counted; each measurement starts {GAP_S * 1000:.0f} ms after the previous "
                         "one ended (see the findings on cgroup attach for why)."))
    with Server(name="start") as server:
        server.check_runs()
        rpy = run_python(server)
        colds = [rpy] + ([PYTHON] if PYTHON != rpy else [])
        runs, runs_httpx, cold = asyncio.run(measure(server, sizes.starts, colds))
    total = summary([r["total_ms"] for r in runs])
    c = summary(cold[rpy])
    res.raw = {"runs": runs, "runs_httpx": runs_httpx, "cold": cold, "run_python": rpy}
    res.add("start, median", total["median"], "ms", f"cold `{rpy}`: {c['median']:.1f} ms (half: "
            f"{c['median'] / 2:.1f} ms)", "≤ ½ of the cold start", total["median"] <= c["median"] / 2)
    res.add("start, p90", total["p90"], "ms", f"cold: {c['p90']:.1f} ms")
    hx = summary([r["total_ms"] for r in runs_httpx])
    res.add("start with httpx + websockets as the client, median / p90", f"{hx['median']:.1f} / {hx['p90']:.1f}",
            "ms", "the same starts, with those libraries' own Python work counted")
    warm = sum(r["warm"] for r in runs + runs_httpx)
    res.add("starts served by a warm spare", f"{warm:.0f} of {len(runs) + len(runs_httpx)}", "")
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
