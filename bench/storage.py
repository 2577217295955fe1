"""The cost of storing events: Storage.append_events in batches of 50 (what the run manager writes every
0.5 s for a busy run) into a SQLite file and into a real PostgreSQL server on loopback (tests/pg_server.py),
measured in the same run. One writer, then several at once (runs of different nodes or threads)."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from app.storage import Storage

from .common import Result, Unavailable, pct, summary
from .sizes import Sizes

BATCH = 50


def _event(seq: int) -> str:
    """An io.output event as the run manager stores it (about 130 bytes)."""
    return json.dumps({"v": 1, "seq": seq, "t": seq * 1_000_000, "type": "io.output", "pid": 4242, "stream": "stdout",
                       "text": f"line {seq} of a program that prints a lot of output\n"}, separators=(",", ":"))


def _writer(s: Storage, run_id: str, batches: int, lat_ms: list[float]) -> None:
    s.begin_run({"id": run_id, "status": "running", "created": time.time()})
    for b in range(batches):
        items = [(b * BATCH + i, _event(b * BATCH + i)) for i in range(BATCH)]
        t = time.perf_counter_ns()
        if not s.append_events(run_id, items):
            raise RuntimeError(f"append_events failed: {s.health()[1]}")
        lat_ms.append((time.perf_counter_ns() - t) / 1e6)


def _measure(s: Storage, tag: str, batches: int, writers: int) -> dict[str, Any]:
    one: list[float] = []
    t = time.perf_counter()
    _writer(s, f"{tag}-one", batches, one)
    single_s = time.perf_counter() - t
    lats: list[list[float]] = [[] for _ in range(writers)]
    threads = [threading.Thread(target=_writer, args=(s, f"{tag}-w{i}", batches, lats[i])) for i in range(writers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    many_s = time.perf_counter() - t
    stored = len(s.get_events(f"{tag}-w0"))
    if stored != batches * BATCH:
        raise RuntimeError(f"{tag}: {stored} events stored of {batches * BATCH}")
    flat = [x for w in lats for x in w]
    return {"one_events_s": batches * BATCH / single_s, "one_batch_ms": summary(one),
            "many_events_s": writers * batches * BATCH / many_s, "many_batch_ms": summary(flat),
            "many_p99_ms": pct(flat, 99)}


def _filesystem(path: str) -> str:
    """The file system holding path, as /proc/mounts names it (ext4, tmpfs …)."""
    best = ("", "unknown")
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, kind, *_ = line.split()
        if (path + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[0]):
            best = (mount, kind)
    return f"{best[1]} ({path})"


def run(sizes: Sizes) -> Result:
    res = Result("storage", "Storing events: SQLite vs PostgreSQL",
                 method=f"`Storage.append_events` of {BATCH} io.output events (about 130 bytes of JSON each) per "
                        f"call, one transaction per call, as the run manager writes a busy run every 0.5 s: "
                        f"{sizes.storage_batches} calls by one writer, then {sizes.storage_writers} writers (threads, "
                        f"each its own run) at once. SQLite: a file in a temp dir (WAL, the server's settings); PostgreSQL 15 (Debian's, default settings: fsync and synchronous_commit "
                        "on) started by tests/pg_server.py on loopback TCP, psycopg 3 through SQLAlchemy's pool. "
                        "Same machine, same run.")
    try:
        from tests.pg_server import available, start_postgres
    except ImportError as e:
        raise Unavailable(f"tests/pg_server.py cannot be imported (run from the repository): {e}") from e
    if not available():
        raise Unavailable("PostgreSQL is not installed (Debian package postgresql)")
    with tempfile.TemporaryDirectory(prefix="proclab-bench-storage-") as tmp:
        lite = Storage(Path(tmp) / "data" / "proclab.db")
        try:
            synchronous = lite.read(lambda c: c.exec_driver_sql("PRAGMA synchronous").scalar())
            sqlite = _measure(lite, "sqlite", sizes.storage_batches, sizes.storage_writers)
        finally:
            lite.close()
        url, stop = start_postgres(Path(tmp) / "pg")
        try:
            pg_store = Storage(url)
            try:
                pg = _measure(pg_store, "pg", sizes.storage_batches, sizes.storage_writers)
            finally:
                pg_store.close()
        finally:
            stop()
    res.raw = {"sqlite": sqlite, "postgresql": pg, "synchronous": synchronous, "fs": _filesystem(tempfile.gettempdir())}
    w = sizes.storage_writers
    res.add("SQLite: events/s, one writer", sqlite["one_events_s"], "events/s",
            alternative=f"PostgreSQL {pg['one_events_s']:.0f} events/s")
    res.add("PostgreSQL: events/s, one writer", pg["one_events_s"], "events/s",
            alternative=f"SQLite {sqlite['one_events_s']:.0f} events/s")
    res.add("SQLite: one call of 50, median / p99", f"{sqlite['one_batch_ms']['median']:.2f} / "
            f"{sqlite['one_batch_ms']['p99']:.2f}", "ms")
    res.add("PostgreSQL: one call of 50, median / p99", f"{pg['one_batch_ms']['median']:.2f} / "
            f"{pg['one_batch_ms']['p99']:.2f}", "ms")
    res.add(f"SQLite: events/s, {w} writers at once", sqlite["many_events_s"], "events/s",
            alternative=f"PostgreSQL {pg['many_events_s']:.0f} events/s")
    res.add(f"PostgreSQL: events/s, {w} writers at once", pg["many_events_s"], "events/s",
            alternative=f"SQLite {sqlite['many_events_s']:.0f} events/s")
    res.add(f"p99 of one call, {w} writers: SQLite / PostgreSQL",
            f"{sqlite['many_p99_ms']:.2f} / {pg['many_p99_ms']:.2f}", "ms")
    res.notes.append(f"Both databases on {res.raw['fs']}; SQLite PRAGMA synchronous = {res.raw['synchronous']} "
                     "(2 = FULL). Each call is one transaction with one commit, so the cost per event is mostly "
                     "that commit divided by 50.")
    return res
