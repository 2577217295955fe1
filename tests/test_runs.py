"""Run manager: the queue tells its place, per-client caps, runs of a vanished browser are stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from conftest import Server, cookie_header, http_client, of, start_server, stop_server

SLEEP = "import time\ntime.sleep(%s)\nprint('done')\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("small"), {"PROCLAB_MAX_CONCURRENT_RUNS": "1",
                                                         "PROCLAB_MAX_RUNS_PER_CLIENT": "2",
                                                         "PROCLAB_DISCONNECT_GRACE_S": "1"})
    yield s
    stop_server(s)


def client(server: Server) -> httpx.Client:
    c = http_client(server.base, timeout=30)
    c.get("/healthz")  # a pl_client cookie of its own
    return c


def test_queued_run_is_told_its_place_then_runs(small: Server) -> None:
    a, b = client(small), client(small)
    first = a.post("/api/runs", json={"files": {"main.py": SLEEP % 1.0}}).json()
    second = b.post("/api/runs", json={"files": {"main.py": SLEEP % 0.1}}).json()
    assert second["status"] == "queued"
    events = small.wait(second["id"], 30)
    queued = of(events, "run.queued")
    assert queued and queued[0]["position"] == 1 and queued[0]["seq"] == 0
    assert events[-1]["status"] == "ok" and of(events, "run.started")
    assert small.wait(first["id"], 30)[-1]["status"] == "ok"


def test_per_client_cap_is_a_clear_429(small: Server) -> None:
    c = client(small)
    ids = [c.post("/api/runs", json={"files": {"main.py": SLEEP % 2}}).json()["id"] for _ in range(2)]
    r = c.post("/api/runs", json={"files": {"main.py": SLEEP % 0}})
    assert r.status_code == 429 and "at most 2" in r.json()["detail"]
    for i in ids:
        c.post(f"/api/runs/{i}/stop")
    for i in ids:
        assert small.wait(i, 30)[-1]["status"] in ("stopped", "ok")


def test_run_of_a_browser_that_left_is_stopped_after_the_grace(small: Server) -> None:
    c = client(small)
    run_id = c.post("/api/runs", json={"files": {"main.py": SLEEP % 30}}).json()["id"]
    url = small.base.replace("http", "ws") + f"/ws/runs/{run_id}"

    async def watch_briefly() -> None:
        async with websockets.connect(url, additional_headers=cookie_header(c)) as ws:
            await asyncio.wait_for(ws.recv(), 10)

    asyncio.run(watch_briefly())
    t0 = time.monotonic()
    events = small.wait(run_id, 30)
    assert events[-1]["status"] == "stopped"
    assert time.monotonic() - t0 < 10
