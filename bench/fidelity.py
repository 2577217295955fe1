"""3. fidelity: short ground-truth phases, ready time of pinned spinners, the sampler's CPU cost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import scenarios
from .common import (
    Result,
    Server,
    host_pids,
    http_client,
    ms,
    parse_frame,
    pct,
    post_run,
    proc_cpu_ns,
    summary,
    watch,
)
from .sizes import Sizes


async def events_of(server: Server, source: str | dict[str, str]) -> list[dict[str, Any]]:
    files = source if isinstance(source, dict) else {"main.py": source}
    async with http_client(server) as http:
        run_id = await post_run(http, {"files": files})
    w = await watch(server, run_id)
    return [ev for _, ev in w.events()]


def phase_stats(events: list[dict[str, Any]]) -> dict[str, Any]:
    phases, _t0, err = scenarios.match_phases(events)
    phases = phases[1:]  # phase 0 follows the scenario's start-up, not a ground-truth transition
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in scenarios.KINDS}
    delays = []
    wrong = 0
    for ph in phases:
        by_kind[ph.kind][1] += 1
        wrong += ph.wrong
        if ph.event_abs is not None:
            by_kind[ph.kind][0] += 1
            delays.append(ms(ph.event_abs - ph.start))
    n = len(phases)
    hit = sum(v[0] for v in by_kind.values())
    return {"phases": n, "detected": hit, "share": hit / n if n else float("nan"),
            "by_kind": {k: v[0] / v[1] if v[1] else float("nan") for k, v in by_kind.items()},
            "delay_ms": delays, "wrong_events": wrong, "t0_uncertainty_us": err / 1e3}


def short_lived_stats(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind of short-lived process started from C: the share that got proc.spawn (and proc.exit with its
    code), and the delay from the parent's clock before fork/posix_spawn to the proc.spawn event's t."""
    t0, _err = scenarios.t0_of(events)
    spawns = {e["pid"]: e for e in events if e["type"] == "proc.spawn"}
    exits = {e["pid"]: e for e in events if e["type"] == "proc.exit"}
    execs = {e["pid"] for e in events if e["type"] == "proc.exec"}
    by: dict[str, dict[str, Any]] = {}
    for parts in scenarios.lines(events, "C"):
        pid, t_ns, label = int(parts[1]), int(parts[2]), parts[3]
        row = by.setdefault(label, {"n": 0, "spawned": 0, "exited": 0, "exec": 0, "delay_ms": []})
        row["n"] += 1
        if pid in spawns:
            row["spawned"] += 1
            row["delay_ms"].append(ms(t0 + spawns[pid]["t"] - t_ns))
        if pid in exits and exits[pid]["code"] == 0:
            row["exited"] += 1
        row["exec"] += pid in execs
    return by


