"""Issue 15, bad input: a clear 4xx that names the field, and nothing stored or started (real server)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import websockets
from conftest import Server, http_client, output

from app.lessons import LessonError, load_lesson

MAIN = {"main.py": "print('hi')\n"}


def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret}"}


def run_count(server: Server) -> int:
    return len(server.http.get("/api/runs", params={"limit": 500}, headers=auth(server)).json())


def going(server: Server) -> int:
    return int(server.http.get("/healthz").json()["runs"]["running"]) + int(
        server.http.get("/healthz").json()["runs"]["queued"])


def detail_text(r: httpx.Response) -> str:
    return json.dumps(r.json()["detail"])


@pytest.mark.parametrize("field,value,expect", [
    ("wall_s", "NaN", "finite"), ("wall_s", "Infinity", "finite"), ("leftover_s", "NaN", "finite"),
    ("cpu_s", "-1", "greater than or equal to 0.1"), ("wall_s", "0", "greater than or equal to 0.1"),
    ("wall_s", "1e-320", "greater than or equal to 0.1"), ("processes", "0", "greater than"),
    ("wall_s", "1e300", "at most 30"), ("memory_mb", "100000", "at most 256"), ("nope_s", "1", "nope_s"),
    # Below what the kernel lets a cgroup be set to once the run's set-up is in it: an OSError (EBUSY) before.
    ("memory_mb", "2", "greater than or equal to 16"),
    # Not numbers: once quietly read as 5 s and 1 s.
    ("wall_s", '"5"', "valid number"), ("cpu_s", "true", "valid number"), ("processes", "true", "valid integer"),
])
def test_bad_limits_are_422_naming_field_and_range(server: Server, field: str, value: str, expect: str) -> None:
    before = run_count(server)
    body = '{"files": {"main.py": "print(1)"}, "limits": {"' + field + '": ' + value + "}}"
    r = server.http.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    text = detail_text(r)
    assert field in text and expect in text, text
    assert run_count(server) == before


def test_a_body_over_the_cap_is_413_before_anything_is_stored(server: Server) -> None:
    before = run_count(server)
    big = {"files": {"main.py": "print(1)\n", "data.txt": "x" * (2 * 2**20)}}
    r = server.http.post("/api/runs", json=big)
    assert r.status_code == 413 and "KiB" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"files": {"main.py": "print(1)", "d.txt": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}}'

    r = server.http.post("/api/runs", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    big_file = server.http.post("/api/runs", json={"files": {"main.py": "#" * (300 * 1024)}})
    assert big_file.status_code == 413 and "main.py" in big_file.text
    big_stdin = server.http.post("/api/runs", json={"files": MAIN, "stdin": "z" * (300 * 1024)})
    assert big_stdin.status_code == 422 and "stdin" in big_stdin.text
    assert run_count(server) == before


BAD_NAMES = ["a\x00b.py", "x" * 256 + ".py", "dir/main.py", "..\\evil.py", "", ".hidden.py"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_file_names_are_422_on_every_path(server: Server, name: str) -> None:
    before = run_count(server)
    files = {**MAIN, name: "print(2)\n"}
    r = server.http.post("/api/runs", json={"files": files})
    assert r.status_code == 422 and "file name" in r.text, r.text
    room = server.http.post("/api/rooms", json={"title": "names"}, headers=auth(server)).json()
    r = server.http.post(f"/api/rooms/{room['code']}/runs", json={"files": files}, headers=auth(server))
    assert r.status_code == 422 and "file name" in r.text, r.text
    header = {"proclab_recording": 1, "run": {"id": "x", "files": files}}
    r = server.http.post("/api/runs/import", content=json.dumps(header) + "\n", headers=auth(server))
    assert r.status_code == 422 and "file name" in r.text, r.text
    assert run_count(server) == before


# JSON's \\ud800 escape gives a lone surrogate, a str that no file, database or response can hold: a run of it
# ended as "'utf-8' codec can't encode …", and its export and run page were 500s.
SURROGATE_FILES = ['{"main.py": "print(1)", "\\ud800.py": "x"}', '{"main.py": "print(\'\\ud800\')"}']


@pytest.mark.parametrize("files", SURROGATE_FILES)
def test_lone_surrogates_in_files_are_422_on_every_path(server: Server, files: str) -> None:
    before = run_count(server)
    json_body = {"content-type": "application/json"}
    room = server.http.post("/api/rooms", json={"title": "text"}, headers=auth(server)).json()
    for path, extra, headers in [("/api/runs", "", json_body), (f"/api/rooms/{room['code']}/runs", "", auth(server)),
                                 ("/api/batches", ', "count": 2', json_body)]:
        r = server.http.post(path, content='{"files": ' + files + extra + "}",
                             headers={**headers, "content-type": "application/json"})
        assert r.status_code == 422 and "Unicode text" in r.text, (path, r.text)
    student = http_client(server.base, timeout=30)
    student.post(f"/api/rooms/{room['code']}/students", json={"name": "Ann"})
    r = student.post(f"/api/rooms/{room['code']}/my-runs", content='{"lesson": "fork-basics", "files": ' + files + "}",
                     headers={"content-type": "application/json"})
    assert r.status_code == 422 and "Unicode text" in r.text, r.text
    header = '{"proclab_recording": 1, "run": {"id": "x", "files": ' + files + "}}\n"
    r = server.http.post("/api/runs/import", content=header, headers=auth(server))
    assert r.status_code == 422 and "surrogate" in r.text, r.text
    assert run_count(server) == before


def test_lesson_save_refuses_bad_names(server: Server) -> None:
    lesson = server.http.get("/api/lessons").json()[0]["id"]
    for name in ("a%00b.py", "x" * 256 + ".py", "..%5Cx.py"):
        r = server.http.put(f"/api/lessons/{lesson}/files/{name}", json={"content": "x"}, headers=auth(server))
        assert r.status_code == 422 and "file name" in r.text, (name, r.text)


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=100000", "limit=abc"])
def test_out_of_range_query_values_are_422(server: Server, query: str) -> None:
    r = server.http.get(f"/api/runs?{query}")
    assert r.status_code == 422 and "limit" in r.text


def test_after_must_be_a_seq(server: Server) -> None:
    run_id = server.http.post("/api/runs", json={"files": MAIN}).json()["id"]
    server.wait(run_id)
    assert server.http.get(f"/api/runs/{run_id}/events?after=-5").status_code == 422
    assert server.http.get(f"/api/runs/{run_id}/events?after=2").status_code == 200


def test_pace_and_signal_422s_list_the_choices(server: Server) -> None:
    r = server.http.post("/api/runs", json={"files": MAIN, "pace": {"mode": "fast"}})
    assert r.status_code == 422 and all(m in r.text for m in ("normal", "paused", "step", "slow"))
    run_id = server.http.post("/api/runs", json={"files": {"main.py": "import time\ntime.sleep(2)\n"}}).json()["id"]
    r = server.http.post(f"/api/runs/{run_id}/signal", json={"pid": 1, "signal": "SIGSEGV"})
    assert r.status_code == 422 and "SIGUSR1" in r.text
    server.http.post(f"/api/runs/{run_id}/stop")
    server.wait(run_id)


def test_a_signal_is_taken_only_for_a_live_process_of_the_run(server: Server) -> None:
    """A signal to a pid that is not the run's, or whose process has ended, would be answered ok and
    never sent: it is a 409 naming the pid. A live process's signal is taken and delivered."""
    code = "import os, time\nif os.fork() == 0:\n    os._exit(3)\nos.wait()\nprint('ready', flush=True)\ntime.sleep(30)\n"
    run_id = server.http.post("/api/runs", json={"files": {"main.py": code}}).json()["id"]
    deadline = time.monotonic() + 30
    events: list[dict] = []
    while time.monotonic() < deadline and not any(e["type"] == "io.output" and "ready" in e.get("text", "")
                                                  for e in events):
        events = server.http.get(f"/api/runs/{run_id}/events").json()
        time.sleep(0.05)
    spawned = [e for e in events if e["type"] == "proc.spawn"]
    root, child = spawned[0]["pid"], spawned[1]["pid"]
    r = server.http.post(f"/api/runs/{run_id}/signal", json={"pid": child, "signal": "SIGTERM"})
    assert r.status_code == 409 and r.json()["code"] == "process_ended" and str(child) in r.json()["detail"]
    stranger = max(e["pid"] for e in spawned) + 40
    r = server.http.post(f"/api/runs/{run_id}/signal", json={"pid": stranger, "signal": "SIGTERM"})
    assert r.status_code == 409 and r.json()["code"] == "not_in_run" and str(stranger) in r.json()["detail"]
    r = server.http.post(f"/api/runs/{run_id}/signal", json={"pid": root, "signal": "SIGTERM"})
    assert r.status_code == 200
    exit_ = next(e for e in server.wait(run_id) if e["type"] == "proc.exit" and e["pid"] == root)
    assert exit_["signal"] == "SIGTERM"


