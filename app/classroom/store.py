"""Classroom tables in the server's database (SQLite or PostgreSQL): students, predictions (with rounds),
exercise progress, students' runs.

Uses app/storage.py's engine and its transactions (the tables are in app/tables.py, made by
app/migrations/); callers run these in a worker thread.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlalchemy import and_, case, func, select, update

from .. import tables as T
from ..storage import Storage


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClassStore:
    def __init__(self, storage: Storage) -> None:
        self.s = storage

    # ------------------------------------------------------------ students

    def add_student(self, room: str, name: str) -> tuple[dict[str, Any], str]:
        """A new student and the secret token their cookie carries."""
        token = secrets.token_urlsafe(24)
        sid = "s" + secrets.token_hex(5)
        now = time.time()
        with self.s.transaction() as c:
            c.execute(T.students.insert().values(room=room, id=sid, token_hash=token_hash(token), name=name,
                                                 joined=now))
        return {"id": sid, "name": name, "joined": now}, token

    def tokens(self, room: str) -> dict[str, str]:
        """token hash -> student id, for the room's students still in it."""
        st = T.students.c
        q = select(st.token_hash, st.id).where(st.room == room, st.removed == 0)
        return {r[0]: r[1] for r in self.s.read(lambda c: c.execute(q).fetchall())}

    def students(self, room: str) -> list[dict[str, Any]]:
        st = T.students.c
        q = select(st.id, st.name, st.joined).where(st.room == room, st.removed == 0).order_by(st.joined)
        return [{"id": r[0], "name": r[1], "joined": r[2]} for r in self.s.read(lambda c: c.execute(q).fetchall())]

    def _update_student(self, room: str, sid: str, **values: Any) -> bool:
        st = T.students.c
        with self.s.transaction() as c:
            cur = c.execute(update(T.students).where(st.room == room, st.id == sid, st.removed == 0)
                            .values(**values))
        return cur.rowcount > 0

    def rename(self, room: str, sid: str, name: str) -> bool:
        return self._update_student(room, sid, name=name)

    def remove(self, room: str, sid: str) -> bool:
        return self._update_student(room, sid, removed=1)

    # ------------------------------------------------------------ predictions

    def current_round(self, room: str, lesson: str) -> int:
        pr = T.prediction_rounds.c
        q = select(func.max(pr.round)).where(pr.room == room, pr.lesson == lesson)
        value = self.s.read(lambda c: c.execute(q).scalar())
        return int(value) if value else 1

    def new_round(self, room: str, lesson: str) -> int:
        n = self.current_round(room, lesson) + 1
        now = time.time()
        first = self.s.insert(T.prediction_rounds).values(room=room, lesson=lesson, round=1, opened=now)
        with self.s.transaction() as c:
            c.execute(first.on_conflict_do_nothing())
            c.execute(T.prediction_rounds.insert().values(room=room, lesson=lesson, round=n, opened=now))
        return n

    def predict(self, room: str, lesson: str, question: str, student: str, answer: str) -> int:
        rnd = self.current_round(room, lesson)
        stmt = self.s.insert(T.predictions).values(room=room, lesson=lesson, round=rnd, question=question,
                                                   student=student, answer=answer, t=time.time())
        stmt = stmt.on_conflict_do_update(index_elements=list(T.predictions.primary_key.columns),
                                          set_={"answer": stmt.excluded.answer, "t": stmt.excluded.t})
        with self.s.transaction() as c:
            c.execute(stmt)
        return rnd

    def histogram(self, room: str, lesson: str) -> dict[int, dict[str, dict[str, int]]]:
        """round -> question -> answer -> count (removed students' votes are left out)."""
        p, st = T.predictions.c, T.students.c
        q = (select(p.round, p.question, p.answer, func.count())
             .select_from(T.predictions.join(T.students, and_(st.room == p.room, st.id == p.student,
                                                              st.removed == 0)))
             .where(p.room == room, p.lesson == lesson).group_by(p.round, p.question, p.answer))
        out: dict[int, dict[str, dict[str, int]]] = {}
        for rnd, question, answer, n in self.s.read(lambda c: c.execute(q).fetchall()):
            out.setdefault(int(rnd), {}).setdefault(question, {})[answer] = int(n)
        return out

    # ------------------------------------------------------------ students' runs

    def add_run(self, room: str, student: str, run: str, lesson: str | None, exercise: str | None) -> None:
        stmt = self.s.insert(T.class_runs).values(room=room, student=student, run=run, lesson=lesson,
                                                  exercise=exercise, created=time.time())
        stmt = stmt.on_conflict_do_update(index_elements=[T.class_runs.c.run],
                                          set_={k: stmt.excluded[k] for k in ("room", "student", "lesson",
                                                                                "exercise", "created")})
        with self.s.transaction() as c:
            c.execute(stmt)

    def runs_of_lesson(self, room: str, lesson: str, limit: int = 500) -> list[str]:
        cr = T.class_runs.c
        q = select(cr.run).where(cr.room == room, cr.lesson == lesson).order_by(cr.created.desc()).limit(limit)
        return [r[0] for r in self.s.read(lambda c: c.execute(q).fetchall())]

    # ------------------------------------------------------------ progress

    def record_attempt(self, room: str, student: str, lesson: str, exercise: str, passed: bool, run_id: str) -> None:
        now = time.time()
        pg = T.progress.c
        stmt = self.s.insert(T.progress).values(room=room, student=student, lesson=lesson, exercise=exercise,
                                                attempts=1, passed=int(passed), first_try=now,
                                                passed_at=now if passed else None, last_run=run_id)
        # CASE, not MAX(a, b): PostgreSQL's MAX is only an aggregate (GREATEST is not SQLite's).
        stmt = stmt.on_conflict_do_update(
            index_elements=[pg.room, pg.student, pg.lesson, pg.exercise],
            set_={"attempts": pg.attempts + 1,
                  "passed": case((stmt.excluded.passed > pg.passed, stmt.excluded.passed), else_=pg.passed),
                  "passed_at": func.coalesce(pg.passed_at, stmt.excluded.passed_at),
                  "last_run": stmt.excluded.last_run})
        with self.s.transaction() as c:
            c.execute(stmt)

    def progress(self, room: str) -> list[dict[str, Any]]:
        pg = T.progress.c
        q = select(pg.student, pg.lesson, pg.exercise, pg.attempts, pg.passed, pg.first_try, pg.passed_at,
                   pg.last_run).where(pg.room == room)
        return [{"student": r[0], "lesson": r[1], "exercise": r[2], "attempts": r[3], "passed": bool(r[4]),
                 "first_try": r[5], "passed_at": r[6], "last_run": r[7]}
                for r in self.s.read(lambda c: c.execute(q).fetchall())]
