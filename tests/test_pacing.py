"""Pacing for teaching: pause/resume the whole run, step mode, slow speed (real runs via the API)."""

from __future__ import annotations

import time

from conftest import Server, http_client, of, output

STEPPER = """import os
for i in range(3):
    r, w = os.pipe()
    os.write(w, b"x")
    os.read(r, 1)
    print("round", i, flush=True)
"""


def wait_for(fn, timeout: float = 10.0):  # noqa: ANN001, ANN201
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_step_mode_holds_each_traced_call_until_step(server: Server) -> None:
    c = http_client(server.base, timeout=10)
    c.get("/healthz")
    run_id = c.post("/api/runs", json={"files": {"main.py": "import time\ntime.sleep(0.5)\n" + STEPPER}}).json()["id"]
    assert c.post(f"/api/runs/{run_id}/pace", json={"mode": "step"}).status_code == 200
    events = lambda: c.get(f"/api/runs/{run_id}/events").json()  # noqa: E731
    wait_for(lambda: of(events(), "ipc.channel"))  # the first traced call (os.pipe) is held
    time.sleep(0.5)
    held = events()
    assert "round" not in output(held), "step mode let the program run on"
    steps = 0
    while c.get(f"/api/runs/{run_id}").json()["status"] != "finished" and steps < 40:
        c.post(f"/api/runs/{run_id}/step")
        steps += 1
        time.sleep(0.05)
    final = server.wait(run_id, 20)
    assert output(final).count("round") == 3
    assert steps >= 9  # pipe, write, read for each of the three rounds
    assert any(e["mode"] == "step" for e in of(final, "run.pace"))


def test_pause_stops_every_process_and_resume_continues(server: Server) -> None:
    c = http_client(server.base, timeout=10)
    c.get("/healthz")
    src = "import time\nfor i in range(30):\n    print('tick', i, flush=True)\n    time.sleep(0.05)\n"
    run_id = c.post("/api/runs", json={"files": {"main.py": src}}).json()["id"]
    wait_for(lambda: "tick 2" in output(c.get(f"/api/runs/{run_id}/events").json()))
    c.post(f"/api/runs/{run_id}/pace", json={"mode": "paused"})
    time.sleep(0.2)
    before = output(c.get(f"/api/runs/{run_id}/events").json()).count("tick")
    time.sleep(0.8)
    after = output(c.get(f"/api/runs/{run_id}/events").json()).count("tick")
    assert after == before, "output went on while paused"
    c.post(f"/api/runs/{run_id}/pace", json={"mode": "normal"})
    final = server.wait(run_id, 20)
    assert output(final).count("tick") == 30 and final[-1]["status"] == "ok"
    assert [e["mode"] for e in of(final, "run.pace")] == ["paused", "normal"]


def test_slow_mode_spaces_traced_calls(server: Server) -> None:
    c = http_client(server.base, timeout=10)
    c.get("/healthz")
    run_id = c.post("/api/runs", json={"files": {"main.py": "import time\ntime.sleep(0.3)\n" + STEPPER}}).json()["id"]
    c.post(f"/api/runs/{run_id}/pace", json={"mode": "slow", "delay_ms": 100})
    final = server.wait(run_id, 20)
    transfers = [e["t"] for e in of(final, "ipc.transfer")]
    assert len(transfers) == 6
    gaps = [b - a for a, b in zip(transfers, transfers[1:], strict=False)]
    assert min(gaps) >= 80_000_000, gaps  # each traced call waited ~100 ms


def test_step_mode_from_the_very_first_traced_call(server: Server) -> None:
    c = http_client(server.base, timeout=10)
    c.get("/healthz")
    run_id = c.post("/api/runs", json={"files": {"main.py": STEPPER}, "pace": {"mode": "step"}}).json()["id"]
    wait_for(lambda: of(c.get(f"/api/runs/{run_id}/events").json(), "run.pace"))
    time.sleep(0.5)
    held = c.get(f"/api/runs/{run_id}/events").json()
    assert not of(held, "ipc.transfer"), "a traced call ran before its step"
    c.post(f"/api/runs/{run_id}/stop")
    server.wait(run_id, 20)