NESTED: list = []
for _ in range(20):
    NESTED = [NESTED]
HEADER = json.dumps({"proclab_recording": 1, "run": {"id": "r", "files": MAIN}})
FINISHED = {"v": 1, "seq": 0, "t": 0, "type": "run.finished", "status": "ok", "code": 0, "reason": None,
            "duration_ms": 5}


@pytest.mark.parametrize("body,expect", [
    (b"", "empty"),
    (b"\xff\xfe", "UTF-8"),
    (b"[1, 2]\n", "line 1"),
    (b'{"proclab_recording": 1, "run": []}\n', "line 1"),
    (HEADER.encode() + b"\n" + b"[" * 100000 + b"]" * 100000 + b"\n", "nested too deeply"),
    (HEADER.encode() + b"\n" + json.dumps({"seq": 0, "type": "io.output", "x": NESTED}).encode(), "nested too deeply"),
    (HEADER.encode() + b"\n[]\n", "an event is an object, not a list"),
    (HEADER.encode() + b'\n{"seq": 5, "type": "io.output"}\n', "seq 0"),
    (HEADER.encode() + b'\n{"seq": 0, "type": "no.such"}\n', "type"),
    (HEADER.encode() + b'\n{"seq": 0, "type": "run.error", "t": "soon"}\n', "t must be"),
    (b'{"proclab_recording": 1, "run": {"files": ["main.py"]}}\n', "run.files"),
    (b'{"proclab_recording": 1, "run": {"result": "ok"}}\n', "run.result"),
    (HEADER.encode() + b"\nnot json\n", "line 2 is not JSON"),
    # Python's json reads these; stored, NaN became null on one path and NaN (not JSON) on the export.
    (HEADER.encode() + b'\n{"seq": 0, "type": "io.output", "t": 0, "x": NaN}\n', "NaN is not a JSON number"),
    (b'{"proclab_recording": 1, "run": {"result": {"a": Infinity}}}\n', "Infinity is not a JSON number"),
    # A lone surrogate was stored, then every read of the run (export, its page) was a 500.
    (HEADER.encode() + b'\n{"seq": 0, "type": "io.output", "t": 0, "text": "\\ud800"}\n', "lone surrogate"),
    (b'{"proclab_recording": 1, "run": {"lesson": "\\udc00"}}\n', "lone surrogate"),
    # Fields of the event's type with the wrong type were stored, and the replay page was fed them.
    (HEADER.encode() + b'\n' + json.dumps({**FINISHED, "status": 5}).encode(), "status of a run.finished event"),
    (HEADER.encode() + b'\n' + json.dumps({**FINISHED, "duration_ms": -3}).encode(), "at least 0"),
    (HEADER.encode() + b'\n{"v": 1, "seq": 0, "t": 0, "type": "proc.spawn", "pid": "x", "ppid": []}', "of a proc.spawn event must be"),
    (HEADER.encode() + b'\n{"v": 1, "seq": 0, "t": 0, "type": "io.output", "pid": 2, "stream": "x", "text": 1}', "io.output"),
])
def test_malformed_recordings_are_422_naming_what_is_wrong(server: Server, body: bytes, expect: str) -> None:
    before = run_count(server)
    r = server.http.post("/api/runs/import", content=body, headers=auth(server))
    assert r.status_code == 422, r.text[:500]
    assert expect in detail_text(r), detail_text(r)[:500]
    assert run_count(server) == before


