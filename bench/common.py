"""Shared pieces of the benchmarks: a real server, WebSocket watchers, statistics, results.

Everything talks to a real `python -m app serve` over loopback, as a browser would.
Times on the client side are `time.monotonic_ns()`: CLOCK_MONOTONIC, the same clock
the scenario processes and the supervisor read (no time namespace is used), so a
timestamp printed by a scenario can be compared with the moment a frame arrived.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT.parent / "shared" / "hostile"
PYTHON = sys.executable


class Unavailable(RuntimeError):
    """The benchmark cannot run here (e.g. the server refuses runs); the message says why."""


# ---------------------------------------------------------------- statistics


def pct(values: Sequence[float], p: float) -> float:
    """Percentile p (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "median": pct(values, 50), "p90": pct(values, 90), "p99": pct(values, 99),
            "min": min(values) if values else math.nan, "max": max(values) if values else math.nan}


def ms(ns: float) -> float:
    return ns / 1e6


# ---------------------------------------------------------------- results


@dataclass
class Figure:
    """One reported number, with what it is compared against and the target when there is one."""

    name: str
    value: float | str
    unit: str = ""
    alternative: str = ""  # the comparison measured in the same run, as text
    target: str = ""
    met: bool | None = None

    def fmt(self) -> str:
        v = self.value
        if isinstance(v, float):
            if math.isnan(v):
                return "n/a"
            v = f"{v:.3g}" if abs(v) < 10 else f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"
        return f"{v} {self.unit}".strip()


@dataclass
class Result:
    name: str
    title: str
    method: str = ""
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        f = Figure(*args, **kwargs)
        self.figures.append(f)
        return f

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "method": self.method, "seconds": self.seconds,
                "error": self.error, "notes": self.notes, "raw": self.raw,
                "figures": [f.__dict__ for f in self.figures]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        return cls(name=d["name"], title=d["title"], method=d["method"], seconds=d["seconds"], error=d["error"],
                   notes=d["notes"], raw=d["raw"], figures=[Figure(**f) for f in d["figures"]])


# ---------------------------------------------------------------- the server


# Pause before each measured start. Starts on a real server are seconds apart, and some costs depend on
# what happened just before: attaching a process to a cgroup waits for an RCU grace period unless another
# attach happened a moment ago. Back-to-back starts would measure a state a classroom never sees.
GAP_S = 0.2


