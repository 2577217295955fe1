"""Recordings in SQLite or PostgreSQL (SQLAlchemy Core, one code path): runs, their events, rooms, batches.

Events are written while a run goes (batched by the run manager), so a web process killed
mid-run leaves its runs in the database; the next start marks them interrupted (only its own
node's, when several nodes share a PostgreSQL database). A write that fails (a full disk) does not
stop runs: `health()` says what went wrong, for /readyz and the runs' own `run.finished.recording`.

The schema is Alembic's (app/migrations/): opening a database upgrades it to head, so a SQLite file
made by an older ProcLab keeps every row. SQLite is one connection behind a lock (WAL, 5 s busy
timeout), as before; PostgreSQL is a connection pool used from many threads at once.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from . import tables as T

log = logging.getLogger("proclab.storage")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 5.0  # what Python's sqlite3 waited by default, kept
IMMEDIATE = "proclab_begin_immediate"  # connection info key: the next BEGIN takes the write lock
MIGRATION_LOCK = 0x70726F636C6162  # pg_advisory_xact_lock key ("proclab"): nodes starting together upgrade once
RUN_COLUMNS = ("id", "lesson", "status", "created", "finished", "result", "files", "room", "answers", "owner",
               "share", "node")
R = TypeVar("R")
Finish = Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]


class StorageError(RuntimeError):
    """The database cannot be used; the message names the file or URL and what to do."""


class Backend(enum.Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


# The dialect's INSERT, which has on_conflict_do_update/_nothing with the same arguments in both.
INSERT: dict[Backend, Callable[[Any], Any]] = {Backend.SQLITE: sqlite_insert, Backend.POSTGRESQL: pg_insert}
# What the database says when a write fails, as the code health() reports: PostgreSQL's SQLSTATE, SQLite's text.
SQLSTATE_PROBLEM = {"53100": "disk_full", "25006": "read_only"}
TEXT_PROBLEM = (("full", "disk_full"), ("no space", "disk_full"), ("readonly", "read_only"),
                ("read-only", "read_only"))
ACCEPTED = "sqlite:///path/to/proclab.db or postgresql://user:password@host:5432/dbname"


def database_url(target: Path | str) -> URL:
    """A path or a URL as SQLAlchemy's URL: postgresql:// and postgres:// use psycopg 3."""
    if isinstance(target, Path):
        return URL.create("sqlite", database=str(target))
    try:
        url = make_url(target)
    except ArgumentError as e:
        raise StorageError(f"the database URL {target!r} is not one ProcLab can use: expected {ACCEPTED}") from e
    scheme = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
              "postgresql+psycopg": "postgresql+psycopg", "sqlite": "sqlite", "sqlite+pysqlite": "sqlite"}
    if url.drivername not in scheme:
        raise StorageError(f"the database URL {url.render_as_string(hide_password=True)!r} is not one ProcLab "
                           f"can use (driver {url.drivername!r}): expected {ACCEPTED}")
    if scheme[url.drivername] == "sqlite" and not url.database:
        raise StorageError(f"the database URL {target!r} names no file: expected {ACCEPTED}")
    return url.set(drivername=scheme[url.drivername])


def cause_of(e: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's wrapping and background link."""
    if isinstance(e, DBAPIError) and e.orig is not None:
        return str(e.orig).strip()
    return str(e).split("\n(Background", 1)[0].strip()


def _problem_code(e: BaseException) -> str:
    orig = e.orig if isinstance(e, DBAPIError) else e
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state in SQLSTATE_PROBLEM:
        return SQLSTATE_PROBLEM[state]
    lower = cause_of(e).lower()
    return next((code for word, code in TEXT_PROBLEM if word in lower), "write_failed")


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, poolclass=StaticPool,
                           connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi: sqlite3.Connection, _record: Any) -> None:
        # pysqlite's own transaction handling off: SQLAlchemy's BEGIN below, as the old code did it.
        dbapi.isolation_level = None
        dbapi.execute("PRAGMA journal_mode=WAL")
        dbapi.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE (the write lock at once) when asked: a migration must not read the schema, then find
        # another process upgraded it meanwhile (in WAL mode that write would fail at once, not wait).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop(IMMEDIATE, False) else "BEGIN")
    return engine


def _postgres_engine(url: URL) -> Engine:
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=10,
                         connect_args={"connect_timeout": 10})


