"""Recordings in a real SQLite file and a real PostgreSQL server (tests/pg_server.py): the same Storage and
ClassStore methods, the same answers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.classroom.store import ClassStore
from app.storage import Storage, StorageError


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A SQLite file's path, or the URL of an empty PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "proclab.db"
    return str(request.getfixturevalue("fresh_postgres"))


def ev(seq: int, text_: str = "x") -> dict[str, Any]:
    return {"v": 1, "seq": seq, "t": seq * 10, "type": "io.output", "pid": 1, "stream": "stdout", "text": text_}


def js(e: dict[str, Any]) -> str:
    return json.dumps(e, separators=(",", ":"))


def interrupted(run: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"v": 1, "type": "run.finished", "status": "error", "outcome": {"code": "interrupted"}}


def test_save_and_reload_from_a_new_connection(target: Path | str) -> None:
    s = Storage(target)
    events = [ev(i, f"{i}\n") for i in range(5)]
    created = time.time()
    s.save_run({"id": "r1", "lesson": "fork-basics", "status": "finished", "created": created,
                "result": {"status": "ok"}, "files": {"main.py": "x"}, "answers": {"q": 2}}, events)
    s.close()
    s2 = Storage(target)
    run = s2.get_run("r1")
    assert run is not None and run["result"] == {"status": "ok"} and run["answers"] == {"q": 2}
    assert run["files"] == {"main.py": "x"} and run["created"] == created  # full precision (not float4)
    assert [e["seq"] for e in s2.get_events("r1")] == [0, 1, 2, 3, 4]
    assert [e["seq"] for e in s2.get_events("r1", after=2)] == [3, 4]
    assert s2.get_run("nope") is None
    if isinstance(target, Path):
        assert (target.parent.stat().st_mode & 0o777) == 0o700
    s2.close()


def test_prune_removes_old_runs_and_their_events(target: Path | str) -> None:
    s = Storage(target)
    s.save_run({"id": "old", "status": "finished", "created": time.time() - 40 * 86400}, [
        {"v": 1, "seq": 0, "t": 0, "type": "run.error", "detail": "x"}])
    s.save_run({"id": "new", "status": "finished", "created": time.time()}, [])
    assert s.prune(30) == 1
    assert s.get_run("old") is None and s.get_events("old") == [] and s.get_run("new")
    s.close()


def test_events_are_readable_by_another_process_while_the_run_goes(target: Path | str) -> None:
    """A second Storage (another node, or the next process) sees what was written so far."""
    writer, reader = Storage(target, node="n1"), Storage(target, node="n2")
    run = {"id": "going", "status": "running", "created": time.time(), "owner": "c1", "room": "ROOM"}
    assert writer.begin_run(run)
    assert writer.append_events("going", [(i, js(ev(i))) for i in range(50)])
    assert [e["seq"] for e in reader.get_events("going")] == list(range(50))
    got = reader.get_run("going")
    assert got is not None and got["status"] == "running" and got["node"] == "n1"
    assert writer.append_events("going", [(50, js(ev(50, "again"))), (49, js(ev(49, "replaced")))])
    assert writer.finish_run({**run, "status": "finished", "finished": time.time(), "result": {"status": "ok"}},
                             [(51, js({"v": 1, "seq": 51, "type": "run.finished"}))])
    events = reader.get_events("going")
    assert len(events) == 52 and events[49]["text"] == "replaced" and events[-1]["type"] == "run.finished"
    assert reader.list_runs(room="ROOM")[0]["id"] == "going" and reader.list_runs(owner="c2") == []
    assert writer.health() == (True, None) and reader.ping(2) is None
    writer.close()
    reader.close()


def test_a_restart_ends_only_its_own_nodes_runs_and_a_lost_node_is_ended_by_another(target: Path | str) -> None:
    a, b = Storage(target, node="a"), Storage(target, node="b")
    for s, run_id in ((a, "ra"), (b, "rb"), (b, "rb2")):
        s.begin_run({"id": run_id, "status": "running", "created": time.time()})
        s.append_events(run_id, [(0, js(ev(0))), (1, js(ev(1)))])
    assert a.interrupted(interrupted, node="a") == ["ra"]
    assert b.get_run("rb")["status"] == "running"  # type: ignore[index]
    fin = a.get_events("ra")[-1]
    assert fin["seq"] == 2 and fin["outcome"] == {"code": "interrupted"}

    def lost(run: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        return {"v": 1, "type": "run.finished", "status": "error", "outcome": {"code": "node_lost"}}
    assert a.mark_node_lost("b", lost) == ["rb", "rb2"]
    for run_id in ("rb", "rb2"):
        rec = a.get_run(run_id)
        assert rec is not None and rec["status"] == "finished" and rec["node"] == "b"  # still b's run
        assert rec["result"]["outcome"] == {"code": "node_lost"}
        assert [e["seq"] for e in a.get_events(run_id)] == [0, 1, 2]
    assert a.mark_node_lost("b", lost) == [] and a.interrupted(interrupted) == []
    a.close()
    b.close()


def test_batches_are_kept(target: Path | str) -> None:
    s = Storage(target)
    batch = {"id": "b1", "created": time.time(), "lesson": "race", "owner": "c1", "count": 3,
             "metric": {"metric": "output_order"}, "runs": ["r1"], "refused": None}
    assert s.add_batch(batch)
    assert s.add_batch({**batch, "runs": ["r1", "r2"], "refused": "the server is full"})
    s.close()
    s2 = Storage(target)
    got = s2.get_batch("b1")
    assert got == {**batch, "runs": ["r1", "r2"], "refused": "the server is full", "room": None}
    assert s2.get_batch("b2") is None
    s2.close()


def test_classroom_tables(target: Path | str) -> None:
    s = Storage(target)
    cs = ClassStore(s)
    ann, token = cs.add_student("ROOM", "Ann")
    bob, _ = cs.add_student("ROOM", "Bob")
    assert cs.students("ROOM") == [ann, bob] and set(cs.tokens("ROOM").values()) == {ann["id"], bob["id"]}
    assert cs.rename("ROOM", ann["id"], "Anna") and not cs.rename("ROOM", "nobody", "x")
    assert cs.current_round("ROOM", "L") == 1
    assert cs.predict("ROOM", "L", "q1", ann["id"], "a") == 1
    cs.predict("ROOM", "L", "q1", ann["id"], "b")  # a changed answer replaces the first
    cs.predict("ROOM", "L", "q1", bob["id"], "b")
    assert cs.new_round("ROOM", "L") == 2
    cs.predict("ROOM", "L", "q1", bob["id"], "c")
    assert cs.histogram("ROOM", "L") == {1: {"q1": {"b": 2}}, 2: {"q1": {"c": 1}}}
    assert cs.remove("ROOM", bob["id"]) and not cs.remove("ROOM", bob["id"])
    assert cs.histogram("ROOM", "L") == {1: {"q1": {"b": 1}}}  # a removed student's votes are left out
    assert [x["name"] for x in cs.students("ROOM")] == ["Anna"]
    for passed, run_id in ((False, "r1"), (True, "r2"), (False, "r3")):
        cs.record_attempt("ROOM", ann["id"], "L", "e1", passed, run_id)
    [row] = cs.progress("ROOM")
    assert row["attempts"] == 3 and row["passed"] is True and row["last_run"] == "r3"
    assert row["passed_at"] is not None and row["passed_at"] >= row["first_try"]
    cs.add_run("ROOM", ann["id"], "r1", "L", "e1")
    cs.add_run("ROOM", ann["id"], "r2", "L", None)
    cs.add_run("ROOM", ann["id"], "r1", "L", "e1")  # again: still one row
    assert sorted(cs.runs_of_lesson("ROOM", "L")) == ["r1", "r2"]
    s.close()


def test_rooms(target: Path | str) -> None:
    s = Storage(target)
    s.add_room("ABCD", "Processes")
    got = s.get_room("ABCD")
    assert got is not None and got["title"] == "Processes" and s.get_room("ZZZZ") is None
    s.add_room("NULS", "a\x00b")  # PostgreSQL's text has no NUL: kept as U+FFFD there, not a failed write
    assert s.get_room("NULS")["title"] == ("a\x00b" if isinstance(target, Path) else "a\ufffdb")  # type: ignore[index]
    s.close()


def test_a_postgres_that_refuses_writes_is_reported_and_runs_are_not_stopped(fresh_postgres: str) -> None:
    """A read-only database (a standby, a full quota): the write fails, health() names it, no exception."""
    s = Storage(fresh_postgres)
    s.begin_run({"id": "r", "status": "running", "created": time.time()})
    s.close()
    admin = create_engine(fresh_postgres.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    name = fresh_postgres.rsplit("/", 1)[1]
    with admin.connect() as c:
        c.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = on"))
    s = Storage(fresh_postgres)  # reads (and the migration check at head) still work
    assert s.append_events("r", [(0, js(ev(0)))]) is False
    assert s.health() == (False, "read_only")
    assert s.get_events("r") == []
    with admin.connect() as c:
        c.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = off"))
    s.engine.dispose()  # new connections get the new default
    assert s.append_events("r", [(0, js(ev(0)))]) and s.health() == (True, None)
    s.close()
    admin.dispose()


def test_an_unreachable_or_unknown_database_names_the_url_and_what_to_do(tmp_path: Path) -> None:
    from conftest import free_port

    url = f"postgresql://proclab:secret@127.0.0.1:{free_port()}/proclab"
    with pytest.raises(StorageError) as e:
        Storage(url)
    text_ = str(e.value)
    assert "127.0.0.1" in text_ and "secret" not in text_ and "PROCLAB_DATABASE_URL" in text_
    assert "refused" in text_.lower()
    with pytest.raises(StorageError, match="mysql.*expected sqlite:///"):
        Storage("mysql://u@h/db")