async def interleaved(n: int, steps: Sequence[Callable[[], Any]]) -> list[list[Any]]:
    """One warm-up round (not counted: page cache, first connections), then n rounds of the steps in turn,
    each started GAP_S after the previous one ended. A step is a function or a coroutine function; returns
    each step's n results."""
    results: list[list[Any]] = [[] for _ in steps]
    for round_ in range(n + 1):
        for step, out in zip(steps, results, strict=True):
            await asyncio.sleep(GAP_S)
            value = step()
            if inspect.isawaitable(value):
                value = await value
            if round_:
                out.append(value)
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m app serve` as a real subprocess on a free loopback port, with its own data dir."""

    last_health: dict[str, Any] = {}  # /healthz of the last server started with default settings (for the report)

    def __init__(self, env: dict[str, str] | None = None, name: str = "server") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"proclab-bench-{name}-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.env = {"PROCLAB_MAX_RUNS_PER_CLIENT": "1000", "PROCLAB_MAX_RUNS_PER_IP": "1000", "PROCLAB_MAX_WS_PER_IP": "5000", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.tmp / "server.log"
        self.health: dict[str, Any] = {}

    def start(self, timeout: float = 60) -> Server:
        env = {**os.environ, "PROCLAB_DATA_DIR": str(self.tmp / "data"), "PROCLAB_LOG_LEVEL": "warning",
               **self.env}
        with self.log.open("wb") as out:  # the server keeps its own copy of the fd
            self.proc = subprocess.Popen([PYTHON, "-m", "app", "serve", "--port", str(self.port)], cwd=ROOT,
                                         env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                r = httpx.get(self.base + "/healthz", timeout=2)
                if r.status_code == 200:
                    self.health = r.json()
                    if not any(k.startswith(("PROCLAB_DISABLE", "PROCLAB_MAX_CONC")) for k in self.env):
                        Server.last_health = self.health
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise Unavailable(f"the server did not answer /healthz in {timeout:g} s: {self.log.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_runs(self) -> None:
        """Raise Unavailable with the server's reason when it refuses student code."""
        r = httpx.post(self.base + "/api/runs", json={"files": {"main.py": "pass\n"}}, timeout=30, cookies=COOKIES)
        if r.status_code != 201:
            raise Unavailable(f"the server refuses runs: {r.status_code} {r.text[:300]}")
        run_id = r.json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(f"{self.base}/api/runs/{run_id}", timeout=10, cookies=COOKIES).json()["status"] == "finished":
                return
            time.sleep(0.05)
        raise Unavailable("a trivial run did not finish in 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- clients


# One browser identity for every request of the suite: runs may only be controlled (stop, input) by the
# client that started them.
# One browser for the whole bench, client processes included (they inherit the variable): runs are
# readable by the browser that started them.
COOKIES = {"pl_client": os.environ.setdefault("PROCLAB_BENCH_CLIENT", "bench-" + os.urandom(6).hex())}
COOKIE_HEADER = "; ".join(f"{k}={v}" for k, v in COOKIES.items())  # for the raw client (bench/rawclient.py)


def http_client(server: Server) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    return httpx.AsyncClient(base_url=server.base, timeout=60, limits=limits, cookies=COOKIES)


def sync_client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base, timeout=60, cookies=COOKIES)


async def get_json(http: httpx.AsyncClient, url: str) -> Any:
    """GET, retried once on a transport error: the server closes kept-alive connections idle for 5 s, and
    a request can race with that close."""
    try:
        r = await http.get(url)
    except httpx.TransportError:
        r = await http.get(url)
    r.raise_for_status()
    return r.json()


def get_json_sync(http: httpx.Client, url: str) -> Any:
    try:
        r = http.get(url)
    except httpx.TransportError:
        r = http.get(url)
    r.raise_for_status()
    return r.json()


async def post_run(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await http.post("/api/runs", json=body)
    if r.status_code != 201:
        raise Unavailable(f"POST /api/runs: {r.status_code} {r.text[:300]}")
    return str(r.json()["id"])


def parse_frame(text: str | bytes) -> list[dict[str, Any]]:
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


@dataclass
class Watch:
    """What one WebSocket client saw: every frame with its arrival time (client monotonic ns)."""

    frames: list[tuple[int, str]] = field(default_factory=list)
    opened_ns: int = 0
    closed_ns: int = 0

    def events(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for at, text in self.frames:
            for ev in parse_frame(text):
                out.append((at, ev))
        return out


async def watch(server: Server, run_id: str, first_frame: asyncio.Event | None = None,
                stop_on: str | None = None, on_frame: Callable[[int, str], None] | None = None) -> Watch:
    """Follow /ws/runs/{id} until the server closes it (after run.finished); keep raw frames.

    Frames are parsed after the run, so that the arrival time is taken before any work on the frame.
    stop_on: return as soon as a frame contains this substring (e.g. '"io.output"').
    on_frame: called with (arrival ns, text) for each frame, before anything else is done with it.
    """
    from websockets.asyncio.client import connect

    w = Watch()
    async with connect(f"{server.ws_base}/ws/runs/{run_id}", max_size=None, open_timeout=60,
                       ping_interval=None, compression=None, additional_headers={"Cookie": COOKIE_HEADER}) as ws:
        w.opened_ns = time.monotonic_ns()
        async for msg in ws:
            now = time.monotonic_ns()
            text = msg if isinstance(msg, str) else msg.decode()
            if on_frame is not None:
                on_frame(now, text)
            w.frames.append((now, text))
            if first_frame is not None and not first_frame.is_set():
                first_frame.set()
            if stop_on is not None and stop_on in w.frames[-1][1]:
                break
    w.closed_ns = time.monotonic_ns()
    return w


async def raw_run(port: int, raw: Any, files: dict[str, str]) -> tuple[str, int, int, Watch]:
    """One run with the minimal client (bench/rawclient.py): POST, open the WebSocket as a browser does after
    the 201, read every frame to the end. Returns the run id, the POST's and the 201's clock, and the frames."""
    from .rawclient import RawWebSocket

    t_post, status, body = await raw.post_json("/api/runs", {"files": files})
    t_created = time.monotonic_ns()
    if status != 201:
        raise Unavailable(f"POST /api/runs: {status} {body}")
    ws = await RawWebSocket.connect(port, f"/ws/runs/{body['id']}", raw.cookie)
    w = Watch(opened_ns=time.monotonic_ns())
    try:
        while (got := await ws.recv()) is not None:
            w.frames.append(got)
    finally:
        await ws.close()
    return body["id"], t_post, t_created, w


def seq_problems(seqs: Iterable[int], total: int | None = None) -> dict[str, int]:
    """Missing and duplicated sequence numbers against 0..n-1 (n = total, or max+1)."""
    got = list(seqs)
    n = total if total is not None else (max(got) + 1 if got else 0)
    seen = set(got)
    return {"received": len(got), "expected": n, "missing": sum(1 for s in range(n) if s not in seen),
            "duplicates": len(got) - len(seen)}


# ---------------------------------------------------------------- scenario clock anchor

ANCHOR = """\
import os as _bos, time as _btime
_banchor = []
_bar, _baw = _bos.pipe()
for _bi in range(3):
    _ba0 = _btime.monotonic_ns(); _bos.write(_baw, b"a"); _ba1 = _btime.monotonic_ns()
    _banchor += [_ba0, _ba1]
_bos.close(_bar); _bos.close(_baw)
_banchor = " ".join(map(str, _banchor))
"""


def anchor_t0(events: list[dict[str, Any]], stamps: Sequence[int],
              printed: Sequence[tuple[int, dict[str, Any]]] = ()) -> tuple[int, int]:
    """The run's t=0 in CLOCK_MONOTONIC ns (the middle of the interval it must lie in), and half that interval.

    Bounds, all from facts about the order of things:
    - the scenario took a0, wrote a byte into a pipe, took a1 (three times: stamps = a0 a1 a0 a1 a0 a1).
      The shim stamps its report of the write (`ipc.transfer`, whose `t` is the shim's) inside the call,
      so a0 <= t0 + ev.t <= a1;
    - `printed`: (timestamp, io.output event) pairs where the scenario printed a timestamp it had taken
      before printing. The supervisor read the line after it was printed: t0 + ev.t >= timestamp.
      (The anchor line itself, which carries the last a1, is always one of them.)
    """
    writes = [e for e in events if e["type"] == "ipc.transfer" and e.get("direction") == "write"]
    pairs = list(zip(stamps[0::2], stamps[1::2], strict=True))
    if len(writes) < len(pairs):
        raise ValueError("no ipc.transfer events for the anchor writes")
    lo = max(a0 - ev["t"] for (a0, _), ev in zip(pairs, writes, strict=False))
    hi = min(a1 - ev["t"] for (_, a1), ev in zip(pairs, writes, strict=False))
    for ts, ev in printed:
        lo = max(lo, ts - ev["t"])
    if lo > hi:
        raise ValueError(f"inconsistent clock anchor: t0 >= {lo} and t0 <= {hi}")
    return (lo + hi) // 2, (hi - lo) // 2


def output_text(events: list[dict[str, Any]], pid: int | None = None) -> str:
    return "".join(e["text"] for e in events if e["type"] == "io.output" and (pid is None or e["pid"] == pid))


# ---------------------------------------------------------------- /healthz poller in its own process


class HealthPoller:
    """Polls /healthz from a separate process (so our own event loop does not colour its numbers)."""

    def __init__(self, server: Server, interval_s: float = 0.02) -> None:
        self.server = server
        self.interval = interval_s
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> HealthPoller:
        self.proc = subprocess.Popen([PYTHON, "-m", "bench.poll", str(self.server.port), str(self.interval)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready"
        return self

    def stop(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        data = json.loads(out)
        lat = data["latencies_ms"]
        return {**summary(lat), "errors": data["errors"], "latencies_ms": lat}

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()


def run_python(server: Server) -> str:
    """The interpreter the sandbox runs scenarios with (as the server reports it)."""
    return str(server.health.get("launcher", {}).get("python") or PYTHON)


def proc_cpu_ns(pid: int) -> int | None:
    """Time on CPU of a process (all its threads), from /proc/PID/schedstat, in ns."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def host_pids(started: dict[str, Any]) -> tuple[int, int]:
    """(supervisor, scenario root) as pids of our pid namespace, from a run.started event.

    With a pid namespace the event names them as the run sees them (init 1, root 2): find the root
    among the processes of the run's uid by its pid inside the namespace; the supervisor is its parent.
    """
    if not started.get("pid_ns"):
        return int(started["init_pid"]), int(started["root_pid"])
    uid, inner = started.get("uid"), int(started["root_pid"])
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the root takes its uid a moment after run.started
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            st = _status(int(name))
            nspid = st.get("NSpid", "").split()
            uids = st.get("Uid", "").split()
            if len(nspid) >= 2 and int(nspid[-1]) == inner and (uid is None or (uids and int(uids[0]) == uid)):
                sup = int(st["PPid"])
                if _status(sup).get("NSpid", "").split()[-1:] == [str(started["init_pid"])]:
                    return sup, int(name)
        time.sleep(0.005)
    raise RuntimeError(f"the run's processes (uid {uid}) were not found in /proc")
