"""The database's tables as SQLAlchemy Core objects, for the queries of app/storage.py and
app/classroom/store.py and for `proclab migrate`. The DDL that makes them is in app/migrations/
(Alembic); tests/test_storage_migrations.py checks that both agree.

Types are the portable ones: Text, Float (double precision on PostgreSQL: times are epoch seconds),
Integer (flags are 0/1, as SQLite stored them). JSON values are stored as text, exactly as written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Dialect, Float, ForeignKey, Index, Integer, MetaData, Table, TypeDecorator
from sqlalchemy import Text as SqlText

metadata = MetaData()


class Text(TypeDecorator[str]):
    """TEXT. PostgreSQL's text cannot hold NUL, which SQLite's can (a room title, an answer given over the
    API): there it is stored as U+FFFD instead of failing the write."""

    impl = SqlText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value

runs = Table(
    "runs", metadata,
    Column("id", Text, primary_key=True),
    Column("lesson", Text),
    Column("status", Text, nullable=False),
    Column("created", Float, nullable=False),
    Column("finished", Float),
    Column("result", Text),
    Column("files", Text),
    Column("room", Text),
    Column("answers", Text),
    Column("owner", Text),
    Column("share", Text),
    Column("node", Text),  # the node that ran it (settings.node_id); NULL for runs recorded before nodes
    Index("runs_created", "created"),
    Index("runs_room", "room"),
    Index("runs_node", "node", "status"),
)

events = Table(
    "events", metadata,
    Column("run_id", Text, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", Text, nullable=False),
)

rooms = Table(
    "rooms", metadata,
    Column("code", Text, primary_key=True),
    Column("created", Float, nullable=False),
    Column("title", Text),
)

batches = Table(
    "batches", metadata,
    Column("id", Text, primary_key=True),
    Column("created", Float, nullable=False),
    Column("lesson", Text),
    Column("room", Text),
    Column("owner", Text),  # the client that started it
    Column("count", Integer, nullable=False),
    Column("metric", Text, nullable=False),  # JSON: what tells outcomes apart
    Column("runs", Text, nullable=False),  # JSON list of run ids, in the order they were submitted
    Column("refused", Text),  # the last refusal while submitting (the queue was full a moment)
)

students = Table(
    "students", metadata,
    Column("room", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("joined", Float, nullable=False),
    Column("removed", Integer, nullable=False, server_default="0"),
)

prediction_rounds = Table(
    "prediction_rounds", metadata,
    Column("room", Text, primary_key=True),
    Column("lesson", Text, primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("opened", Float, nullable=False),
)

predictions = Table(
    "predictions", metadata,
    Column("room", Text, primary_key=True),
    Column("lesson", Text, primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("question", Text, primary_key=True),
    Column("student", Text, primary_key=True),
    Column("answer", Text, nullable=False),
    Column("t", Float, nullable=False),
)

progress = Table(
    "progress", metadata,
    Column("room", Text, primary_key=True),
    Column("student", Text, primary_key=True),
    Column("lesson", Text, primary_key=True),
    Column("exercise", Text, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("first_try", Float, nullable=False),
    Column("passed_at", Float),
    Column("last_run", Text),
)

class_runs = Table(
    "class_runs", metadata,
    Column("room", Text, nullable=False),
    Column("student", Text, nullable=False),
    Column("run", Text, primary_key=True),
    Column("lesson", Text),
    Column("exercise", Text),
    Column("created", Float, nullable=False),
    Index("class_runs_lesson", "room", "lesson"),
)

# In the order a copy must insert them (runs before their events).
COPY_ORDER = (rooms, runs, events, batches, students, prediction_rounds, predictions, progress, class_runs)
