"""Many WebSocket clients of one run, in a process of their own.

`python -m bench.wsclients URL N OUT`: opens N WebSockets to URL, prints `ready` once every one has
received its first frame, keeps (seq, t, arrival ns) of every event each one receives until the
server closes it, and writes them to OUT (a pickle). Arrival is stamped before a frame is parsed.
"""

from __future__ import annotations

import array
import asyncio
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from .common import COOKIE_HEADER, PYTHON, ROOT, parse_frame


async def clients(url: str, n: int, hold: bool = False) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    ready = 0
    all_ready = asyncio.Event()
    gate = asyncio.Semaphore(50)

    async def one() -> dict[str, Any]:
        nonlocal ready
        frames: list[tuple[int, str]] = []
        async with gate:
            ws = await connect(url, max_size=None, open_timeout=120, ping_interval=None, compression=None,
                               close_timeout=30, additional_headers={"Cookie": COOKIE_HEADER})
        try:
            first = True
            async for msg in ws:
                text = msg if isinstance(msg, str) else msg.decode()
                frames.append((time.monotonic_ns(), text))
                if '"run.finished"' in text:
                    break  # a room's socket stays open for the next run: the run's end is the end
                if first:
                    first = False
                    ready += 1
                    if ready == n:
                        all_ready.set()
        finally:
            await ws.close()
        seqs, ts, ats = array.array("q"), array.array("q"), array.array("q")
        for at, text in frames:
            for ev in parse_frame(text):
                seqs.append(ev["seq"])
                ts.append(ev["t"])
                ats.append(at)
        return {"seq": seqs.tobytes(), "t": ts.tobytes(), "at": ats.tobytes(), "frames": len(frames),
                "last_ns": frames[-1][0] if frames else 0}

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    waiter = asyncio.create_task(all_ready.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        print("ready", flush=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    cpu = psutil.Process().cpu_times()
    out = [r if isinstance(r, dict) else {"error": repr(r)} for r in results]
    return {"clients": out, "cpu_s": cpu.user + cpu.system,
            "last_ns": max((r.get("last_ns", 0) for r in out), default=0)}


class ClientProcess:
    """Runs `python -m bench.wsclients` and collects what it saw."""

    def __init__(self, url: str, n: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen([PYTHON, "-m", "bench.wsclients", url, str(n), str(out)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def wait_ready(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()  # blocks; the process exits (EOF) if a client fails
        if line.strip() != "ready" or time.monotonic() > deadline:
            self.proc.wait(30)
            raise RuntimeError(f"the WebSocket clients did not all connect (exit {self.proc.returncode})")

    def result(self, timeout: float) -> dict[str, Any]:
        self.proc.wait(timeout)
        with open(self.out, "rb") as f:
            return pickle.load(f)

    def __enter__(self) -> ClientProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main() -> None:
    url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    res = asyncio.run(clients(url, n))
    with open(out, "wb") as f:
        pickle.dump(res, f)


if __name__ == "__main__":
    main()