def ready_stats(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per spinner: the share of its spin the events call `ready`, against schedstat's run-queue share."""
    t0, _err = scenarios.t0_of(events)
    rows = []
    ready_events = 0
    for parts in scenarios.lines(events, "S"):
        pid, a, b, run_ns, wait_ns = (int(x) for x in parts[1:])
        states = [e for e in events if e["type"] == "proc.state" and e.get("pid") == pid]
        ready_events += sum(1 for e in states if e["state"] == "ready" and a <= t0 + e["t"] <= b)
        # Time-weighted state over [a, b] from the event timeline.
        cur = None
        for e in states:
            if t0 + e["t"] <= a:
                cur = e["state"]
        spans: dict[str, int] = {}
        last = a
        for e in states:
            at = t0 + e["t"]
            if a < at < b:
                if cur is not None:
                    spans[cur] = spans.get(cur, 0) + at - last
                cur, last = e["state"], at
        if cur is not None:
            spans[cur] = spans.get(cur, 0) + b - last
        total = b - a
        rows.append({"pid": pid, "shown_ready": spans.get("ready", 0) / total,
                     "shown_running": spans.get("running", 0) / total,
                     "kernel_wait": wait_ns / (run_ns + wait_ns) if run_ns + wait_ns else 0.0,
                     "kernel_run": run_ns / total})
    return {"spinners": rows, "ready_events": ready_events}


async def supervisor_cost(server: Server, source: str) -> dict[str, Any]:
    """Supervisor CPU (schedstat of init_pid) between the READY and END lines, read as they arrive."""
    async with http_client(server) as http:
        run_id = await post_run(http, {"files": {"main.py": source}})
    marks: dict[str, tuple[int, int | None]] = {}
    started: list[dict[str, Any]] = []
    init_pid: list[int] = []

    def on_frame(at: int, text: str) -> None:
        if not started and '"run.started"' in text:
            started.extend(ev for ev in parse_frame(text) if ev["type"] == "run.started")
        for key in ("READY", "END"):
            if key not in marks and f'"{key}\\n"' in text and started:
                if not init_pid:  # found now, when the root surely runs as the run's uid
                    init_pid.append(host_pids(started[0])[0])
                    at = time.monotonic_ns()
                marks[key] = (at, proc_cpu_ns(init_pid[0]))

    await watch(server, run_id, on_frame=on_frame)
    (a, ca), (b, cb) = marks["READY"], marks["END"]
    if ca is None or cb is None:
        raise RuntimeError("could not read the supervisor's schedstat")
    return {"cpu_ms": ms(cb - ca), "wall_ms": ms(b - a), "share": (cb - ca) / (b - a)}


def run(sizes: Sizes) -> Result:
    res = Result("fidelity", "Fidelity of the observed states, ready time, sampler cost",
                 method=("Ground-truth phases as in the delay benchmark (busy → sleep → blocked reading a pipe), "
                         f"{sizes.fid_cycles_20} cycles of 20 ms phases and {sizes.fid_cycles_5} cycles of 5 ms "
                         "phases, one run each. A phase is *detected* when a `proc.state` event of the root "
                         "process naming its state (busy: running or ready; sleep: blocked with reason sleep; "
                         "pipe: blocked with reason pipe_read) is stamped inside the phase (up to 1 ms after "
                         "its end, the time to stamp a sample). Delay = event `t` placed on CLOCK_MONOTONIC "
                         "through the anchor − the scenario's own timestamp of the transition (no transport). "
                         f"Ready: {sizes.spinners} processes pinned with `os.sched_setaffinity` to one CPU spin "
                         f"for {sizes.spin_s:g} s; each prints its own `/proc/self/schedstat` over the spin "
                         "(time on CPU, time waiting in the run queue), compared with the share of the spin the "
                         "events show it `ready`. Sampler cost: the supervisor's CPU time (`/proc/INIT_PID/"
                         "schedstat`, read by the client when the READY and END lines arrive) over "
                         f"{sizes.cost_s:g} s of a run with {sizes.cost_procs} processes (half sleeping, half "
                         "blocked on a pipe), against a run with one process doing the same. Short-lived processes "
                         f"started from C: a C program (built in the run) forks {sizes.short_lived} children each "
                         "that live 1, 5 and 20 ms (`usleep`, `_exit`), then starts `true` with `posix_spawnp` "
                         f"{sizes.short_lived} times, one at a time; each is *reported* when a `proc.spawn` names "
                         "its pid; delay = the spawn event's `t` on CLOCK_MONOTONIC − the parent's clock just "
                         "before `fork`/`posix_spawnp`."))
    with Server(name="fidelity") as server:
        server.check_runs()
        ev20 = asyncio.run(events_of(server, scenarios.phases(20, sizes.fid_cycles_20)))
        ev5 = asyncio.run(events_of(server, scenarios.phases(5, sizes.fid_cycles_5)))
        evs = asyncio.run(events_of(server, scenarios.spinners(sizes.spinners, sizes.spin_s)))
        cost_n = asyncio.run(supervisor_cost(server, scenarios.many_idle(sizes.cost_procs, sizes.cost_s)))
        cost_1 = asyncio.run(supervisor_cost(server, scenarios.many_idle(1, sizes.cost_s)))
        evc = asyncio.run(events_of(server, scenarios.short_lived_c(sizes.short_lived)))
    f20, f5 = phase_stats(ev20), phase_stats(ev5)
    rd = ready_stats(evs)
    short = short_lived_stats(evc)
    res.raw = {"phases_20ms": f20, "phases_5ms": f5, "ready": rd, "cost_n": cost_n, "cost_1": cost_1,
               "short_lived_c": short}
    for label, f in (("20 ms", f20), ("5 ms", f5)):
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in f["by_kind"].items())
        res.add(f"{label} phases detected", f"{f['share']:.0%} ({f['detected']}/{f['phases']})", "",
                kinds)
        d = summary(f["delay_ms"])
        res.add(f"{label} phases: transition → event t, median / p99", f"{d['median']:.2f} / {d['p99']:.2f}", "ms",
                f"{f['wrong_events']} events named another state inside a phase")
    spin = rd["spinners"]
    shown = [r["shown_ready"] for r in spin]
    kernel = [r["kernel_wait"] for r in spin]
    res.add("ready reported for pinned spinners", "yes" if rd["ready_events"] else "no", "",
            f"{rd['ready_events']} ready events; {sum(1 for r in spin if r['shown_ready'] > 0)}/{len(spin)} "
            "spinners shown ready", "ready is reported", rd["ready_events"] > 0)
    res.add("share of the spin shown ready (median over spinners)", f"{pct(shown, 50):.0%}", "",
            f"kernel run-queue wait share: {pct(kernel, 50):.0%}")
    n = sizes.cost_procs
    per = (cost_n["share"] - cost_1["share"]) / (n - 1) if n > 1 else float("nan")
    res.add(f"supervisor CPU, {n} processes", cost_n["share"] * 100, "% of a core",
            f"1 process: {cost_1['share'] * 100:.2f} %", "< 5 % of a core", cost_n["share"] < 0.05)
    res.add("supervisor CPU per extra process", per * 100, "% of a core")
    for label, row in short.items():
        n = row["n"]
        share = row["spawned"] / n if n else float("nan")
        d = summary(row["delay_ms"]) if row["delay_ms"] else {"median": float("nan"), "p99": float("nan")}
        res.add(f"C-started process ({label}) reported", f"{share:.0%} ({row['spawned']}/{n})", "",
                f"with exit code {row['exited']}/{n}; with exec {row['exec']}/{n}", "100 %",
                row["spawned"] == n)
        res.add(f"C-started process ({label}): start → proc.spawn t, median / p99",
                f"{d['median']:.2f} / {d['p99']:.2f}", "ms")
    res.notes.append(f"t0 anchor uncertainty ±{max(f20['t0_uncertainty_us'], f5['t0_uncertainty_us']):.0f} µs.")
    return res
