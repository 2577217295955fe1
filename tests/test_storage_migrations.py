"""Alembic migrations (app/migrations/) and `proclab migrate`: an old SQLite file keeps every row, a fresh
database is exactly app/tables.py, and a data directory moves to a real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import ROOT
from sqlalchemy import create_engine, inspect

from app import tables as T
from app.classroom.store import ClassStore
from app.storage import Storage

# The schema as main's code (before migrations) made it, copied here as it was: CREATE TABLE IF NOT EXISTS
# in app/storage.py and app/classroom/store.py, then ALTER TABLE runs ADD COLUMN owner, share.
MAIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, lesson TEXT, status TEXT NOT NULL, created REAL NOT NULL,
    finished REAL, result TEXT, files TEXT, room TEXT, answers TEXT);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
CREATE INDEX IF NOT EXISTS runs_room ON runs (room);
CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS rooms (code TEXT PRIMARY KEY, created REAL NOT NULL, title TEXT);
CREATE TABLE IF NOT EXISTS students (room TEXT NOT NULL, id TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL, joined REAL NOT NULL, removed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (room, id));
CREATE TABLE IF NOT EXISTS prediction_rounds (room TEXT NOT NULL, lesson TEXT NOT NULL, round INTEGER NOT NULL,
    opened REAL NOT NULL, PRIMARY KEY (room, lesson, round));
CREATE TABLE IF NOT EXISTS predictions (room TEXT NOT NULL, lesson TEXT NOT NULL, round INTEGER NOT NULL,
    question TEXT NOT NULL, student TEXT NOT NULL, answer TEXT NOT NULL, t REAL NOT NULL,
    PRIMARY KEY (room, lesson, round, question, student));
CREATE TABLE IF NOT EXISTS progress (room TEXT NOT NULL, student TEXT NOT NULL, lesson TEXT NOT NULL,
    exercise TEXT NOT NULL, attempts INTEGER NOT NULL, passed INTEGER NOT NULL, first_try REAL NOT NULL,
    passed_at REAL, last_run TEXT, PRIMARY KEY (room, student, lesson, exercise));
CREATE TABLE IF NOT EXISTS class_runs (room TEXT NOT NULL, student TEXT NOT NULL, run TEXT NOT NULL PRIMARY KEY,
    lesson TEXT, exercise TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS class_runs_lesson ON class_runs (room, lesson);
"""
NOW = 1_790_000_000.25


