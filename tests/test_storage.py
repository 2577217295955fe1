"""Recordings in a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

from app.storage import Storage


def test_save_and_reload_from_a_new_connection(tmp_path: Path) -> None:
    db = tmp_path / "data" / "proclab.db"
    s = Storage(db)
    events = [{"v": 1, "seq": i, "t": i * 10, "type": "io.output", "pid": 1, "stream": "stdout", "text": f"{i}\n"}
              for i in range(5)]
    s.save_run({"id": "r1", "lesson": "fork-basics", "status": "finished", "created": time.time(),
                "result": {"status": "ok"}, "files": {"main.py": "x"}, "answers": {"q": 2}}, events)
    s.close()
    s2 = Storage(db)
    run = s2.get_run("r1")
    assert run is not None and run["result"] == {"status": "ok"} and run["answers"] == {"q": 2}
    assert [e["seq"] for e in s2.get_events("r1")] == [0, 1, 2, 3, 4]
    assert [e["seq"] for e in s2.get_events("r1", after=2)] == [3, 4]
    assert s2.get_run("nope") is None
    assert (db.parent.stat().st_mode & 0o777) == 0o700


def test_prune_removes_old_runs_and_their_events(tmp_path: Path) -> None:
    s = Storage(tmp_path / "p.db")
    s.save_run({"id": "old", "status": "finished", "created": time.time() - 40 * 86400}, [
        {"v": 1, "seq": 0, "t": 0, "type": "run.error", "detail": "x"}])
    s.save_run({"id": "new", "status": "finished", "created": time.time()}, [])
    assert s.prune(30) == 1
    assert s.get_run("old") is None and s.get_events("old") == [] and s.get_run("new")
