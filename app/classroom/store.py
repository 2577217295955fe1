"""Classroom tables in the server's SQLite file: students, predictions (with rounds), exercise progress.

Uses app/storage.py's connection and lock; callers run these in a worker thread.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from ..storage import Storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    joined REAL NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, id)
);
CREATE TABLE IF NOT EXISTS prediction_rounds (
    room TEXT NOT NULL,
    lesson TEXT NOT NULL,
    round INTEGER NOT NULL,
    opened REAL NOT NULL,
    PRIMARY KEY (room, lesson, round)
);
CREATE TABLE IF NOT EXISTS predictions (
    room TEXT NOT NULL,
    lesson TEXT NOT NULL,
    round INTEGER NOT NULL,
    question TEXT NOT NULL,
    student TEXT NOT NULL,
    answer TEXT NOT NULL,
    t REAL NOT NULL,
    PRIMARY KEY (room, lesson, round, question, student)
);
CREATE TABLE IF NOT EXISTS progress (
    room TEXT NOT NULL,
    student TEXT NOT NULL,
    lesson TEXT NOT NULL,
    exercise TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    first_try REAL NOT NULL,
    passed_at REAL,
    last_run TEXT,
    PRIMARY KEY (room, student, lesson, exercise)
);
CREATE TABLE IF NOT EXISTS class_runs (
    room TEXT NOT NULL,
    student TEXT NOT NULL,
    run TEXT NOT NULL PRIMARY KEY,
    lesson TEXT,
    exercise TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS class_runs_lesson ON class_runs (room, lesson);
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClassStore:
    def __init__(self, storage: Storage) -> None:
        self.s = storage
        with storage.lock:
            storage.db.executescript(SCHEMA)

    # ------------------------------------------------------------ students

    def add_student(self, room: str, name: str) -> tuple[dict[str, Any], str]:
        """A new student and the secret token their cookie carries."""
        token = secrets.token_urlsafe(24)
        sid = "s" + secrets.token_hex(5)
        now = time.time()
        with self.s.lock:
            self.s.db.execute("INSERT INTO students (room, id, token_hash, name, joined) VALUES (?, ?, ?, ?, ?)",
                              (room, sid, token_hash(token), name, now))
        return {"id": sid, "name": name, "joined": now}, token

    def tokens(self, room: str) -> dict[str, str]:
        """token hash -> student id, for the room's students still in it."""
        with self.s.lock:
            rows = self.s.db.execute("SELECT token_hash, id FROM students WHERE room = ? AND removed = 0",
                                     (room,)).fetchall()
        return {r[0]: r[1] for r in rows}

    def students(self, room: str) -> list[dict[str, Any]]:
        with self.s.lock:
            rows = self.s.db.execute("SELECT id, name, joined FROM students WHERE room = ? AND removed = 0 "
                                     "ORDER BY joined", (room,)).fetchall()
        return [{"id": r[0], "name": r[1], "joined": r[2]} for r in rows]

    def rename(self, room: str, sid: str, name: str) -> bool:
        with self.s.lock:
            cur = self.s.db.execute("UPDATE students SET name = ? WHERE room = ? AND id = ? AND removed = 0",
                                    (name, room, sid))
        return cur.rowcount > 0

    def remove(self, room: str, sid: str) -> bool:
        with self.s.lock:
            cur = self.s.db.execute("UPDATE students SET removed = 1 WHERE room = ? AND id = ? AND removed = 0",
                                    (room, sid))
        return cur.rowcount > 0

    # ------------------------------------------------------------ predictions

    def current_round(self, room: str, lesson: str) -> int:
        with self.s.lock:
            row = self.s.db.execute("SELECT MAX(round) FROM prediction_rounds WHERE room = ? AND lesson = ?",
                                    (room, lesson)).fetchone()
        return int(row[0]) if row and row[0] else 1

    def new_round(self, room: str, lesson: str) -> int:
        n = self.current_round(room, lesson) + 1
        with self.s.lock:
            self.s.db.execute("INSERT OR IGNORE INTO prediction_rounds (room, lesson, round, opened) VALUES "
                              "(?, ?, 1, ?)", (room, lesson, time.time()))
            self.s.db.execute("INSERT INTO prediction_rounds (room, lesson, round, opened) VALUES (?, ?, ?, ?)",
                              (room, lesson, n, time.time()))
        return n

    def predict(self, room: str, lesson: str, question: str, student: str, answer: str) -> int:
        rnd = self.current_round(room, lesson)
        with self.s.lock:
            self.s.db.execute("INSERT OR REPLACE INTO predictions (room, lesson, round, question, student, answer, t)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?)", (room, lesson, rnd, question, student, answer,
                                                                time.time()))
        return rnd

    def histogram(self, room: str, lesson: str) -> dict[int, dict[str, dict[str, int]]]:
        """round -> question -> answer -> count (removed students' votes are left out)."""
        with self.s.lock:
            rows = self.s.db.execute(
                "SELECT p.round, p.question, p.answer, COUNT(*) FROM predictions p JOIN students s "
                "ON s.room = p.room AND s.id = p.student AND s.removed = 0 "
                "WHERE p.room = ? AND p.lesson = ? GROUP BY p.round, p.question, p.answer", (room, lesson)).fetchall()
        out: dict[int, dict[str, dict[str, int]]] = {}
        for rnd, q, a, n in rows:
            out.setdefault(int(rnd), {}).setdefault(q, {})[a] = int(n)
        return out

    # ------------------------------------------------------------ students' runs

    def add_run(self, room: str, student: str, run: str, lesson: str | None, exercise: str | None) -> None:
        with self.s.lock:
            self.s.db.execute("INSERT OR REPLACE INTO class_runs (room, student, run, lesson, exercise, created) "
                              "VALUES (?, ?, ?, ?, ?, ?)", (room, student, run, lesson, exercise, time.time()))

    def runs_of_lesson(self, room: str, lesson: str, limit: int = 500) -> list[str]:
        with self.s.lock:
            rows = self.s.db.execute("SELECT run FROM class_runs WHERE room = ? AND lesson = ? ORDER BY created "
                                     "DESC LIMIT ?", (room, lesson, limit)).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------ progress

    def record_attempt(self, room: str, student: str, lesson: str, exercise: str, passed: bool, run_id: str) -> None:
        now = time.time()
        with self.s.lock:
            self.s.db.execute(
                "INSERT INTO progress (room, student, lesson, exercise, attempts, passed, first_try, passed_at, "
                "last_run) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (room, student, lesson, exercise) DO "
                "UPDATE SET attempts = attempts + 1, passed = MAX(passed, excluded.passed), "
                "passed_at = COALESCE(passed_at, excluded.passed_at), last_run = excluded.last_run",
                (room, student, lesson, exercise, int(passed), now, now if passed else None, run_id))

    def progress(self, room: str) -> list[dict[str, Any]]:
        with self.s.lock:
            rows = self.s.db.execute("SELECT student, lesson, exercise, attempts, passed, first_try, passed_at, "
                                     "last_run FROM progress WHERE room = ?", (room,)).fetchall()
        return [{"student": r[0], "lesson": r[1], "exercise": r[2], "attempts": r[3], "passed": bool(r[4]),
                 "first_try": r[5], "passed_at": r[6], "last_run": r[7]} for r in rows]
