"""`python -m bench.profiles NAME`: profile what a missed target points at, with py-spy.

Names: `sampler` (the supervisor of a 10-process run and of a 1-process run), `classroom` (the web
process while one run is broadcast to 200 WebSockets), `start` (the web process during 30 starts).
py-spy samples the running process from outside (no change to it); it is in the `test` extra.
Prints the functions with the most samples: own (the function itself was running) and total (it or
what it called). bench/FINDINGS.md records what these showed.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import scenarios
from .common import PYTHON, Server, host_pids, http_client, parse_frame, post_run, watch


def pyspy() -> str:
    exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(exe).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy (it is in the test extra)")
    return exe


class Profile:
    """py-spy record on one pid until stopped; then the top functions."""

    def __init__(self, pid: int, rate: int = 1000, idle: bool = False) -> None:
        self.out = Path(tempfile.mkstemp(suffix=".txt")[1])
        cmd = [pyspy(), "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(self.out), "--function"]
        if idle:
            cmd.append("--idle")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)

    def stop(self) -> dict[str, Any]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        n = 0
        for line in self.out.read_text().splitlines() if self.out.exists() else []:
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            c = int(count)
            frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            n += c
            own[frames[-1]] += c
            for f in set(frames):
                total[f] += c
        self.out.unlink(missing_ok=True)
        return {"samples": n, "own": own.most_common(25), "total": total.most_common(40)}


def show(title: str, prof: dict[str, Any], extra: str = "") -> None:
    n = prof["samples"] or 1
    print(f"\n### {title}: {prof['samples']} samples{extra}")
    print("own:")
    for f, c in prof["own"]:
        print(f"  {c / n:6.1%}  {f}")
    print("total:")
    for f, c in prof["total"]:
        print(f"  {c / n:6.1%}  {f}")


async def _sampler_run(server: Server, n: int, seconds: float) -> dict[str, Any]:
    async with http_client(server) as http:
        run_id = await post_run(http, {"files": {"main.py": scenarios.many_idle(n, seconds)}})
    holder: dict[str, Any] = {}

    def on_frame(_at: int, text: str) -> None:
        if "started" not in holder and '"run.started"' in text:
            holder["started"] = next(e for e in parse_frame(text) if e["type"] == "run.started")
        if "prof" not in holder and '"READY\\n"' in text:
            sup, _root = host_pids(holder["started"])
            holder["prof"] = Profile(sup)
        if "prof" in holder and "result" not in holder and '"END\\n"' in text:
            holder["result"] = holder["prof"].stop()

    await watch(server, run_id, on_frame=on_frame)
    return holder["result"]


def sampler() -> None:
    with Server(name="profile") as server:
        for n in (10, 1):
            prof = asyncio.run(_sampler_run(server, n, 4.0))
            show(f"supervisor of a run with {n} process(es), 4 s, 1000 Hz (busy samples only)", prof)


def classroom() -> None:
    from .classroom import broadcast

    with Server(name="profile") as server:
        prof = Profile(server.pid)
        out = broadcast(server, 200, 2, 5.0)
        res = prof.stop()
    show("web process, one run broadcast to 200 WebSockets", res,
         f" (server CPU {out['server_cpu_share']:.0%} of a core)")


def start() -> None:
    from .start import one_start

    async def many(server: Server) -> None:
        async with http_client(server) as http:
            for _ in range(30):
                await one_start(server, http)

    with Server(name="profile") as server:
        asyncio.run(many(server))  # warm
        prof = Profile(server.pid)
        asyncio.run(many(server))
        res = prof.stop()
    show("web process during 30 starts", res)


def main() -> None:
    names = {"sampler": sampler, "classroom": classroom, "start": start}
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        raise SystemExit(f"usage: python -m bench.profiles {{{','.join(names)}}}")
    names[sys.argv[1]]()


if __name__ == "__main__":
    main()
