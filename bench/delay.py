"""2. event delay: a real state change in the scenario to the arrival of its proc.state on the WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

from . import scenarios
from .common import Result, Server, http_client, ms, post_run, summary, watch
from .sizes import Sizes


async def one(server: Server, phase_ms: float, cycles: int) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    async with http_client(server) as http:
        run_id = await post_run(http, {"files": {"main.py": scenarios.phases(phase_ms, cycles)}})
    w = await watch(server, run_id)
    return w.events(), w.opened_ns


def analyse(timed: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    events = [ev for _, ev in timed]
    arrival = {ev["seq"]: at for at, ev in timed}
    phases, t0, err = scenarios.match_phases(events)
    state_delay, sample_delay, out_delay = [], [], []
    missed = 0
    marks_out: dict[int, int] = {}
    for at, ev in timed:  # the frame that carried each mark line
        if ev["type"] == "io.output":
            for ln in ev["text"].splitlines():
                if ln.startswith("M "):
                    marks_out[int(ln.split()[1])] = at
    for ph in phases[1:]:  # phase 0 follows the scenario's start-up, not a ground-truth transition
        if ph.index in marks_out:
            out_delay.append(ms(marks_out[ph.index] - ph.start))
        if ph.event is None or ph.event_abs is None:
            missed += 1
            continue
        state_delay.append(ms(arrival[ph.event["seq"]] - ph.start))
        sample_delay.append(ms(ph.event_abs - ph.start))
    return {"state_ms": state_delay, "sample_ms": sample_delay, "output_ms": out_delay, "missed": missed,
            "transitions": len(phases) - 1, "t0_uncertainty_us": err / 1e3}


def run(sizes: Sizes) -> Result:
    ph = sizes.delay_phase_ms
    res = Result("delay", "Event delay (transition → proc.state at the client)",
                 method=(f"One run of a ground-truth scenario: busy {ph} ms → sleep {ph} ms → blocked reading a "
                         f"pipe {ph} ms, {sizes.delay_cycles} cycles, on a fixed schedule; a child writes the pipe "
                         "at the end of each pipe phase. At each transition the scenario takes "
                         "`time.monotonic_ns()` and prints it. The client (same machine, same CLOCK_MONOTONIC) "
                         "stamps each WebSocket frame on arrival. Delay = arrival of the first `proc.state` of the "
                         "root process naming the new state (running; blocked/sleep; blocked/pipe_read) − the "
                         "scenario's timestamp. The event is picked by its `t`, placed on CLOCK_MONOTONIC through "
                         "the clock anchor (see Statistics). Alternative in the "
                         "same run: arrival of the frame with the printed mark (the output path, no sampling)."))
    with Server(name="delay") as server:
        server.check_runs()
        timed, _ = asyncio.run(one(server, ph, sizes.delay_cycles))
    a = analyse(timed)
    res.raw = a
    s, o, smp = summary(a["state_ms"]), summary(a["output_ms"]), summary(a["sample_ms"])
    res.add("delay, median", s["median"], "ms", f"output line: {o['median']:.2f} ms", "≤ 10 ms",
            s["median"] <= 10)
    res.add("delay, p99", s["p99"], "ms", f"output line: {o['p99']:.2f} ms", "≤ 50 ms", s["p99"] <= 50)
    res.add("part: transition → event stamped by the sampler, median / p99",
            f"{smp['median']:.2f} / {smp['p99']:.2f}", "ms")
    res.add("transitions seen / measured", f"{a['transitions'] - a['missed']} / {a['transitions']}")
    res.notes.append(f"t0 anchor uncertainty ±{a['t0_uncertainty_us']:.1f} µs.")
    return res
