"""burst: a room of students pressing Run within one second; each gets 201 and their queue position.

Target (issue 16): every student's 201 with the queue position within 100 ms p99, server side. The
raw client (bench/rawclient.py) measures the round trip with almost no work of its own, so the figure is
the server's time plus loopback. Two shapes: presses spread
over one second at random, and every press at the same instant.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from app.classroom.students import cookie_name

from .common import Result, Server, pct
from .rawclient import RawHttp
from .sizes import Sizes

LESSON = "fork-basics"


async def _students(server: Server, code: str, n: int) -> list[RawHttp]:
    """n joined students, each with its own browser identity, connected and ready to press Run."""
    out = []
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
        for i in range(n):
            r = await c.post(f"/api/rooms/{code}/students", json={"name": f"student {i}"})
            r.raise_for_status()
            token = r.cookies[cookie_name(code)]
            raw = RawHttp(server.port, f"pl_client=burst-{i}-{time.time_ns()}; {cookie_name(code)}={token}")
            await raw._connect()
            out.append(raw)
            c.cookies.clear()
    return out


async def _press(c: RawHttp, code: str, delay: float) -> dict[str, Any]:
    await asyncio.sleep(delay)
    t, status, body = await c.post_json(f"/api/rooms/{code}/my-runs", {"lesson": LESSON})
    took = (time.monotonic_ns() - t) / 1e6
    return {"status": status, "ms": took, "position": body.get("position"), "id": body.get("id"), "sent": t}


async def _wait(c: httpx.AsyncClient, ids: list[str], timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    left = set(ids)
    while left and time.monotonic() < deadline:
        for run_id in list(left):
            if (await c.get(f"/api/runs/{run_id}")).json()["status"] == "finished":
                left.discard(run_id)
        await asyncio.sleep(0.2)
    return len(ids) - len(left)


async def _burst(server: Server, token: str, n: int, spread_s: float) -> dict[str, Any]:
    # The instructor: the students' runs are theirs and the instructor's to read.
    async with httpx.AsyncClient(base_url=server.base, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as admin:
        r = await admin.post("/api/rooms", json={"title": "burst"})
        r.raise_for_status()
        code = r.json()["code"]
        students = await _students(server, code, n)
        try:
            presses = await asyncio.gather(*(_press(c, code, random.uniform(0, spread_s)) for c in students))
            ok = [p for p in presses if p["status"] == 201]
            finished = await _wait(admin, [p["id"] for p in ok])
        finally:
            await asyncio.gather(*(c.close() for c in students))
    queued = sorted((p for p in ok if p["position"]), key=lambda p: p["sent"])
    return {"presses": presses, "ok": len(ok), "finished": finished,
            "queued": len(queued), "max_position": max((p["position"] for p in queued), default=0)}


def run(sizes: Sizes) -> Result:
    res = Result("burst", f"Classroom burst: {sizes.burst_students} students press Run within a second")
    res.method = ("A real server; the students join a room (one cookie each), then each sends POST "
                  "/api/rooms/{code}/my-runs (lesson fork-basics) at a random instant within one second, and "
                  "again all at the same instant, over kept-alive connections opened beforehand. The round trip is "
                  "measured by bench/rawclient.py (pre-encoded bytes, a clock stamp right before the write and "
                  "after the read), so it is the server's time plus loopback, not httpx's.")
    token = "bench-" + str(time.time_ns())
    with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": token}, name="burst") as server:
        server.check_runs()
        spread = asyncio.run(_burst(server, token, sizes.burst_students, 1.0))
        at_once = asyncio.run(_burst(server, token, sizes.burst_students, 0.0))
    for label, d in (("spread over 1 s", spread), ("all at once", at_once)):
        rt = [p["ms"] for p in d["presses"]]
        res.add(f"201 + position, p99 round trip ({label})", pct(rt, 99), "ms",
                alternative=f"median {pct(rt, 50):.1f} ms, max {max(rt):.1f} ms", target="≤ 100 ms p99",
                met=pct(rt, 99) <= 100)
        res.add(f"answered 201 / finished ({label})", f"{d['ok']}/{len(d['presses'])} · {d['finished']}",
                alternative=f"{d['queued']} told a queue position (up to {d['max_position']})")
    res.raw = {"spread": spread, "at_once": at_once}
    return res
