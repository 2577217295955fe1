"""The contract of issue 2 against a real uvicorn server and real runs."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import websockets
from conftest import SCHEMA, Server, cookie_header, of, output, survivors


def test_healthz_reports_layers(server: Server) -> None:
    r = server.http.get("/healthz")
    assert r.status_code == 200
    h = r.json()
    assert h["launcher"]["alive"] is True
    assert "process" in h["active"] and "supervision" in h["active"]
    assert isinstance(h["layers"], dict)


def test_lessons_list_and_detail(server: Server) -> None:
    lessons = server.http.get("/api/lessons").json()
    ids = [x["id"] for x in lessons]
    for topic in ("fork", "zombie", "orphan"):
        assert any(topic in i for i in ids), f"no {topic} lesson in {ids}"
    fork = next(i for i in ids if "fork" in i)
    detail = server.http.get(f"/api/lessons/{fork}").json()
    assert "main.py" in detail["files"]
    assert detail["title"]["en"] and detail["title"]["zh"]
    assert server.http.get("/api/lessons/no-such-lesson").status_code == 404


def _lesson(server: Server, topic: str) -> str:
    return next(x["id"] for x in server.http.get("/api/lessons").json() if topic in x["id"])


def test_fork_lesson_two_pids_child_of_root(server: Server) -> None:
    events = server.run({"lesson": _lesson(server, "fork")})
    started = of(events, "run.started")[0]
    spawns = of(events, "proc.spawn")
    pids = {e["pid"] for e in spawns}
    assert len(pids) == 2
    child = next(e for e in spawns if e["pid"] != started["root_pid"])
    assert child["ppid"] == started["root_pid"]
    assert {e["pid"] for e in of(events, "io.output")} == pids
    assert events[-1]["type"] == "run.finished" and events[-1]["status"] == "ok"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    for e in events:
        jsonschema.validate(e, SCHEMA)


def test_print_before_fork_appears_once(server: Server) -> None:
    src = "import os\nprint('once')\nif os.fork() == 0:\n    os._exit(0)\nos.wait()\n"
    events = server.run({"files": {"main.py": src}})
    assert output(events).count("once") == 1


def test_zombie_lesson_shows_zombie_then_reaping(server: Server) -> None:
    events = server.run({"lesson": _lesson(server, "zombie")})
    zombies = [e for e in of(events, "proc.state") if e["state"] == "zombie"]
    assert zombies, "no zombie state was seen"
    pid = zombies[0]["pid"]
    reaped = [e for e in of(events, "proc.reaped") if e["pid"] == pid]
    assert reaped and reaped[0]["seq"] > zombies[0]["seq"]
    root = of(events, "run.started")[0]["root_pid"]
    assert reaped[0]["by"] == root
    exits = [e for e in of(events, "proc.exit") if e["pid"] == pid]
    assert exits and exits[0]["code"] is not None


def test_orphan_lesson_reparents_to_init(server: Server) -> None:
    events = server.run({"lesson": _lesson(server, "orphan")})
    init = of(events, "run.started")[0]["init_pid"]
    reparents = of(events, "proc.reparent")
    assert any(e["new_ppid"] == init for e in reparents), reparents
    assert events[-1]["status"] == "ok"


def test_exec_output_stays_attributed_to_its_pid(server: Server) -> None:
    src = ("import os\npid = os.fork()\nif pid == 0:\n    os.execlp('echo', 'echo', 'from-echo')\n"
           "os.waitpid(pid, 0)\nprint('parent done')\n")
    events = server.run({"files": {"main.py": src}})
    root = of(events, "run.started")[0]["root_pid"]
    echo = [e for e in of(events, "io.output") if "from-echo" in e["text"]]
    assert echo and echo[0]["pid"] != root
    execs = of(events, "proc.exec")
    assert any(e["argv"][:2] == ["echo", "from-echo"] and e["pid"] == echo[0]["pid"] for e in execs)


def test_wall_limit_stops_a_runaway(server: Server) -> None:
    events = server.run({"files": {"main.py": "while True:\n    pass\n"}, "limits": {"wall_s": 1.5}})
    fin = events[-1]
    assert fin["type"] == "run.finished" and fin["status"] == "limit"
    limit = of(events, "run.limit")
    assert limit and limit[0]["limit"] in ("wall", "cpu")
    field = {"wall": "wall_s", "cpu": "cpu_s"}[limit[0]["limit"]]
    assert list(limit[0]["params"]) == [field] and "message" not in limit[0], limit
    if field == "wall_s":
        assert limit[0]["params"]["wall_s"] == 1.5
    assert fin["outcome"] == {"code": "limit", "limit": limit[0]["limit"]}, fin


def test_stop_ends_a_run(server: Server) -> None:
    r = server.http.post("/api/runs", json={"files": {"main.py": "import time\ntime.sleep(60)\n"}})
    run_id = r.json()["id"]
    for _ in range(100):
        if of(server.http.get(f"/api/runs/{run_id}/events").json(), "proc.spawn"):
            break
        asyncio.run(asyncio.sleep(0.02))
    assert server.http.post(f"/api/runs/{run_id}/stop").status_code == 200
    events = server.wait(run_id, 20)
    assert events[-1]["status"] == "stopped"


def test_websocket_streams_all_events_from_start(server: Server) -> None:
    r = server.http.post("/api/runs", json={"lesson": _lesson(server, "fork")})
    run_id = r.json()["id"]
    ws_url = server.base.replace("http", "ws") + f"/ws/runs/{run_id}"

    async def collect() -> list[dict]:
        got: list[dict] = []
        async with websockets.connect(ws_url, additional_headers=cookie_header(server.http)) as ws:
            async for frame in ws:
                data = json.loads(frame)
                got.extend(data if isinstance(data, list) else [data])
        return got

    events = asyncio.run(collect())
    assert events[0]["seq"] == 0 and events[-1]["type"] == "run.finished"
    assert [e["seq"] for e in events] == list(range(len(events)))
    # Resuming after a seq gives the rest, without a gap or a duplicate.
    async def resume() -> list[dict]:
        got: list[dict] = []
        async with websockets.connect(ws_url + "?after=3", additional_headers=cookie_header(server.http)) as ws:
            async for frame in ws:
                data = json.loads(frame)
                got.extend(data if isinstance(data, list) else [data])
        return got

    rest = asyncio.run(resume())
    assert [e["seq"] for e in rest] == list(range(4, len(events)))


def test_bad_requests_get_clear_errors(server: Server) -> None:
    assert server.http.post("/api/runs", json={}).status_code == 422
    r = server.http.post("/api/runs", json={"lesson": "nope"})
    assert r.status_code == 404 and "nope" in r.text
    r = server.http.post("/api/runs", json={"files": {"../x.py": "print(1)"}})
    assert r.status_code == 422
    assert server.http.get("/api/runs/doesnotexist").status_code == 404


def test_nothing_of_a_run_is_left(server: Server) -> None:
    events = server.run({"files": {"main.py": "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n"
                                              "        time.sleep(30)\nprint('parent leaves')\n"},
                         "limits": {"leftover_s": 0.5}})
    assert len({e["pid"] for e in of(events, "proc.spawn")}) == 4
    assert events[-1]["status"] == "limit" and of(events, "run.limit")[0]["limit"] == "leftover"
    assert not survivors(of(events, "run.started")[0]["uid"])


def test_launcher_is_restarted_if_it_dies(server: Server) -> None:
    import os
    import signal
    import time

    pid = server.http.get("/healthz").json()["launcher"]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        h = server.http.get("/healthz").json()
        if h["launcher"]["alive"] and h["launcher"]["pid"] != pid:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the launcher was not restarted")
    events = server.run({"files": {"main.py": "print('after restart')\n"}})
    assert "after restart" in output(events)


def test_pages_forbid_anything_from_elsewhere_and_docs_work_offline(server: Server) -> None:
    page = server.http.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    docs = server.http.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    assert server.http.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert server.http.get("/openapi.json").json()["info"]["title"] == "ProcLab"


def test_nul_bytes_pass_through_and_answers_come_with_the_end(server: Server) -> None:
    events = server.run({"files": {"main.py": "import sys\nsys.stdout.write('a\\x00b\\n')\n"}})
    assert "a\x00b\n" in output(events)
    fork = _lesson(server, "fork")
    events = server.run({"lesson": fork})
    fin = events[-1]
    assert fin["type"] == "run.finished" and isinstance(fin.get("answers"), dict) and fin["answers"]
    latest = server.http.get("/api/runs", params={"limit": 1}).json()[0]["id"]
    assert server.http.get(f"/api/runs/{latest}").json()["answers"] == fin["answers"]


def test_a_lesson_written_while_the_server_runs_appears(tmp_path) -> None:  # noqa: ANN001
    import shutil
    import time

    from conftest import ROOT, start_server, stop_server

    lessons = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons" / "02-fork", lessons / "02-fork")
    s = start_server(tmp_path, {"PROCLAB_LESSONS_DIR": str(lessons)})
    try:
        assert [x["id"] for x in s.http.get("/api/lessons").json()] == ["fork-basics"]
        new = lessons / "99-new"
        shutil.copytree(lessons / "02-fork", new)
        md = new / "lesson.md"
        md.write_text(md.read_text().replace("id: fork-basics", "id: fork-again"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "fork-again" in [x["id"] for x in s.http.get("/api/lessons").json()]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the new lesson did not appear")
        md.write_text("---\nid: [broken\n---\n")
        time.sleep(1.2)
        errors = s.http.get("/api/lessons/errors").json()
        assert any(e["file"].endswith("99-new/lesson.md") and e["line"] for e in errors), errors
    finally:
        stop_server(s)