class Storage:
    """SQLite: one connection guarded by a lock. PostgreSQL: a pool. Callers run it in a worker thread."""

    def __init__(self, target: Path | str, node: str | None = None) -> None:
        """target: a SQLite file's path or a database URL (see `database_url`). node: stamped on every run
        written without one (settings.node_id)."""
        self.url = database_url(target)
        self.backend = Backend.SQLITE if self.url.drivername == "sqlite" else Backend.POSTGRESQL
        self.node = node
        self.problem: str | None = None  # the last failed write, until a write succeeds again
        self.path: Path | None = None  # the SQLite file (None on PostgreSQL)
        self.lock = threading.Lock()
        self._insert = INSERT[self.backend]
        if self.backend is Backend.SQLITE:
            assert self.url.database is not None
            self.path = Path(self.url.database)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.parent.chmod(0o700)  # the data dir is the server's alone
            self.where = str(self.path)
            self.engine = _sqlite_engine(self.url)
        else:
            self.where = self.url.render_as_string(hide_password=True).replace("+psycopg", "", 1)
            self.engine = _postgres_engine(self.url)
        from alembic.util import CommandError

        try:
            self._check_and_upgrade()
        except CommandError as e:  # its alembic_version names a revision this code does not have
            self.engine.dispose()
            raise StorageError(f"the database {self.where} was made or upgraded by a newer ProcLab ({e}): run "
                               "that version, or a newer one, on every node that uses it") from e
        except (SQLAlchemyError, sqlite3.Error) as e:
            self.engine.dispose()
            log.error("database %s: %s", self.where, cause_of(e))
            raise StorageError(self._cannot_use(cause_of(e))) from e

    @classmethod
    def open(cls, url: str | Path, node: str | None = None) -> Storage:
        return cls(url, node)

    def _cannot_use(self, cause: str) -> str:
        if self.path is not None:
            p = self.path
            return (f"the database {p} cannot be used ({cause}). If it is damaged, stop the server, move the "
                    f"file aside (mv {p} {p}.damaged, and its -wal and -shm files) and start again: a new "
                    "empty database is made; recordings in the old file stay there for sqlite3's .recover")
        return (f"the database {self.where} cannot be used ({cause}). Check PROCLAB_DATABASE_URL (user, password, "
                "host, port, database name) and that PostgreSQL is running and reachable from this machine; "
                "the database must exist (createdb), ProcLab makes its tables itself")

    def _check_and_upgrade(self) -> None:
        """An integrity check (SQLite), then Alembic's upgrade to head, in one transaction."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._guard(), self.engine.connect() as conn:
            if self.backend is Backend.SQLITE:  # processes opening one file together upgrade it in turn
                conn.info[IMMEDIATE] = True
            with conn.begin():
                if self.backend is Backend.SQLITE:
                    check = conn.exec_driver_sql("PRAGMA quick_check").fetchone()
                    if check is None or check[0] != "ok":
                        raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
                else:  # several nodes starting at once: one upgrades, the others wait and find it done
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                cfg.attributes["metadata"] = T.metadata
                command.upgrade(cfg, "head")

    def _guard(self) -> contextlib.AbstractContextManager[Any]:
        """SQLite's one connection is taken in turns; PostgreSQL's pool serves threads at once."""
        return self.lock if self.backend is Backend.SQLITE else contextlib.nullcontext()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction (committed at the end, rolled back on an error, which is raised)."""
        with self._guard(), self.engine.begin() as conn:
            yield conn

    def read(self, fn: Callable[[Connection], R]) -> R:
        with self._guard(), self.engine.connect() as conn:
            return fn(conn)

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT for table (with on_conflict_do_update / on_conflict_do_nothing)."""
        return self._insert(table)

    # ------------------------------------------------------------ writing

    def _write(self, what: str, fn: Callable[[Connection], None], whole: bool = False) -> bool:
        """One transaction; a failure is logged with its real cause, recorded for health(), not raised.

        A full disk is cleared only by a whole run stored (`whole`): a small write can still fit in a free
        page there while the next run's recording would not."""
        with self._guard():
            try:
                conn = self.engine.connect()
            except SQLAlchemyError as e:
                log.error("could not store %s in %s: %s", what, self.where, cause_of(e))
                self.problem = _problem_code(e)
                return False
            try:
                trans = conn.begin()
                fn(conn)
                trans.commit()
            except SQLAlchemyError as e:
                log.error("could not store %s in %s: %s", what, self.where, cause_of(e))
                try:
                    conn.rollback()
                except SQLAlchemyError as rb:  # never let it mask the cause above
                    log.error("rollback after that failed too: %s", cause_of(rb))
                self.problem = _problem_code(e)
                return False
            finally:
                with contextlib.suppress(SQLAlchemyError):
                    conn.close()
        if whole or self.problem != "disk_full":
            self.problem = None
        return True

    def health(self) -> tuple[bool, str | None]:
        """(ok, problem): problem is `disk_full`, `read_only` or `write_failed` after a failed write."""
        return self.problem is None, self.problem

    def ping(self, timeout: float) -> str | None:
        """None when the database answers a read within timeout seconds; else why not (for /readyz)."""
        if self.backend is Backend.SQLITE:
            if not self.lock.acquire(timeout=timeout):
                return f"the database {self.where} has been busy for more than {timeout:g} s"
            self.lock.release()
        try:
            self.read(lambda c: c.execute(select(T.runs.c.id).limit(1)).fetchall())
        except SQLAlchemyError as e:
            return f"the database {self.where} does not answer: {cause_of(e)}"
        return None

    def begin_run(self, run: dict[str, Any]) -> bool:
        """A run that is queued or has started: its row, so its events can follow as they come."""
        return self._write(f"run {run['id']}", lambda c: self._upsert(c, run, replace=False))

    def append_events(self, run_id: str, items: list[tuple[int, str]]) -> bool:
        """Events of a run that is going: (seq, JSON text)."""
        return self._write(f"events of run {run_id}", lambda c: self._events(c, run_id, items))

    def finish_run(self, run: dict[str, Any], items: list[tuple[int, str]]) -> bool:
        """The run's final row and its last events, in one transaction."""
        def write(c: Connection) -> None:
            self._upsert(c, run)
            self._events(c, run["id"], items)
        return self._write(f"run {run['id']}", write, whole=True)

    def save_run(self, run: dict[str, Any], events: list[dict[str, Any]], encoded: list[str] | None = None) -> bool:
        """Store a whole run and its events at once (imports; `encoded`: their JSON, when known)."""
        texts = encoded if encoded is not None and len(encoded) == len(events) else [
            json.dumps(e, ensure_ascii=False) for e in events]

        def write(c: Connection) -> None:
            self._upsert(c, run)
            c.execute(delete(T.events).where(T.events.c.run_id == run["id"]))
            if events:
                c.execute(T.events.insert(), [{"run_id": run["id"], "seq": e["seq"], "data": t}
                                              for e, t in zip(events, texts, strict=True)])
        return self._write(f"run {run['id']}", write, whole=True)

    def _events(self, c: Connection, run_id: str, items: list[tuple[int, str]]) -> None:
        if not items:  # an empty parameter list would be one INSERT of NULLs
            return
        stmt = self._insert(T.events)
        stmt = stmt.on_conflict_do_update(index_elements=[T.events.c.run_id, T.events.c.seq],
                                          set_={"data": stmt.excluded.data})
        c.execute(stmt, [{"run_id": run_id, "seq": seq, "data": data} for seq, data in items])

    def _upsert(self, c: Connection, run: dict[str, Any], replace: bool = True) -> None:
        # ON CONFLICT, not delete-and-insert: a replaced row would cascade-delete the run's events.
        stmt = self._insert(T.runs).values(
            id=run["id"], lesson=run.get("lesson"), status=run["status"], created=run["created"],
            finished=run.get("finished"), result=json.dumps(run.get("result")),
            files=json.dumps(run.get("files", {})), room=run.get("room"), answers=json.dumps(run.get("answers")),
            owner=run.get("owner"), share=run.get("share"), node=run.get("node") or self.node)
        if replace:
            stmt = stmt.on_conflict_do_update(index_elements=[T.runs.c.id],
                                              set_={c: stmt.excluded[c] for c in RUN_COLUMNS[1:]})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=[T.runs.c.id])
        c.execute(stmt)

    def interrupted(self, finish: Finish, node: str | None = None) -> list[str]:
        """Runs a previous web process left going (it was killed): each gets the run.finished that
        `finish(run, events)` makes and is marked finished. Returns their ids. With node: only that
        node's runs (and those recorded before runs had a node); None: every unfinished run."""
        where = [] if node is None else [or_(T.runs.c.node == node, T.runs.c.node.is_(None))]
        return self._end_unfinished(where, finish)

    def mark_node_lost(self, node: str, finish: Finish) -> list[str]:
        """Every unfinished run of a node that is gone ends as `finish(run, events)` says; returns their ids."""
        return self._end_unfinished([T.runs.c.node == node], finish)

    def _end_unfinished(self, where: list[Any], finish: Finish) -> list[str]:
        q = select(T.runs.c.id).where(T.runs.c.status != "finished", *where).order_by(T.runs.c.created)
        ids = [r[0] for r in self.read(lambda c: c.execute(q).fetchall())]
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
        cols = [T.runs.c[name] for name in RUN_COLUMNS]
        row = self.read(lambda c: c.execute(select(*cols).where(T.runs.c.id == run_id)).fetchone())
        if row is None:
            return None
        rec = dict(zip(RUN_COLUMNS, row, strict=True))
        rec["result"] = json.loads(rec["result"]) if rec["result"] else None
        rec["files"] = json.loads(rec["files"] or "{}")
        rec["answers"] = json.loads(rec["answers"]) if rec["answers"] else None
        return rec

    def get_events(self, run_id: str, after: int = -1, limit: int | None = None) -> list[dict[str, Any]]:
        """The run's events with a seq above `after`, in order; at most `limit` (a page) when given."""
        q = (select(T.events.c.data).where(T.events.c.run_id == run_id, T.events.c.seq > after)
             .order_by(T.events.c.seq))
        if limit is not None:
            q = q.limit(limit)
        return [json.loads(r[0]) for r in self.read(lambda c: c.execute(q).fetchall())]

    def list_runs(self, limit: int = 50, room: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        """The newest runs, of a room or of one owner (None: everyone's)."""
        r = T.runs.c
        q = select(r.id, r.lesson, r.status, r.created, r.finished)
        if room:
            q = q.where(r.room == room)
        if owner is not None:
            q = q.where(r.owner == owner)
        q = q.order_by(r.created.desc()).limit(limit)
        return [{"id": x[0], "lesson": x[1], "status": x[2], "created": x[3], "finished": x[4]}
                for x in self.read(lambda c: c.execute(q).fetchall())]

    def prune(self, retention_days: float) -> int:
        """Delete runs older than retention_days (their events go with them: ON DELETE CASCADE); the number
        deleted. A failure is logged and kept for health() like any write (0 deleted), not raised: the
        janitor calling this must go on."""
        cutoff = time.time() - retention_days * 86400
        deleted = [0]

        def write(c: Connection) -> None:
            deleted[0] = int(c.execute(delete(T.runs).where(T.runs.c.created < cutoff)).rowcount)
        self._write("the pruning of old runs", write)
        return deleted[0]

    def add_room(self, code: str, title: str | None) -> None:
        with self.transaction() as c:
            c.execute(T.rooms.insert().values(code=code, created=time.time(), title=title))

    def get_room(self, code: str) -> dict[str, Any] | None:
        q = select(T.rooms.c.code, T.rooms.c.created, T.rooms.c.title).where(T.rooms.c.code == code)
        row = self.read(lambda c: c.execute(q).fetchone())
        return {"code": row[0], "created": row[1], "title": row[2]} if row else None

    # ------------------------------------------------------------ batches

    def add_batch(self, batch: dict[str, Any]) -> bool:
        """A batch (id, created, count, metric, runs: [run id], lesson, room, owner, refused), written
        again each time its runs change."""
        stmt = self._insert(T.batches).values(
            id=batch["id"], created=batch["created"], lesson=batch.get("lesson"), room=batch.get("room"),
            owner=batch.get("owner"), count=batch["count"], metric=json.dumps(batch["metric"]),
            runs=json.dumps(batch.get("runs", [])), refused=batch.get("refused"))
        stmt = stmt.on_conflict_do_update(index_elements=[T.batches.c.id],
                                          set_={k: stmt.excluded[k] for k in ("runs", "refused")})
        def write(c: Connection) -> None:
            c.execute(stmt)
        return self._write(f"batch {batch['id']}", write)

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        b = T.batches.c
        q = select(b.id, b.created, b.lesson, b.room, b.owner, b["count"], b.metric, b.runs, b.refused).where(
            b.id == batch_id)
        row = self.read(lambda c: c.execute(q).fetchone())
        if row is None:
            return None
        return {"id": row[0], "created": row[1], "lesson": row[2], "room": row[3], "owner": row[4],
                "count": row[5], "metric": json.loads(row[6]), "runs": json.loads(row[7]), "refused": row[8]}

    def close(self) -> None:
        with self._guard():
            self.engine.dispose()
