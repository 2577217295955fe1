"""Recordings in SQLite: runs, their events, rooms. Plain SQL that moves to PostgreSQL as is."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    lesson TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL,
    result TEXT,
    files TEXT,
    room TEXT,
    answers TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
CREATE INDEX IF NOT EXISTS runs_room ON runs (room);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY,
    created REAL NOT NULL,
    title TEXT
);
"""


class Storage:
    """One connection guarded by a lock; callers run it in a worker thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # the data dir is the server's alone
        self.path = path
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def save_run(self, run: dict[str, Any], events: list[dict[str, Any]], encoded: list[str] | None = None) -> None:
        """Store a run and its events (`encoded`: their JSON, when the caller has it already)."""
        texts = encoded if encoded is not None and len(encoded) == len(events) else [
            json.dumps(e, ensure_ascii=False) for e in events]
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.execute(
                    "INSERT OR REPLACE INTO runs (id, lesson, status, created, finished, result, files, room, answers)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run["id"], run.get("lesson"), run["status"], run["created"], run.get("finished"),
                     json.dumps(run.get("result")), json.dumps(run.get("files", {})), run.get("room"),
                     json.dumps(run.get("answers"))))
                self.db.execute("DELETE FROM events WHERE run_id = ?", (run["id"],))
                self.db.executemany("INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)",
                                    [(run["id"], e["seq"], text) for e, text in zip(events, texts, strict=True)])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT id, lesson, status, created, finished, result, files, room, answers"
                                  " FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "lesson": row[1], "status": row[2], "created": row[3], "finished": row[4],
                "result": json.loads(row[5]) if row[5] else None, "files": json.loads(row[6] or "{}"),
                "room": row[7], "answers": json.loads(row[8]) if row[8] else None}

    def get_events(self, run_id: str, after: int = -1) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                                   (run_id, after)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def list_runs(self, limit: int = 50, room: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, lesson, status, created, finished FROM runs"
        args: tuple[Any, ...] = ()
        if room:
            q += " WHERE room = ?"
            args = (room,)
        q += " ORDER BY created DESC LIMIT ?"
        with self.lock:
            rows = self.db.execute(q, (*args, limit)).fetchall()
        return [{"id": r[0], "lesson": r[1], "status": r[2], "created": r[3], "finished": r[4]} for r in rows]

    def prune(self, retention_days: float) -> int:
        cutoff = time.time() - retention_days * 86400
        with self.lock:
            cur = self.db.execute("DELETE FROM runs WHERE created < ?", (cutoff,))
            return cur.rowcount

    def add_room(self, code: str, title: str | None) -> None:
        with self.lock:
            self.db.execute("INSERT INTO rooms (code, created, title) VALUES (?, ?, ?)", (code, time.time(), title))

    def get_room(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT code, created, title FROM rooms WHERE code = ?", (code,)).fetchone()
        return {"code": row[0], "created": row[1], "title": row[2]} if row else None

    def close(self) -> None:
        with self.lock:
            self.db.close()