def test_an_export_of_a_run_that_printed_line_separators_imports_back(server: Server) -> None:
    # U+2028, U+0085 and U+001E stay as they are in an export (JSON does not escape them); str.splitlines()
    # split the recording there, so its events were "not JSON".
    src = "print('a\\u2028b\\x85c\\x1ed')\n"
    run_id = server.http.post("/api/runs", json={"files": {"main.py": src}}).json()["id"]
    events = server.wait(run_id)
    assert "a\u2028b\x85c" in output(events)
    export = server.http.get(f"/api/runs/{run_id}/export", headers=auth(server))
    assert export.status_code == 200 and "\u2028" in export.text
    r = server.http.post("/api/runs/import", content=export.content, headers=auth(server))
    assert r.status_code == 201, r.text
    back = server.http.get(f"/api/runs/{r.json()['id']}/events", headers=auth(server)).json()
    assert back == events


BOMB = """---
id: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
---
"""


def test_yaml_alias_expansion_is_bounded(tmp_path: Path, server: Server) -> None:
    (tmp_path / "bomb").mkdir()
    (tmp_path / "bomb" / "lesson.md").write_text(BOMB)
    (tmp_path / "bomb" / "main.py").write_text("print(1)\n")
    with pytest.raises(LessonError) as e:
        load_lesson(tmp_path / "bomb")
    assert "aliases" in e.value.message and e.value.line == 2
    lesson = server.http.get("/api/lessons").json()[0]["id"]
    r = server.http.put(f"/api/lessons/{lesson}/files/lesson.md", json={"content": BOMB}, headers=auth(server))
    assert r.status_code == 422 and "aliases" in r.text
    assert len(r.content) < 10_000


