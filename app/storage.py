"""Recordings in SQLite: runs, their events, rooms. Plain SQL that moves to PostgreSQL as is.

Events are written while a run goes (batched by the run manager), so a web process killed
mid-run leaves its runs in the database; the next start marks them interrupted. A write that
fails (a full disk) does not stop runs: `health()` says what went wrong, for /readyz and the
runs' own `run.finished.recording`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("proclab.storage")

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
# Columns added after the first release: (name, type); added to an older database at open.
ADDED = (("owner", "TEXT"), ("share", "TEXT"), ("node", "TEXT"))
RUN_COLUMNS = "id, lesson, status, created, finished, result, files, room, answers, owner, share, node"


class StorageError(RuntimeError):
    """The database cannot be used; the message names the file and what to do."""


class Storage:
    """One connection guarded by a lock; callers run it in a worker thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # the data dir is the server's alone
        self.path = path
        self.lock = threading.Lock()
        self.problem: str | None = None  # the last failed write, until a write succeeds again
        try:
            self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            check = self.db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
            self.db.executescript(SCHEMA)
            have = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
            for name, kind in ADDED:
                if name not in have:
                    self.db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        except sqlite3.DatabaseError as e:
            log.error("database %s: %s", path, e)
            raise StorageError(
                f"the database {path} cannot be used ({e}). If it is damaged, stop the server, move the "
                f"file aside (mv {path} {path}.damaged, and its -wal and -shm files) and start again: a new "
                "empty database is made; recordings in the old file stay there for sqlite3's .recover") from e

    # ------------------------------------------------------------ writing

    def _write(self, what: str, fn: Callable[[], None]) -> bool:
        """One transaction; a failure is logged with its real cause, recorded for health(), not raised."""
        with self.lock:
            try:
                self.db.execute("BEGIN")
                fn()
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                log.error("could not store %s in %s: %s", what, self.path, e)
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error as rb:  # never let it mask the cause above
                    log.error("rollback after that failed too: %s", rb)
                self.problem = _problem_code(e)
                return False
        self.problem = None
        return True

    def health(self) -> tuple[bool, str | None]:
        """(ok, problem): problem is `disk_full`, `read_only` or `write_failed` after a failed write."""
        return self.problem is None, self.problem

    def begin_run(self, run: dict[str, Any]) -> bool:
        """A run that has started: its row, so its events can follow as they come."""
        return self._write(f"run {run['id']}", lambda: self._upsert(run, replace=False))

    def append_events(self, run_id: str, items: list[tuple[int, str]]) -> bool:
        """Events of a run that is going: (seq, JSON text)."""
        return self._write(f"events of run {run_id}", lambda: self._events(run_id, items))

    def finish_run(self, run: dict[str, Any], items: list[tuple[int, str]]) -> bool:
        """The run's final row and its last events, in one transaction."""
        def write() -> None:
            self._upsert(run)
            self._events(run["id"], items)
        return self._write(f"run {run['id']}", write)

    def save_run(self, run: dict[str, Any], events: list[dict[str, Any]], encoded: list[str] | None = None) -> bool:
        """Store a whole run and its events at once (imports; `encoded`: their JSON, when known)."""
        texts = encoded if encoded is not None and len(encoded) == len(events) else [
            json.dumps(e, ensure_ascii=False) for e in events]

        def write() -> None:
            self._upsert(run)
            self.db.execute("DELETE FROM events WHERE run_id = ?", (run["id"],))
            self.db.executemany("INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)",
                                [(run["id"], e["seq"], text) for e, text in zip(events, texts, strict=True)])
        return self._write(f"run {run['id']}", write)

    def _events(self, run_id: str, items: list[tuple[int, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO events (run_id, seq, data) VALUES (?, ?, ?)",
                            [(run_id, seq, text) for seq, text in items])

    def _upsert(self, run: dict[str, Any], replace: bool = True) -> None:
        # ON CONFLICT, not INSERT OR REPLACE: a replaced row would cascade-delete the run's events.
        update = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS.split(", ")[1:])
                  if replace else "DO NOTHING")
        self.db.execute(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) {update}",
            (run["id"], run.get("lesson"), run["status"], run["created"], run.get("finished"),
             json.dumps(run.get("result")), json.dumps(run.get("files", {})), run.get("room"),
             json.dumps(run.get("answers")), run.get("owner"), run.get("share"), run.get("node")))

    def interrupted(self, finish: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]],
                    node: str | None = None) -> list[str]:
        """Runs a previous web process left going (it was killed): each gets the run.finished that
        `finish(run, events)` makes and is marked finished. Returns their ids. node: only that node's runs
        (and runs stored before runs had a node), so a node starting does not end its neighbours' runs."""
        with self.lock:
            if node is None:
                ids = [r[0] for r in self.db.execute("SELECT id FROM runs WHERE status != 'finished'")]
            else:
                ids = [r[0] for r in self.db.execute(
                    "SELECT id FROM runs WHERE status != 'finished' AND (node = ? OR node IS NULL)", (node,))]
        return self._end(ids, finish)

    def mark_node_lost(self, node: str, finish: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
                       ) -> list[str]:
        """The unfinished runs of a node that stopped answering, ended like `interrupted` with `finish`'s
        run.finished after the events stored so far. Returns their ids."""
        with self.lock:
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM runs WHERE status != 'finished' AND node = ?", (node,))]
        return self._end(ids, finish)

    def _end(self, ids: list[str], finish: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
             ) -> list[str]:
        for run_id in ids:
            run = self.get_run(run_id)
            if run is None:
                continue
            events = self.get_events(run_id)
            fin = finish(run, events)
            fin["seq"] = events[-1]["seq"] + 1 if events else 0
            run.update(status="finished", finished=time.time(), result=fin)
            self.finish_run(run, [(fin["seq"], json.dumps(fin, ensure_ascii=False, separators=(",", ":")))])
        return ids

    # ------------------------------------------------------------ reading

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "lesson": row[1], "status": row[2], "created": row[3], "finished": row[4],
                "result": json.loads(row[5]) if row[5] else None, "files": json.loads(row[6] or "{}"),
                "room": row[7], "answers": json.loads(row[8]) if row[8] else None, "owner": row[9],
                "share": row[10], "node": row[11]}

    def get_events(self, run_id: str, after: int = -1) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                                   (run_id, after)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def list_runs(self, limit: int = 50, room: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        """The newest runs, of a room or of one owner (None: everyone's)."""
        q = "SELECT id, lesson, status, created, finished FROM runs"
        where, args = [], []
        if room:
            where.append("room = ?")
            args.append(room)
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if where:
            q += " WHERE " + " AND ".join(where)
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


def _problem_code(e: sqlite3.Error) -> str:
    text = str(e).lower()
    if "full" in text:
        return "disk_full"
    if "readonly" in text or "read-only" in text:
        return "read_only"
    return "write_failed"
