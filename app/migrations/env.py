"""Alembic's environment: the connection is the one app/storage.py opened (config.attributes["connection"]);
run alone (`alembic -x url=...`), it connects to the URL given."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import MetaData, create_engine

config = context.config


def _metadata() -> MetaData:
    """The tables autogenerate compares against: this file is loaded by path, so the package is
    `proclab` once installed and `app` in a checkout."""
    given = config.attributes.get("metadata")
    if isinstance(given, MetaData):
        return given
    for package in ("proclab", "app"):
        try:
            return importlib.import_module(f"{package}.tables").metadata  # type: ignore[no-any-return]
        except ImportError:
            continue
    raise SystemExit("cannot import the tables (proclab.tables or app.tables)")


metadata = _metadata()
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x url=postgresql+psycopg://... upgrade head")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
