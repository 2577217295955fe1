"""The machine the numbers come from, and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Result

FINDINGS = Path(__file__).resolve().parent / "FINDINGS.md"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next((int(ln.split()[1]) for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), 0)
    virt = ""
    if shutil.which("systemd-detect-virt"):
        virt = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
    hz = ""
    try:
        import gzip

        with gzip.open("/proc/config.gz", "rt") as f:
            hz = next((ln.strip() for ln in f if ln.startswith("CONFIG_HZ=")), "")
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem_kb / 2**20, 1),
            "kernel": f"{platform.system()} {platform.release()} {platform.version()}", "virt": virt, "hz": hz,
            "python_bench": sys.version.split()[0], "python_path": sys.executable}


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (someone else's load while the benchmark waits), 0..1."""

    def snap() -> tuple[int, int]:
        f = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
        idle = f[3] + (f[4] if len(f) > 4 else 0)
        return sum(f), idle

    t1, i1 = snap()
    time.sleep(seconds)
    t2, i2 = snap()
    return 1 - (i2 - i1) / (t2 - t1) if t2 > t1 else 0.0


class OthersCpu:
    """CPU the rest of the machine used while a benchmark ran: all busy CPU time (/proc/stat) minus what
    this process and its waited-for descendants used (the servers, launchers, supervisors, runs and
    client processes all end within the benchmark and are reaped up the chain). In cores."""

    def __init__(self) -> None:
        self.t, self.busy, self.ours = time.monotonic(), self._busy(), self._ours()

    @staticmethod
    def _busy() -> float:
        f = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
        idle = f[3] + (f[4] if len(f) > 4 else 0)
        return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ours() -> float:
        import resource

        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t
        busy, ours = self._busy() - self.busy, self._ours() - self.ours
        return {"others_cores": max(0.0, busy - ours) / wall if wall else 0.0, "ours_cores": ours / wall if wall
                else 0.0}


def _shown(argv: list[str]) -> list[str]:
    """The command line without where its outputs went (--json, --out, --render and their paths)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--json", "--out", "--render"):
            skip = True
        elif not a.startswith(("--json=", "--out=", "--render=")):
            out.append(a)
    return out


def _mark(met: bool | None) -> str:
    return "" if met is None else ("**met**" if met else "**MISSED**")


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render(results: list[Result], info: dict[str, Any], health: dict[str, Any], argv: list[str],
           total_s: float, when: str | None = None) -> str:
    m = info
    launcher = health.get("launcher", {})
    out = ["# Benchmarks", "",
           "Written by `python -m bench` (the `bench/` package) from one run; every number "
           "below, and the one it is compared with, was measured in that run. Nothing here is edited by hand "
           "except the section *Profiles and diagnosis*, which comes from `bench/FINDINGS.md`.", "",
           f"Run on {when or time.strftime('%Y-%m-%d %H:%M %Z')}: `{' '.join(['python -m bench', *_shown(argv)])}`" +
           f", {total_s:.0f} s in all.", "",
           "## Machine", "",
           "| | |", "|---|---|",
           f"| CPU | {m['cpu']}, {m['cores']} cores (as the kernel sees them) |",
           f"| RAM | {m['ram_gib']} GiB |",
           f"| kernel | {m['kernel']}{' (' + m['hz'] + ')' if m['hz'] else ''} |",
           f"| virtualisation | {m['virt'] or 'unknown'} |",
           f"| Python (server, benchmark clients) | {m['python_bench']} (`{m['python_path']}`) |",
           f"| Python (runs: launcher, supervisors, scenarios) | {launcher.get('version', '?')} "
           f"(`{launcher.get('python', '?')}`) |",
           f"| sandbox layers active | {', '.join(health.get('active', [])) or '?'} |",
           "", "Everything runs on this one machine over loopback: the server, the sandboxed runs and the "
           "benchmark's clients share the same cores, so the clients' own CPU use is part of every figure "
           "(it is reported where it is large).", ""]
    busy = [(r.name, r.raw.get("_background_cpu"), r.raw.get("_others")) for r in results]
    if any(b is not None for _, b, _o in busy):
        out += ["Other programs on the machine (the same two cores): before each benchmark the suite waits up to "
                "20 s for them to use under 20 % of the CPUs. Measured: their share of all CPUs in the last "
                "second before the benchmark, and the cores used *during* it by anything but the suite's own "
                "processes (all busy CPU time minus the CPU time of the suite, its servers and everything they "
                "ran; an upper bound, as kernel threads working for the suite count here too):", "",
                "| benchmark | others before | others during | the suite during |", "|---|---|---|---|"]
        for n, b, o in busy:
            o = o or {}
            out.append(f"| {n} | {b:.0%} | {o.get('others_cores', float('nan')):.2f} cores | "
                       f"{o.get('ours_cores', float('nan')):.2f} cores |" if b is not None else f"| {n} | | | |")
        out.append("")
    out += ["## Targets", "", "Every figure that has a target; the sections below have all the figures.", "",
            "| benchmark | figure | value | compared with (same run) | target | |",
            "|---|---|---|---|---|---|"]
    for r in results:
        if r.error:
            out.append(f"| {r.name} | — | not measured: {_cell(r.error)} | | | **ERROR** |")
            continue
        for f in r.figures:
            if f.target:
                out.append(f"| {r.name} | {_cell(f.name)} | {_cell(f.fmt())} | {_cell(f.alternative)} | "
                           f"{_cell(f.target)} | {_mark(f.met)} |")
    missed = [(r, f) for r in results for f in r.figures if f.met is False]
    out += [""]
    if missed:
        def others(r: Result) -> str:
            o = r.raw.get("_others")
            return f"; other programs used {o['others_cores']:.2f} cores meanwhile" if o else ""

        out += ["**Targets missed in this run:** " + "; ".join(
            f"{r.name}: {f.name} = {f.fmt()} (target {f.target}{others(r)})" for r, f in missed) + ".", ""]
    else:
        out += ["Every target was met in this run.", ""]
    for i, r in enumerate(results, 1):
        out += [f"## {i}. {r.title} (`python -m bench {r.name}`)", "", f"Method: {r.method}", ""]
        if r.error:
            out += [f"Not measured: {r.error}", ""]
            continue
        out += ["| figure | value | compared with (same run) | target | |", "|---|---|---|---|---|"]
        for f in r.figures:
            out.append(f"| {_cell(f.name)} | {_cell(f.fmt())} | {_cell(f.alternative)} | {_cell(f.target)} | "
                       f"{_mark(f.met)} |")
        out += [""] + [f"- {n}" for n in r.notes] + ([""] if r.notes else [])
        out += [f"({r.seconds:.0f} s)", ""]
    out += ["## Statistics", "",
            "Median and percentiles use linear interpolation between the closest ranks (numpy's default); "
            "with fewer than 100 samples a p99 is close to the maximum. Client-side times are "
            "`time.monotonic_ns()` (CLOCK_MONOTONIC, the clock the supervisor and the scenarios use too). "
            "A run's t=0 is placed on that clock by a clock anchor: the scenario stamps the time before and "
            "after three `os.write` calls to a pipe, which the shim reports with its own time stamp; the "
            "printed lines bound it from the other side (the supervisor reads a line after it was printed). "
            "The remaining uncertainty is given where it matters.", ""]
    if FINDINGS.exists():
        out += [FINDINGS.read_text().rstrip(), ""]
    return "\n".join(out)


def write(text: str, path: Path | None = None) -> Path:
    path = path or ROOT / "docs" / "benchmarks.md"
    path.write_text(text)
    return path
