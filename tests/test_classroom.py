"""The classroom loop against a real server: students, predictions, exercises graded by real runs, the wall,
progress and its CSV, batches. Every run here is a real run in the sandbox."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from conftest import Server, http_client


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def new_room(server: Server) -> str:
    r = server.http.post("/api/rooms", json={"title": "classroom loop"}, headers=auth(server))
    assert r.status_code == 201
    return r.json()["code"]


def student(server: Server, code: str, name: str) -> httpx.Client:
    c = http_client(server.base, timeout=30)
    r = c.post(f"/api/rooms/{code}/students", json={"name": name})
    assert r.status_code == 201, r.text
    c.headers["x-student-id"] = r.json()["id"]  # only for the test's bookkeeping
    return c


def wait_run(server: Server, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = server.http.get(f"/api/runs/{run_id}", headers=auth(server)).json()  # a student's run: owner or instructor
        if info["status"] == "finished":
            return info
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def exercise(server: Server, lesson: str, eid: str, instructor: bool = False) -> dict[str, Any]:
    data = server.http.get(f"/api/lessons/{lesson}", headers=auth(server) if instructor else {}).json()
    return next(e for e in data["exercises"] if e["id"] == eid)


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "bad\nname", "tab\there", "nul\x00"])
def test_bad_nicknames_are_422_naming_the_field(server: Server, name: str) -> None:
    code = new_room(server)
    r = httpx.post(f"{server.base}/api/rooms/{code}/students", json={"name": name})
    assert r.status_code == 422
    assert "name" in json.dumps(r.json()["detail"])


def test_a_student_is_one_identity_across_tabs_and_the_instructor_renames_and_removes(server: Server) -> None:
    code = new_room(server)
    s = student(server, code, "小明")
    sid = s.headers["x-student-id"]
    assert s.get(f"/api/rooms/{code}/me").json()["name"] == "小明"
    again = s.post(f"/api/rooms/{code}/students", json={"name": "Xiaoming"})  # a second tab, same cookie
    assert again.status_code == 201 and again.json()["id"] == sid
    assert httpx.get(f"{server.base}/api/rooms/{code}/students").status_code == 401
    listed = server.http.get(f"/api/rooms/{code}/students", headers=auth(server)).json()
    assert [(x["id"], x["name"]) for x in listed] == [(sid, "Xiaoming")]
    r = server.http.patch(f"/api/rooms/{code}/students/{sid}", json={"name": "小红"}, headers=auth(server))
    assert r.status_code == 200
    assert s.get(f"/api/rooms/{code}/me").json()["name"] == "小红"
    assert server.http.delete(f"/api/rooms/{code}/students/{sid}", headers=auth(server)).status_code == 204
    assert s.get(f"/api/rooms/{code}/me").json() == {"joined": False}
    lesson = server.http.get("/api/lessons/zombie-process").json()
    r = s.post(f"/api/rooms/{code}/predictions", json={"lesson": lesson["id"], "question": "zombies", "answer": "1"})
    assert r.status_code == 403


def test_thirty_students_predict_the_kernel_answers_and_a_second_round(server: Server) -> None:
    code = new_room(server)
    students = [student(server, code, f"student {i}") for i in range(30)]
    answers = ["1"] * 18 + ["0"] * 9 + ["2"] * 3
    for s, a in zip(students, answers, strict=True):
        r = s.post(f"/api/rooms/{code}/predictions", json={"lesson": "zombie-process", "question": "zombies",
                                                           "answer": a})
        assert r.status_code == 204
    bad = students[0].post(f"/api/rooms/{code}/predictions", json={"lesson": "zombie-process", "question": "nope",
                                                                   "answer": "1"})
    assert bad.status_code == 422 and "question" in bad.text
    p = server.http.get(f"/api/rooms/{code}/predictions", params={"lesson": "zombie-process"}).json()
    assert p["round"] == 1 and p["kernel"] is None
    q = p["rounds"][0]["questions"]["zombies"]
    assert q == {"answers": {"1": 18, "0": 9, "2": 3}, "answered": 30}
    assert p["rounds"][0]["questions"]["code"]["answered"] == 0
    # The instructor runs the lesson for the room: the kernel's answer is then part of the histogram's data.
    run = server.http.post(f"/api/rooms/{code}/runs", json={"lesson": "zombie-process"}, headers=auth(server)).json()
    wait_run(server, run["id"])
    p = server.http.get(f"/api/rooms/{code}/predictions", params={"lesson": "zombie-process"}).json()
    assert p["kernel"]["zombies"] == 1 and p["kernel_run"] == run["id"]
    # Vote again: round 2 starts empty; round 1 stays for the comparison.
    r = server.http.post(f"/api/rooms/{code}/predictions/rounds", json={"lesson": "zombie-process"},
                         headers=auth(server))
    assert r.status_code == 201 and r.json()["round"] == 2
    for s in students[:20]:
        s.post(f"/api/rooms/{code}/predictions", json={"lesson": "zombie-process", "question": "zombies",
                                                       "answer": "1"})
    p = server.http.get(f"/api/rooms/{code}/predictions", params={"lesson": "zombie-process"}).json()
    assert [r["questions"]["zombies"]["answered"] for r in p["rounds"]] == [30, 20]
    assert p["rounds"][1]["questions"]["zombies"]["answers"] == {"1": 20}


def test_students_do_not_see_solutions_instructors_do(server: Server) -> None:
    ex = exercise(server, "zombie-process", "reap-the-zombie")
    assert "solution" not in ex and "os._exit(3)" in ex["starter"]["main.py"]
    assert ex["goal"]["zh"] and ex["expect"]
    ex = exercise(server, "zombie-process", "reap-the-zombie", instructor=True)
    assert "waitpid" in ex["solution"]["main.py"]
    lessons = server.http.get("/api/lessons").json()
    total = sum(len(server.http.get(f"/api/lessons/{x['id']}").json()["exercises"]) for x in lessons)
    assert total >= 10


def test_an_exercise_run_carries_goals_with_the_evidence_event(server: Server) -> None:
    ex = exercise(server, "zombie-process", "reap-the-zombie", instructor=True)
    events = server.run({"lesson": "zombie-process", "exercise": "reap-the-zombie"})  # the starter
    fin = events[-1]
    assert fin["type"] == "run.finished"
    goals = {g["id"]: g for g in fin["goals"]}
    assert goals["2"]["passed"] is True  # a zombie: the starter never waits …
    assert goals["3"]["passed"] is False and goals["3"]["evidence_seq"] is None  # … so init reaps it
    zombie = events[goals["2"]["evidence_seq"]]
    assert zombie["type"] == "proc.state" and zombie["state"] == "zombie"
    events = server.run({"lesson": "zombie-process", "exercise": "reap-the-zombie", "files": ex["solution"]})
    goals = {g["id"]: g for g in events[-1]["goals"]}
    assert all(g["passed"] for g in goals.values())
    reaped = events[goals["3"]["evidence_seq"]]
    assert reaped["type"] == "proc.reaped" and reaped["by"] != events[0].get("init_pid")
    exit3 = events[goals["1"]["evidence_seq"]]
    assert exit3["type"] == "proc.exit" and exit3["code"] == 3
    r = server.http.post("/api/runs", json={"lesson": "zombie-process", "exercise": "nope"})
    assert r.status_code == 422 and "exercise" in r.text


def test_student_runs_fill_the_wall_and_progress_then_the_csv(server: Server) -> None:
    code = new_room(server)
    ann = student(server, code, "Ann")
    li = student(server, code, "李雷")
    fresh = student(server, code, "=HYPERLINK(1)")
    ex = exercise(server, "pipe-basics", "pipe-hello", instructor=True)
    r = ann.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello"})
    assert r.status_code == 201 and "position" in r.json()
    first = r.json()["id"]
    busy = ann.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello"})
    assert busy.status_code == 409
    wait_run(server, first)
    r = ann.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello",
                                                     "files": ex["solution"]})
    wait_run(server, r.json()["id"])
    r = li.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "exercise": "pipe-hello"})
    wait_run(server, r.json()["id"])
    assert httpx.get(f"{server.base}/api/rooms/{code}/wall").status_code == 401
    time.sleep(0.3)  # progress is written by the server right after run.finished
    wall = {w["name"]: w for w in server.http.get(f"/api/rooms/{code}/wall", headers=auth(server)).json()["students"]}
    assert wall["Ann"]["passed"] is True and wall["Ann"]["status"] == "ok" and wall["Ann"]["processes"] == 2
    assert wall["李雷"]["passed"] is False
    assert wall["=HYPERLINK(1)"]["run"] is None
    prog = server.http.get(f"/api/rooms/{code}/progress", headers=auth(server)).json()
    cells = {row["name"]: row["cells"]["pipe-basics/pipe-hello"] for row in prog["students"]}
    assert cells["Ann"]["state"] == "passed" and cells["Ann"]["attempts"] == 2 and cells["Ann"]["time_s"] >= 0
    assert cells["李雷"] == {**cells["李雷"], "state": "tried", "attempts": 1}
    assert cells["=HYPERLINK(1)"]["state"] == "not_tried"
    raw = server.http.get(f"/api/rooms/{code}/progress.csv", headers=auth(server))
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/csv")
    assert raw.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))
    col = rows[0].index("pipe-basics/pipe-hello")
    by = {r[0]: r for r in rows[1:]}
    assert by["Ann"][col] == "✓ 2" and by["李雷"][col] == "✗ 1"
    assert "'=HYPERLINK(1)" in by  # never a formula in a spreadsheet
    assert len(rows[0]) >= 12  # student, ≥ 10 exercises, passed
    fresh.close()


def test_a_student_blocked_over_ten_seconds_is_stuck_on_the_wall(server: Server) -> None:
    code = new_room(server)
    s = student(server, code, "Bob")
    code_text = "import os\nr, w = os.pipe()\nos.read(r, 1)\n"  # nobody ever writes
    r = s.post(f"/api/rooms/{code}/my-runs", json={"lesson": "pipe-basics", "files": {"main.py": code_text}})
    assert r.status_code == 201
    run_id = r.json()["id"]
    seen = None
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        w = server.http.get(f"/api/rooms/{code}/wall", headers=auth(server)).json()["students"][0]
        if w["stuck"]:
            seen = w
            break
        time.sleep(0.5)
    server.http.post(f"/api/runs/{run_id}/stop", headers=auth(server))
    assert seen is not None, "never stuck"
    assert seen["run"] == run_id and "pipe" in seen["reason"]


def test_a_batch_shows_the_distribution_of_outcomes(server: Server) -> None:
    src = ("import os\npid = os.fork()\nif pid == 0:\n    print('child')\n    os._exit(0)\n"
           "print('parent')\nos.waitpid(pid, 0)\n")
    r = server.http.post("/api/batches", json={"files": {"main.py": src}, "count": 6})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        b = server.http.get(f"/api/batches/{bid}").json()
        if b["done"]:
            break
        time.sleep(0.2)
    assert b["done"] and len(b["runs"]) == 6 and all(x["status"] == "finished" for x in b["runs"])
    assert sum(o["count"] for o in b["outcomes"]) == 6
    for o in b["outcomes"]:
        assert set(o["outcome"].split(" / ")) == {"child", "parent"}
        for run_id in o["runs"]:  # each bar links to a replay of a run with that outcome
            assert server.http.get(f"/api/runs/{run_id}").json()["status"] == "finished"
    assert server.http.post("/api/batches", json={"files": {"main.py": src}, "count": 51}).status_code == 422
    r = server.http.post("/api/batches", json={"lesson": "fork-basics", "count": 2, "outcome": {"metric": "nope"}})
    assert r.status_code == 422 and "outcome.metric" in r.text


def test_room_outcomes_are_over_every_students_runs_of_the_lesson(server: Server) -> None:
    code = new_room(server)
    ids = []
    for i in range(3):
        s = student(server, code, f"s{i}")
        r = s.post(f"/api/rooms/{code}/my-runs", json={"lesson": "fork-basics"})
        assert r.status_code == 201
        ids.append(r.json()["id"])
    for run_id in ids:
        wait_run(server, run_id)
    d = server.http.get(f"/api/rooms/{code}/outcomes", params={"lesson": "fork-basics"}, headers=auth(server)).json()
    assert d["runs"] == 3 and sorted(x for o in d["outcomes"] for x in o["runs"]) == sorted(ids)


def test_the_class_websocket_tells_the_instructor_what_changed(server: Server) -> None:
    code = new_room(server)
    url = server.base.replace("http", "ws") + f"/ws/rooms/{code}/class"

    async def scenario() -> list[str]:
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.recv(), 5)
        seen: list[str] = []
        async with websockets.connect(url, additional_headers=auth(server)) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["what"] == ["hello"]
            await asyncio.to_thread(student, server, code, "Zoe")
            while "students" not in seen:
                seen += json.loads(await asyncio.wait_for(ws.recv(), 5))["what"]
        return seen

    assert "wall" in asyncio.run(scenario())


def test_a_class_behind_one_address_each_gets_its_run_one_at_a_time_in_order(server: Server) -> None:
    """35 students from one IP (a school's NAT: all 127.0.0.1 here), more than PROCLAB_MAX_RUNS_PER_IP (12),
    press Run together: nobody is refused by the per-IP cap, each student has one run at a time, the queue
    is first come, first served (a queued run's position only ever goes down), and every run finishes."""
    import threading
    n = 35
    code = new_room(server)
    students = [student(server, code, f"s{i}") for i in range(n)]
    gate = threading.Barrier(n)
    answers: list[httpx.Response | None] = [None] * n

    def press(i: int) -> None:
        gate.wait()
        answers[i] = students[i].post(f"/api/rooms/{code}/my-runs", json={"lesson": "fork-basics"})

    threads = [threading.Thread(target=press, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    presses_done = time.time()
    got = [r for r in answers if r is not None]
    assert [r.status_code for r in got] == [201] * n, [r.text for r in got if r.status_code != 201][:3]
    bodies = [r.json() for r in got]
    queued = sorted(b["position"] for b in bodies if b["position"])
    assert queued, "with 35 presses at once some must wait"
    assert queued[0] >= 1
    # One run per student at a time: a second press while the first waits or runs is refused, named.
    waiting = next(i for i, b in enumerate(bodies) if b["position"])
    again = students[waiting].post(f"/api/rooms/{code}/my-runs", json={"lesson": "fork-basics"})
    assert again.status_code == 409 and bodies[waiting]["id"] in again.text
    infos = [wait_run(server, b["id"], timeout=120) for b in bodies]
    # One place each in the one queue. A run that ended while others were still pressing moved the whole
    # queue up by one, so the next press could be given a place an earlier one was given before the move:
    # at most one repeat per run that ended during the presses (its end is stamped before its slot is freed).
    ended_meanwhile = sum(1 for info in infos if info["finished"] < presses_done)
    assert len(queued) - len(set(queued)) <= ended_meanwhile, (queued, ended_meanwhile)
    for b in bodies:
        events = server.http.get(f"/api/runs/{b['id']}/events", headers=auth(server)).json()
        positions = [e["position"] for e in events if e["type"] == "run.queued"]
        assert positions == sorted(positions, reverse=True), positions  # nobody got ahead of it
        assert events[-1]["type"] == "run.finished" and events[-1]["status"] == "ok"
    wall = server.http.get(f"/api/rooms/{code}/wall", headers=auth(server)).json()["students"]
    assert sorted(w["run"] for w in wall) == sorted(b["id"] for b in bodies)
