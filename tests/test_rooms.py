"""Instructors and classrooms against a real server, a real SQLite file and real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets
from conftest import Server, http_client, of, start_server, stop_server


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def fork_lesson(server: Server) -> str:
    return next(x["id"] for x in server.http.get("/api/lessons").json() if "fork" in x["id"])


def test_instructor_endpoints_answer_401_without_the_token(server: Server) -> None:
    assert server.http.post("/api/rooms").status_code == 401
    assert server.http.post("/api/rooms", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert server.http.post("/api/rooms/ABCDE/runs", json={"lesson": "x"}).status_code == 401
    assert server.http.put("/api/lessons/x/files/main.py", json={"content": ""}).status_code == 401
    assert server.http.post("/api/runs/import", content=b"{}").status_code == 401
    assert server.http.post("/api/rooms", headers=auth(server)).status_code == 201


def test_signin_form_sets_a_cookie_that_is_not_the_token(server: Server) -> None:
    c = http_client(server.base)
    r = c.post("/signin", content=f"token={server.secret}", headers={"content-type":
                                                                      "application/x-www-form-urlencoded"})
    assert r.status_code == 303
    cookie = c.cookies.get("pl_instructor")
    assert cookie and server.secret not in cookie
    assert c.get("/api/me").json()["instructor"] is True
    assert c.post("/api/rooms").status_code == 201
    bad = http_client(server.base).post("/signin", content="token=nope",
                                                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 401


async def _listen(url: str, until_finished: int, out: list[dict]) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        finished = 0
        while finished < until_finished:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            for ev in frame if isinstance(frame, list) else [frame]:
                out.append(ev)
                if ev["type"] == "run.finished":
                    finished += 1


def test_room_run_reaches_100_clients_identically_and_late_joiners_catch_up(server: Server) -> None:
    room = server.http.post("/api/rooms", json={"title": "OS class"}, headers=auth(server)).json()
    assert len(room["code"]) == 5 and "<svg" in room["qr_svg"] and room["url"].endswith(f"/room/{room['code']}")
    url = server.base.replace("http", "ws") + f"/ws/rooms/{room['code']}"
    lesson = fork_lesson(server)

    async def scenario() -> tuple[list[list[dict]], list[dict]]:
        streams: list[list[dict]] = [[] for _ in range(100)]
        tasks = [asyncio.create_task(_listen(url, 1, s)) for s in streams]
        await asyncio.sleep(1.0)  # all connected
        async with httpx.AsyncClient(base_url=server.base) as c:
            info = (await c.get(f"/api/rooms/{room['code']}")).json()
            assert info["clients"] == 100
            r = await c.post(f"/api/rooms/{room['code']}/runs", json={"lesson": lesson}, headers=auth(server))
            assert r.status_code == 201, r.text
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
        late: list[dict] = []
        await _listen(url, 1, late)
        return streams, late

    streams, late = asyncio.run(scenario())
    first = [(e["run"], e["seq"], e["type"]) for e in streams[0]]
    assert first and streams[0][-1]["type"] == "run.finished"
    assert [e["seq"] for e in streams[0]] == list(range(len(streams[0])))
    for s in streams[1:]:
        assert [(e["run"], e["seq"], e["type"]) for e in s] == first
    assert [(e["run"], e["seq"], e["type"]) for e in late] == first
    # A student may not control the classroom run.
    run_id = streams[0][0]["run"]
    assert server.http.post(f"/api/runs/{run_id}/stop").status_code in (403, 200)


def test_student_cannot_control_someone_elses_run(server: Server) -> None:
    mine = http_client(server.base)
    mine.get("/healthz")  # gets a pl_client cookie
    r = mine.post("/api/runs", json={"files": {"main.py": "import time\ntime.sleep(20)\n"}})
    run_id = r.json()["id"]
    other = http_client(server.base)
    other.get("/healthz")
    assert other.post(f"/api/runs/{run_id}/stop").status_code == 403
    assert mine.post(f"/api/runs/{run_id}/stop").status_code == 200
    server.wait(run_id, 20)


def test_lesson_files_are_validated_before_saving(server: Server, tmp_path: Path) -> None:
    lesson = fork_lesson(server)
    raw = server.http.get(f"/api/lessons/{lesson}/files/lesson.md", headers=auth(server))
    assert raw.status_code == 200 and raw.json()["content"].startswith("---")
    assert server.http.get(f"/api/lessons/{lesson}/files/lesson.md").status_code == 401
    assert server.http.get(f"/api/lessons/{lesson}/files/..%2Fx", headers=auth(server)).status_code == 404
    detail = server.http.get(f"/api/lessons/{lesson}").json()
    broken = server.http.put(f"/api/lessons/{lesson}/files/main.py", json={"content": "if True\n  x = 1\n"},
                             headers=auth(server))
    assert broken.status_code == 422
    err = broken.json()["detail"]
    assert err["file"].endswith("main.py") and err["line"] == 1
    # Nothing was lost: the lesson still has its original code.
    assert server.http.get(f"/api/lessons/{lesson}").json()["files"]["main.py"] == detail["files"]["main.py"]
    same = server.http.put(f"/api/lessons/{lesson}/files/main.py", json={"content": detail["files"]["main.py"]},
                           headers=auth(server))
    assert same.status_code == 200
    check = server.http.post(f"/api/lessons/{lesson}/check", headers=auth(server), timeout=60).json()
    assert check["ok"] is True and all(r["ok"] for r in check["results"])


def test_recording_survives_a_restart_and_round_trips_through_ndjson(tmp_path: Path) -> None:
    s = start_server(tmp_path)
    try:
        events = s.run({"lesson": fork_lesson(s)})
        run_id = events[0]["run"] if "run" in events[0] else None
        runs = s.http.get("/api/runs").json()
        run_id = runs[0]["id"]
        exported = s.http.get(f"/api/runs/{run_id}/export")
        assert exported.status_code == 200
        cookies = dict(s.http.cookies)  # the same browser comes back
    finally:
        stop_server(s)
    s = start_server(tmp_path)  # same data dir: a new process, the same SQLite file
    s.http.cookies.update(cookies)
    try:
        again = s.http.get(f"/api/runs/{run_id}/events").json()
        assert again == events
        assert s.http.get(f"/api/runs/{run_id}").json()["status"] == "finished"
        page = s.http.get(f"/runs/{run_id}")
        assert page.status_code == 200
        imported = s.http.post("/api/runs/import", content=exported.content, headers=auth(s))
        assert imported.status_code == 201, imported.text
        new_id = imported.json()["id"]
        assert new_id != run_id
        assert s.http.get(f"/api/runs/{new_id}/events", headers=auth(s)).json() == events
        bad = s.http.post("/api/runs/import", content=b'{"nope": 1}\n', headers=auth(s))
        assert bad.status_code == 422 and "line 1" in bad.text
    finally:
        stop_server(s)


def test_room_info_carries_its_qr_code(server: Server) -> None:
    code = server.http.post("/api/rooms", headers=auth(server)).json()["code"]
    info = server.http.get(f"/api/rooms/{code}").json()
    assert info["qr_svg"].startswith("<svg") and info["url"].endswith(code)
    assert server.http.get(f"/room/{code}").status_code == 200


@pytest.mark.parametrize("path", ["/api/rooms/NOPE1", "/room/NOPE1"])
def test_unknown_room_is_404(server: Server, path: str) -> None:
    assert server.http.get(path).status_code == 404


def test_events_of_a_room_name_their_run(server: Server) -> None:
    room = server.http.post("/api/rooms", headers=auth(server)).json()
    r = server.http.post(f"/api/rooms/{room['code']}/runs", json={"lesson": fork_lesson(server)},
                         headers=auth(server))
    server.wait(r.json()["id"])
    got: list[dict] = []
    asyncio.run(_listen(server.base.replace("http", "ws") + f"/ws/rooms/{room['code']}", 1, got))
    assert got and all(e["run"] == r.json()["id"] for e in got)
    assert of(got, "run.finished")


def test_instructors_are_not_counted_as_students(server: Server) -> None:
    code = server.http.post("/api/rooms", headers=auth(server)).json()["code"]
    url = server.base.replace("http", "ws") + f"/ws/rooms/{code}"

    async def connect() -> dict:
        async with websockets.connect(url), websockets.connect(url), \
                websockets.connect(url, additional_headers=auth(server)):
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(base_url=server.base) as c:
                return (await c.get(f"/api/rooms/{code}")).json()

    info = asyncio.run(connect())
    assert info["clients"] == 2 and info["instructors"] == 1


def test_a_refused_save_names_the_file_that_failed(server: Server) -> None:
    lesson = fork_lesson(server)
    r = server.http.put(f"/api/lessons/{lesson}/files/helper.py", json={"content": "x = 1\ny = (\n"},
                        headers=auth(server))
    assert r.status_code == 422
    assert r.json()["detail"]["file"] == "helper.py" and r.json()["detail"]["line"] == 2
    assert "helper.py" not in server.http.get(f"/api/lessons/{lesson}").json()["files"]


def test_room_links_use_the_public_url_when_set(tmp_path: Path) -> None:
    s = start_server(tmp_path, {"PROCLAB_PUBLIC_URL": "http://10.1.2.3:8000/"})
    try:
        room = s.http.post("/api/rooms", headers=auth(s)).json()
        assert room["url"] == f"http://10.1.2.3:8000/room/{room['code']}"
    finally:
        stop_server(s)
