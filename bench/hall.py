"""hall: a lecture hall — one room of many students watching the instructor's run (issue 16).

Targets: 0 events lost, the server under one core; memory per student reported. The run and the
clients are those of `bench classroom` (room path); the server's memory is sampled every 50 ms.
Then stalled students: browsers that stop reading while a loud run goes on in the room must be
dropped with a reason (close 4008, not an unbounded buffer) and get the rest with `?after=RUN:SEQ`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
import time
from typing import Any

import httpx
import psutil
import websockets

from .classroom import AUTH, TOKEN, broadcast
from .common import Result, Server, summary
from .sizes import Sizes

# Eight processes printing 4000 short lines each: ~32,000 events (3-4 MB of JSON), far more than what a
# stalled student may hold: its feed's bound (PROCLAB_WS_BUFFER_EVENTS, 5000) plus the fixed kernel send
# buffer (PROCLAB_WS_SEND_BUFFER_KB) and the server's write buffer, about 10,000 such events in all.
LOUD = ("import os, time\nfor k in range(8):\n    if os.fork() == 0:\n        for i in range(4000):\n"
        "            print(k, flush=True)\n            time.sleep(0.0005)\n"
        "        os._exit(0)\nfor k in range(8):\n    os.wait()\n")


class StalledStudent:
    """A room stream over a raw socket (small TCP window, a 4 KiB read buffer) that reads nothing after the
    handshake until told to: asyncio pauses the transport once that buffer is full, so the stall is the
    kernel's, as for a frozen tab. (A `websockets` client with its transport paused is not enough: the
    library resumes reading by itself, and such a "stalled" student received all 25,000 events.)"""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def connect(cls, port: int, path: str) -> StalledStudent:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small TCP window
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"no WebSocket: {head[:200]!r}")
        return cls(reader, writer)

    async def read_all(self, timeout: float = 30) -> list[dict[str, Any]]:
        """Everything sent to it, up to the close frame (or the server cutting the connection)."""
        got: list[dict[str, Any]] = []
        try:
            while True:
                b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), timeout)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(await self.reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await self.reader.readexactly(8), "big")
                payload = await self.reader.readexactly(n)
                if b0 & 0x0F == 0x8:  # close
                    self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    self.close_reason = payload[2:].decode("utf-8", "replace")
                    break
                if b0 & 0x0F == 0x1:
                    data = json.loads(payload)
                    got.extend(data if isinstance(data, list) else [data])
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        self.writer.close()
        return got


async def _read_until_finished(ws: Any, out: list[dict[str, Any]], timeout: float = 60) -> None:
    while not out or out[-1]["type"] != "run.finished":
        data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        out.extend(data if isinstance(data, list) else [data])


async def stalled_students(server: Server, k: int) -> dict[str, Any]:
    """k students on the room's stream stop reading (a frozen tab: the TCP window closes) while the
    instructor's loud run goes. After the run: what each stalled one got,
    how it was closed, and what a reconnect with ?after=RUN:SEQ brought."""
    url = f"{server.ws_base}/ws/rooms/"
    async with httpx.AsyncClient(base_url=server.base, headers=AUTH, timeout=60) as http:
        code = (await http.post("/api/rooms", json={"title": "stalled"})).json()["code"]
        url += code
        stalled = [await StalledStudent.connect(server.port, f"/ws/rooms/{code}") for _ in range(k)]
        await asyncio.sleep(0.3)  # subscribed
        proc = psutil.Process(server.pid)
        rss0 = proc.memory_info().rss
        r = await http.post(f"/api/rooms/{code}/runs", json={"files": {"main.py": LOUD}})
        r.raise_for_status()
        run_id = r.json()["id"]
        peak = rss0
        deadline = time.monotonic() + 180
        while (info := (await http.get(f"/api/runs/{run_id}")).json())["status"] != "finished":
            peak = max(peak, proc.memory_info().rss)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the loud run {run_id} did not finish")
            await asyncio.sleep(0.05)
        total = int(info["events"])
        out = []
        for ws in stalled:
            got = await ws.read_all()
            last = got[-1]["seq"] if got else -1
            rest: list[dict[str, Any]] = []
            if not got or got[-1]["type"] != "run.finished":  # dropped before the end: resume where it was
                async with websockets.connect(f"{url}?after={run_id}:{last}", max_size=None) as again:
                    await _read_until_finished(again, rest, 60)
            seqs = [e["seq"] for e in got + rest if e.get("run") == run_id]
            out.append({"code": ws.close_code, "reason": ws.close_reason, "before": len(got), "after": len(rest),
                        "lost": total - len(set(seqs)), "duplicates": len(seqs) - len(set(seqs))})
    return {"events": total, "students": out, "rss_before": rss0, "rss_peak": peak}


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return


def run(sizes: Sizes) -> Result:
    n = sizes.hall_students
    res = Result("hall", f"Lecture hall: one room of {n} students watching one run",
                 method=(f"The run of `bench classroom` ({sizes.class_s:g} s of output and pipe traffic) started by "
                         f"the instructor in a room; {n} WebSocket clients (the `websockets` library, spread over "
                         f"{sizes.hall_procs} processes) follow /ws/rooms/{{code}}. Lost = seqs a client never got. "
                         "Server memory: resident set before the clients connect and its peak while they watch; per "
                         "student = the difference / students (an upper bound: it includes the run's event buffer). "
                         f"Then {sizes.hall_stalled} students on the room's stream stop reading (small TCP window, "
                         "reading paused) while the instructor runs a program printing 32,000 lines; after it, "
                         "each reads what it was sent, then reconnects with ?after=RUN:SEQ."))
    with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": TOKEN}, name="hall") as server:
        server.check_runs()
        time.sleep(1)
        rss = PeakRss(server.pid)
        base = rss.peak
        rss.start()
        d = broadcast(server, n, sizes.hall_procs, sizes.class_s, room=True)
        rss.stopped.set()
        rss.join()
        control = asyncio.run(stalled_students(server, 0))  # the same run with nobody stalled: its own memory
        stall = asyncio.run(stalled_students(server, sizes.hall_stalled))
    delay = summary(d["delay_ms"])
    res.add("events lost (sum over students)", d["lost"], "", f"{d['events']} events; duplicates: {d['duplicates']}; "
            f"students missing any: {d['clients_missing_events']}; errors: {d['client_errors']}", "0",
            d["lost"] == 0 and d["client_errors"] == 0 and d["duplicates"] == 0)
    res.add("server CPU while broadcasting", d["server_cpu_share"] * 100, "% of a core",
            f"client processes: {' + '.join(f'{c:.1f}' for c in d['client_cpu_s'])} s over {d['wall_s']:.1f} s",
            "< 100 % of a core", d["server_cpu_share"] < 1.0)
    res.add("server memory per student", (rss.peak - base) / n / 1024, "KiB",
            f"resident {base / 2**20:.0f} MiB before, peak {rss.peak / 2**20:.0f} MiB")
    res.add("delivery delay, median / p99", f"{delay['median']:.0f} / {delay['p99']:.0f}", "ms",
            "set by the clients sharing the two cores with the server")
    st = stall["students"]
    dropped = [x for x in st if x["code"] == 4008 and "after=" in (x["reason"] or "")]
    res.add("stalled students dropped with a reason", f"{len(dropped)}/{len(st)}", "",
            f"close {st[0]['code']} '{st[0]['reason']}'; each had {min(x['before'] for x in st)}–"
            f"{max(x['before'] for x in st)} of the loud run's {stall['events']} events when dropped",
            "all, close 4008", len(dropped) == len(st))
    res.add("stalled students resumed with ?after=RUN:SEQ: events lost", sum(x["lost"] for x in st), "",
            f"duplicates: {sum(x['duplicates'] for x in st)}", "0",
            sum(x["lost"] + x["duplicates"] for x in st) == 0)
    grew, grew0 = stall["rss_peak"] - stall["rss_before"], control["rss_peak"] - control["rss_before"]
    res.add("server memory per stalled student", max(0, grew - grew0) / len(st) / 1024, "KiB",
            f"the loud run grew the server by {grew / 2**20:.1f} MiB with them, {grew0 / 2**20:.1f} MiB with nobody "
            "stalled; a stalled student's feed holds at most PROCLAB_WS_BUFFER_EVENTS (5000) events")
    res.raw = {k: v for k, v in d.items() if k != "delay_ms"}
    res.raw["stalled"] = stall
    res.raw["stalled_control"] = control
    return res