def main_database(path: Path, with_added: bool = True, runs: int = 3) -> None:
    """A data directory's proclab.db as main's code left it, with rows in every table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(MAIN_SCHEMA)
    if with_added:
        db.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
        db.execute("ALTER TABLE runs ADD COLUMN share TEXT")
    for i in range(runs):
        values = [f"r{i}", "fork-basics", "finished", NOW + i, NOW + i + 1, json.dumps({"status": "ok"}),
                  json.dumps({"main.py": "print(1)"}), "ROOM" if i == 0 else None, None]
        if with_added:
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*values, f"c{i}", "s3cret"])
        else:
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        for seq in range(4):
            db.execute("INSERT INTO events VALUES (?, ?, ?)",
                       (f"r{i}", seq, json.dumps({"v": 1, "seq": seq, "type": "io.output", "text": f"{i}.{seq}"})))
    db.execute("INSERT INTO runs (id, status, created) VALUES ('going', 'running', ?)", (NOW - 1,))
    db.execute("INSERT INTO rooms VALUES ('ROOM', ?, 'Processes')", (NOW,))
    db.execute("INSERT INTO students VALUES ('ROOM', 'sann', 'hash1', 'Ann', ?, 0)", (NOW,))
    db.execute("INSERT INTO students VALUES ('ROOM', 'sbob', 'hash2', 'Bob', ?, 1)", (NOW,))
    db.execute("INSERT INTO prediction_rounds VALUES ('ROOM', 'fork-basics', 2, ?)", (NOW,))
    db.execute("INSERT INTO predictions VALUES ('ROOM', 'fork-basics', 1, 'q1', 'sann', 'a', ?)", (NOW,))
    db.execute("INSERT INTO progress VALUES ('ROOM', 'sann', 'fork-basics', 'e1', 2, 1, ?, ?, 'r0')", (NOW, NOW))
    db.execute("INSERT INTO class_runs VALUES ('ROOM', 'sann', 'r0', 'fork-basics', 'e1', ?)", (NOW,))
    db.commit()
    db.close()


@pytest.mark.parametrize("with_added", [True, False], ids=["main", "before-owner-columns"])
def test_a_database_made_by_mains_code_upgrades_with_every_row_kept(tmp_path: Path, with_added: bool) -> None:
    path = tmp_path / "data" / "proclab.db"
    main_database(path, with_added)
    s = Storage(path, node="n1")
    assert [r["id"] for r in s.list_runs(10)] == ["r2", "r1", "r0", "going"]
    r0 = s.get_run("r0")
    assert r0 is not None and r0["created"] == NOW and r0["files"] == {"main.py": "print(1)"}
    assert r0["result"] == {"status": "ok"} and r0["room"] == "ROOM" and r0["node"] is None
    assert (r0["owner"], r0["share"]) == (("c0", "s3cret") if with_added else (None, None))
    assert [e["text"] for e in s.get_events("r1")] == ["1.0", "1.1", "1.2", "1.3"]
    assert s.get_room("ROOM") == {"code": "ROOM", "created": NOW, "title": "Processes"}
    cs = ClassStore(s)
    assert cs.students("ROOM") == [{"id": "sann", "name": "Ann", "joined": NOW}]
    assert cs.tokens("ROOM") == {"hash1": "sann"} and cs.current_round("ROOM", "fork-basics") == 2
    assert cs.histogram("ROOM", "fork-basics") == {1: {"q1": {"a": 1}}}
    assert cs.progress("ROOM")[0]["attempts"] == 2 and cs.runs_of_lesson("ROOM", "fork-basics") == ["r0"]
    # the run main's server left going is this node's to end (it was recorded before runs had a node)
    assert s.interrupted(lambda run, events: {"type": "run.finished", "status": "error"}, node="n1") == ["going"]
    assert s.add_batch({"id": "b1", "created": NOW, "count": 1, "metric": {}, "runs": []})  # the new table
    s.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (13,)
    Storage(path).close()  # at head: opening again changes nothing


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_migrations_make_exactly_the_tables_the_code_uses(request: pytest.FixtureRequest, tmp_path: Path,
                                                               backend: str) -> None:
    target: Path | str = tmp_path / "fresh.db" if backend == "sqlite" else request.getfixturevalue("fresh_postgres")
    Storage(target).close()
    engine = create_engine(f"sqlite:///{target}" if backend == "sqlite"
                           else str(target).replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), T.metadata)
        names = set(inspect(c).get_table_names())
    engine.dispose()
    assert diff == [], diff
    assert names == {t.name for t in T.metadata.sorted_tables} | {"alembic_version"}


def migrate_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "migrate", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_proclab_migrate_moves_a_data_directory_to_postgres(tmp_path: Path, fresh_postgres: str) -> None:
    path = tmp_path / "data" / "proclab.db"
    main_database(path, runs=120)
    s = Storage(path)  # a batch and a run with a node too (after an upgrade, as a real data dir would be)
    s.add_batch({"id": "b1", "created": NOW, "lesson": "race", "owner": "c1", "count": 2,
                 "metric": {"metric": "output_order"}, "runs": ["r0", "r1"]})
    s.begin_run({"id": "noded", "status": "running", "created": time.time(), "node": "n7"})
    s.close()
    before = path.stat().st_mtime_ns

    r = migrate_cli("--from", f"sqlite:///{path}", "--to", fresh_postgres)
    assert r.returncode == 0, r.stderr
    assert "runs: 122 copied" in r.stdout and "events: 480 copied" in r.stdout, r.stdout
    assert "students: 2 copied" in r.stdout and "batches: 1 copied" in r.stdout
    assert path.stat().st_mtime_ns == before, "the source was written to"

    pg = Storage(fresh_postgres)
    assert len(pg.list_runs(500)) == 122
    r0 = pg.get_run("r0")
    assert r0 is not None and r0["created"] == NOW and r0["owner"] == "c0" and r0["result"] == {"status": "ok"}
    assert pg.get_events("r119")[-1]["text"] == "119.3"
    assert pg.get_run("noded")["node"] == "n7"  # type: ignore[index]
    assert pg.get_batch("b1")["runs"] == ["r0", "r1"]  # type: ignore[index]
    cs = ClassStore(pg)
    assert cs.students("ROOM")[0]["name"] == "Ann" and cs.histogram("ROOM", "fork-basics") == {1: {"q1": {"a": 1}}}
    assert cs.progress("ROOM")[0]["passed"] is True and pg.get_room("ROOM")["title"] == "Processes"  # type: ignore[index]
    pg.close()

    again = migrate_cli("--from", f"sqlite:///{path}", "--to", fresh_postgres)
    assert again.returncode == 1 and "already has 122 run(s)" in again.stderr and "--force" in again.stderr
    forced = migrate_cli("--from", f"sqlite:///{path}", "--to", fresh_postgres, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "runs: 0 copied, 122 already there" in forced.stdout

    missing = migrate_cli("--from", f"sqlite:///{tmp_path}/nope.db", "--to", fresh_postgres)
    assert missing.returncode == 1 and "does not exist" in missing.stderr and not (tmp_path / "nope.db").exists()
