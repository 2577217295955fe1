"""`proclab migrate --from URL --to URL`: copy every table of one ProcLab database into another (moving a
data directory's SQLite file to PostgreSQL, typically).

The source is only read (a SQLite file is opened read-only, at whatever schema version it has: columns it
lacks stay NULL); the target is upgraded to head first. The copy is one transaction: it all lands or
nothing does. A target that already has runs is refused unless `force`: then rows already there (same
key) are kept and only the missing ones are added, so running it twice copies nothing twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from . import tables as T
from .storage import Storage, StorageError, cause_of, database_url

CHUNK = 2000  # rows per INSERT batch


class TransferError(RuntimeError):
    """The copy cannot be made; the message says why and what to do."""


@dataclass
class Copied:
    table: str
    source: int  # rows read from the source
    added: int  # rows the target did not have before


def _source_engine(source: str) -> tuple[Engine, str]:
    """An engine that reads the source without changing it, and how to name it."""
    url = database_url(Path(source) if "://" not in source else source)
    if url.drivername != "sqlite":
        return create_engine(url), url.render_as_string(hide_password=True).replace("+psycopg", "", 1)
    path = Path(url.database or "")
    if not path.is_file():
        raise TransferError(f"the source database {path} does not exist (give --from sqlite:///path/to/proclab.db, "
                            "the file in the server's data directory)")
    uri = f"file:{path.resolve()}?mode=ro"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)), str(path)


def _rows(target: Connection, table: Table) -> int:
    return int(target.execute(select(func.count()).select_from(table)).scalar() or 0)


def _copy_table(src: Connection, have: MetaData, dst: Connection, storage: Storage, table: Table) -> Copied:
    theirs = have.tables[table.name]
    columns = [c.name for c in table.columns if c.name in theirs.columns]
    q = select(*[theirs.c[c] for c in columns])
    if table is T.events and "runs" in have.tables:  # an event without its run would break the foreign key
        q = q.where(theirs.c.run_id.in_(select(have.tables["runs"].c.id)))
    before = _rows(dst, table)
    read = 0
    stmt = storage.insert(table).on_conflict_do_nothing()
    result = src.execute(q.execution_options(yield_per=CHUNK))
    for part in result.partitions(CHUNK):
        dst.execute(stmt, [dict(zip(columns, row, strict=True)) for row in part])
        read += len(part)
    return Copied(table.name, read, _rows(dst, table) - before)


def migrate(source: str, target: str, force: bool = False, say: Callable[[str], None] = print) -> list[Copied]:
    """Copy every ProcLab table from source into target (URLs, or a SQLite file's path as source)."""
    engine, source_name = _source_engine(source)
    try:
        have = MetaData()
        try:
            have.reflect(bind=engine)
        except SQLAlchemyError as e:
            raise TransferError(f"the source database {source_name} cannot be read ({cause_of(e)})") from e
        if "runs" not in have.tables:
            raise TransferError(f"the source database {source_name} has no ProcLab tables (no runs table)")
        storage = Storage.open(Path(target) if "://" not in target else target)
        try:
            if storage.where == source_name:
                raise TransferError(f"--from and --to are the same database ({source_name})")
            existing = storage.read(lambda c: _rows(c, T.runs))
            if existing and not force:
                raise TransferError(
                    f"the target database {storage.where} already has {existing} run(s): proclab migrate copies "
                    "into an empty database. Give --force to add only the rows it lacks (rows already there "
                    "are kept as they are)")
            say(f"copying {source_name} -> {storage.where}")
            done: list[Copied] = []
            with engine.connect() as src, storage.transaction() as dst:
                for table in T.COPY_ORDER:
                    if table.name not in have.tables:
                        say(f"  {table.name}: not in the source (an older ProcLab), nothing to copy")
                        continue
                    copied = _copy_table(src, have, dst, storage, table)
                    kept = copied.source - copied.added
                    say(f"  {copied.table}: {copied.added} copied" + (f", {kept} already there" if kept else ""))
                    done.append(copied)
            say(f"done: {sum(c.added for c in done)} row(s) copied into {storage.where}")
            return done
        except SQLAlchemyError as e:
            raise TransferError(f"the copy into {storage.where} failed and was rolled back ({cause_of(e)})") from e
        finally:
            storage.close()
    finally:
        engine.dispose()


def main(source: str, target: str, force: bool) -> int:
    """The CLI's `migrate`: 0 when copied, 1 when refused or failed (the reason on stderr)."""
    import sys

    try:
        migrate(source, target, force)
    except (TransferError, StorageError) as e:
        print(f"proclab migrate: {e}", file=sys.stderr)
        return 1
    return 0
