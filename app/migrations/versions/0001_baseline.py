"""Baseline: the tables main's code made with CREATE TABLE IF NOT EXISTS, and the columns it added at open.

A database that code made has these tables but no alembic_version: each table and column is made only
where missing, so its rows stay as they are.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[sa.Column[object]], list[tuple[str, list[str]]]]]:
    """(table, columns, indexes) as main's SCHEMA had them."""
    text, real, integer = sa.Text, sa.Float, sa.Integer
    return [
        ("runs", [sa.Column("id", text, primary_key=True), sa.Column("lesson", text),
                  sa.Column("status", text, nullable=False), sa.Column("created", real, nullable=False),
                  sa.Column("finished", real), sa.Column("result", text), sa.Column("files", text),
                  sa.Column("room", text), sa.Column("answers", text), sa.Column("owner", text),
                  sa.Column("share", text)],
         [("runs_created", ["created"]), ("runs_room", ["room"])]),
        ("events", [sa.Column("run_id", text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("seq", integer, primary_key=True), sa.Column("data", text, nullable=False)], []),
        ("rooms", [sa.Column("code", text, primary_key=True), sa.Column("created", real, nullable=False),
                   sa.Column("title", text)], []),
        ("students", [sa.Column("room", text, primary_key=True), sa.Column("id", text, primary_key=True),
                      sa.Column("token_hash", text, nullable=False, unique=True),
                      sa.Column("name", text, nullable=False), sa.Column("joined", real, nullable=False),
                      sa.Column("removed", integer, nullable=False, server_default="0")], []),
        ("prediction_rounds", [sa.Column("room", text, primary_key=True), sa.Column("lesson", text, primary_key=True),
                               sa.Column("round", integer, primary_key=True),
                               sa.Column("opened", real, nullable=False)], []),
        ("predictions", [sa.Column("room", text, primary_key=True), sa.Column("lesson", text, primary_key=True),
                         sa.Column("round", integer, primary_key=True), sa.Column("question", text, primary_key=True),
                         sa.Column("student", text, primary_key=True), sa.Column("answer", text, nullable=False),
                         sa.Column("t", real, nullable=False)], []),
        ("progress", [sa.Column("room", text, primary_key=True), sa.Column("student", text, primary_key=True),
                      sa.Column("lesson", text, primary_key=True), sa.Column("exercise", text, primary_key=True),
                      sa.Column("attempts", integer, nullable=False), sa.Column("passed", integer, nullable=False),
                      sa.Column("first_try", real, nullable=False), sa.Column("passed_at", real),
                      sa.Column("last_run", text)], []),
        ("class_runs", [sa.Column("room", text, nullable=False), sa.Column("student", text, nullable=False),
                        sa.Column("run", text, primary_key=True), sa.Column("lesson", text),
                        sa.Column("exercise", text), sa.Column("created", real, nullable=False)],
         [("class_runs_lesson", ["room", "lesson"])]),
    ]


# Columns main's code added to runs of a database older than them (its ADDED).
ADDED = (("owner", sa.Text), ("share", sa.Text))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = set(inspector.get_table_names())
    for name, columns, indexes in _tables():
        if name not in have:
            op.create_table(name, *columns)
        present = {i["name"] for i in inspector.get_indexes(name)} if name in have else set()
        for index, cols in indexes:
            if index not in present:
                op.create_index(index, name, cols)
    if "runs" in have:
        named = {c["name"] for c in inspector.get_columns("runs")}
        for column, kind in ADDED:
            if column not in named:
                op.add_column("runs", sa.Column(column, kind))


def downgrade() -> None:
    for name, _, _ in reversed(_tables()):
        op.drop_table(name)
