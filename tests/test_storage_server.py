"""Real servers on a real PostgreSQL (PROCLAB_DATABASE_URL): lessons, rooms, the classroom and batches are
recorded there and are all still there after a restart; a restart ends only its own node's runs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, free_port, http_client, of, output, start_server, stop_server

from app.storage import Storage

SLOW = "import time\nfor i in range(300):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"
RACE = ("import os\npid = os.fork()\nif pid == 0:\n    print('child')\n    os._exit(0)\n"
        "print('parent')\nos.waitpid(pid, 0)\n")


def node_dir(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def wait_run(server: Server, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = server.http.get(f"/api/runs/{run_id}", headers=auth(server)).json()
        if info["status"] == "finished":
            return dict(info)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def wait_batch(server: Server, batch_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b = server.http.get(f"/api/batches/{batch_id}").json()
        if b["done"]:
            return dict(b)
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_a_server_on_postgres_keeps_lessons_rooms_classroom_and_batches_across_a_restart(
        tmp_path: Path, fresh_postgres: str) -> None:
    env = {"PROCLAB_DATABASE_URL": fresh_postgres, "PROCLAB_NODE_ID": "node-a"}
    s = start_server(tmp_path, env)
    try:
        assert s.http.get("/readyz").status_code == 200
        events = s.run({"lesson": "fork-basics"})
        assert events[-1]["type"] == "run.finished" and events[-1]["recording"] == {"saved": True}
        listed = s.http.get("/api/runs", headers=auth(s)).json()
        lesson_run = listed[0]["id"]
        code = s.http.post("/api/rooms", json={"title": "on postgres"}, headers=auth(s)).json()["code"]
        room_run = s.http.post(f"/api/rooms/{code}/runs", json={"lesson": "zombie-process"}, headers=auth(s)).json()
        wait_run(s, room_run["id"])
        ann = http_client(s.base, timeout=30)
        me = ann.post(f"/api/rooms/{code}/students", json={"name": "Ann"})
        assert me.status_code == 201, me.text
        lesson = s.http.get("/api/lessons/pipe-basics", headers=auth(s)).json()
        ex = next(e for e in lesson["exercises"] if e["id"] == "pipe-hello")
        mine = ann.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello",
                                                           "files": ex["solution"]})
        assert mine.status_code == 201, mine.text
        wait_run(s, mine.json()["id"])
        r = s.http.post("/api/batches", json={"files": {"main.py": RACE}, "count": 3})
        starter = dict(s.http.cookies)  # a batch is its browser's (and instructors')
        assert r.status_code == 201, r.text
        batch = wait_batch(s, r.json()["id"])
        time.sleep(0.3)  # progress is written right after run.finished
        progress = s.http.get(f"/api/rooms/{code}/progress", headers=auth(s)).json()
    finally:
        stop_server(s)

    db = Storage(fresh_postgres)  # what is in PostgreSQL itself
    rec = db.get_run(lesson_run)
    assert rec is not None and rec["node"] == "node-a" and rec["lesson"] == "fork-basics"
    assert [e["type"] for e in db.get_events(lesson_run)] == [e["type"] for e in events]
    assert db.get_room(code) is not None and db.get_batch(batch["id"]) is not None
    db.close()

    s = start_server(tmp_path, env)  # a new process: only the database remembers
    try:
        again = s.http.get(f"/api/runs/{lesson_run}/events", headers=auth(s)).json()
        assert again == events
        assert s.http.get(f"/api/rooms/{code}", headers=auth(s)).status_code == 200
        ann = http_client(s.base, timeout=30, cookies=ann.cookies)  # the new port; the same browser
        assert ann.get(f"/api/rooms/{code}/me").json()["name"] == "Ann"  # her cookie still says who she is
        assert s.http.get(f"/api/rooms/{code}/progress", headers=auth(s)).json() == progress
        cells = {row["name"]: row["cells"]["pipe-basics/pipe-hello"] for row in progress["students"]}
        assert cells["Ann"]["state"] == "passed"
        s.http.cookies.update(starter)  # the same browser
        after = s.http.get(f"/api/batches/{batch['id']}").json()
        assert after == batch and after["done"] and sum(o["count"] for o in after["outcomes"]) == 3
        assert s.http.get("/api/batches/bnothere").status_code == 404
    finally:
        stop_server(s)


def test_a_batch_is_still_there_after_a_restart_on_sqlite(tmp_path: Path) -> None:
    s = start_server(tmp_path)
    try:
        r = s.http.post("/api/batches", json={"files": {"main.py": RACE}, "count": 4})
        assert r.status_code == 201, r.text
        batch = wait_batch(s, r.json()["id"])
        starter = dict(s.http.cookies)
    finally:
        stop_server(s)
    s = start_server(tmp_path)
    try:
        s.http.cookies.update(starter)  # the same browser: a batch is its starter's (and instructors')
        after = s.http.get(f"/api/batches/{batch['id']}").json()
        assert after == batch and after["finished"] == 4
        for o in after["outcomes"]:
            assert set(o["outcome"].split(" / ")) == {"child", "parent"}
    finally:
        stop_server(s)


def test_a_restarted_node_ends_only_its_own_runs(tmp_path: Path, fresh_postgres: str) -> None:
    """Node a is killed mid-run; node b starting on the same database leaves a's run alone; a's restart ends it."""
    a_env = {"PROCLAB_DATABASE_URL": fresh_postgres, "PROCLAB_NODE_ID": "a"}
    a = start_server(node_dir(tmp_path, "a"), a_env)
    c = http_client(a.base, timeout=30)
    run_id = c.post("/api/runs", json={"files": {"main.py": SLOW}}).json()["id"]
    db = Storage(fresh_postgres)
    deadline = time.monotonic() + 30
    while "tick 3" not in output(db.get_events(run_id)):  # in PostgreSQL while the run goes
        assert time.monotonic() < deadline, "the run's events never reached the database"
        time.sleep(0.05)
    db.close()
    os.kill(a.proc.pid, signal.SIGKILL)  # no shutdown: its run stays unfinished in the database
    a.proc.wait()
    a.http.close()
    b = start_server(node_dir(tmp_path, "b"), {"PROCLAB_DATABASE_URL": fresh_postgres, "PROCLAB_NODE_ID": "b"})
    try:
        info = b.http.get(f"/api/runs/{run_id}", headers=auth(b)).json()
        assert info["status"] == "running", info  # not b's to end
        assert "tick 3" in output(b.http.get(f"/api/runs/{run_id}/events", headers=auth(b)).json())
    finally:
        stop_server(b)
    a = start_server(node_dir(tmp_path, "a2"), a_env)
    try:
        events = a.wait(run_id, 10)
        fin = of(events, "run.finished")
        assert len(fin) == 1 and fin[0]["outcome"] == {"code": "interrupted"} and fin[0]["status"] == "error"
        assert "tick 3" in output(events)  # what it recorded while going is kept
    finally:
        stop_server(a)


def test_an_unreachable_postgres_stops_the_start_naming_the_url_and_what_to_check(tmp_path: Path) -> None:
    url = f"postgresql://proclab:hunter2@127.0.0.1:{free_port()}/proclab"
    with pytest.raises(RuntimeError) as e:
        start_server(tmp_path, {"PROCLAB_DATABASE_URL": url})
    text = str(e.value)
    assert "postgresql://proclab:***@127.0.0.1" in text and "hunter2" not in text
    assert "PROCLAB_DATABASE_URL" in text and "PostgreSQL is running" in text


def test_a_server_alone_ends_every_run_left_going_whatever_node_recorded_it(tmp_path: Path) -> None:
    """No PROCLAB_NODE_ID: one server, whose host name may have changed (a new container)."""
    db = Storage(tmp_path / "data" / "proclab.db", node="old-container")
    db.begin_run({"id": "left", "status": "running", "created": time.time()})
    db.close()
    s = start_server(tmp_path)
    try:
        fin = s.wait("left", 10)[-1]
        assert fin["type"] == "run.finished" and fin["outcome"] == {"code": "interrupted"}
    finally:
        stop_server(s)