def _lesson_md(server: Server, lesson: str) -> str:
    return str(server.http.get(f"/api/lessons/{lesson}/files/lesson.md", headers=auth(server)).json()["content"])


@pytest.mark.parametrize("old,new,expect", [
    ("id:", "deep: " + "[" * 3000 + "]" * 3000 + "\nid:", "nested too deeply"),  # PyYAML's composer recursed: a 500
    ("id:", "when: 2024-13-45\nid:", "month must be in 1..12"),  # a timestamp PyYAML cannot build: a 500
    ("  wall_s: 10", "  memory_mb: 1", "at least 16"),  # saved, then every run of the lesson was an OSError
])
def test_lesson_front_matter_python_cannot_build_is_422(server: Server, old: str, new: str, expect: str) -> None:
    lesson = "fork-basics"
    text = _lesson_md(server, lesson)
    assert old in text
    r = server.http.put(f"/api/lessons/{lesson}/files/lesson.md", json={"content": text.replace(old, new, 1)},
                        headers=auth(server))
    assert r.status_code == 422 and expect in r.text, r.text[:500]
    assert _lesson_md(server, lesson) == text  # nothing saved


@pytest.mark.parametrize("after", ["abc", "-5", "99999999999", "1e3", "x" * 5000])
def test_a_run_websocket_with_a_bad_after_is_closed_with_a_reason(server: Server, after: str) -> None:
    # FastAPI's own check of ?after= refused the handshake with a bare 403, as if the run were someone else's.
    run_id = server.http.post("/api/runs", json={"files": MAIN}).json()["id"]
    server.wait(run_id)
    url = server.base.replace("http", "ws") + f"/ws/runs/{run_id}"
    cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in server.http.cookies.items())}

    async def close_of(query: str) -> tuple[int | None, str, int]:
        frames = 0
        try:
            async with websockets.connect(url + query, additional_headers=cookie) as ws:
                async for _ in ws:
                    frames += 1
                return ws.close_code, ws.close_reason or "", frames
        except websockets.exceptions.ConnectionClosed as e:
            return (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else ""), frames

    code, reason, frames = asyncio.run(close_of(f"?after={after}"))
    assert (code, frames) == (4422, 0) and "after" in reason and "seq" in reason, (code, reason)
    code, _, frames = asyncio.run(close_of("?after=0"))
    assert code == 1000 and frames >= 1


def test_a_large_recording_reads_back_whole(server: Server) -> None:
    # Large answers are encoded in a worker thread (the event loop stalled for seconds on 500 000 events):
    # the same events come back, above and below that size.
    events = [{"v": 1, "seq": i, "t": i * 1000, "type": "io.output", "pid": 2, "stream": "stdout",
               "text": f"line {i} \u2028 é\n"} for i in range(3000)]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in [json.loads(HEADER), *events]) + "\n"
    r = server.http.post("/api/runs/import", content=body.encode(), headers=auth(server))
    assert r.status_code == 201, r.text[:300]
    run_id = r.json()["id"]
    got = server.http.get(f"/api/runs/{run_id}/events", headers=auth(server))
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.json() == events
    assert server.http.get(f"/api/runs/{run_id}/events?after=2990", headers=auth(server)).json() == events[2991:]
    export = server.http.get(f"/api/runs/{run_id}/export", headers=auth(server))
    assert [json.loads(line) for line in export.text.split("\n") if line][1:] == events
