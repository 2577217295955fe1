"""Batches: one program run N times through the normal queue and limits; the distribution of outcomes.

The outcome of a run is a metric of app/expectations.py (`output_order` by default: the order of
the lines, which shows who printed first and the final value of an unlocked counter).

A batch is stored (Storage.add_batch) when it starts and each time a run is added, so after a restart,
or on another node, GET /api/batches/{id} still answers from the stored run ids, runs and events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..expectations import METRICS, RunFacts
from ..runs import Run, RunManager, RunRefused, RunStatus

log = logging.getLogger("proclab.batches")
MAX_BATCH = 50


def outcome_of(metric: dict[str, Any], events: list[dict[str, Any]]) -> str:
    fn = METRICS[metric["metric"]]
    value = fn(RunFacts(events), metric)
    return "" if value is None else str(value)


def distribution(outcomes: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """[(run id, outcome)] -> [{outcome, count, runs}], the most frequent first."""
    groups: dict[str, list[str]] = {}
    for run_id, out in outcomes:
        groups.setdefault(out, []).append(run_id)
    return [{"outcome": k, "count": len(v), "runs": v}
            for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def view(batch_id: str, count: int, metric: dict[str, Any], refused: str | None,
         runs: list[tuple[str, str, dict[str, Any] | None]], outcomes: dict[str, str]) -> dict[str, Any]:
    """GET /api/batches/{id}'s answer. runs: (id, status, result) in submission order; outcomes: run id -> outcome."""
    done = [run_id for run_id, status, _ in runs if status == RunStatus.FINISHED]
    return {"id": batch_id, "count": count, "metric": metric, "submitted": len(runs), "finished": len(done),
            "done": len(done) == count, "refused": refused,
            "runs": [{"id": run_id, "status": status, "result": result.get("status") if result else None}
                     for run_id, status, result in runs],
            "outcomes": distribution([(run_id, outcomes[run_id]) for run_id in done if run_id in outcomes])}


@dataclass
class Batch:
    id: str
    count: int
    metric: dict[str, Any]
    client: str
    lesson: str | None = None
    created: float = field(default_factory=time.time)
    runs: list[Run] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # run id -> outcome
    refused: str | None = None
    task: asyncio.Task[None] | None = None

    def public(self) -> dict[str, Any]:
        return view(self.id, self.count, self.metric, self.refused,
                    [(r.id, r.status.value, r.result) for r in self.runs], self.outcomes)

    def record(self) -> dict[str, Any]:
        """What Storage.add_batch keeps."""
        return {"id": self.id, "created": self.created, "lesson": self.lesson, "owner": self.client,
                "count": self.count, "metric": self.metric, "runs": [r.id for r in self.runs],
                "refused": self.refused}


class Batches:
    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.batches: dict[str, Batch] = {}

    def start(self, count: int, metric: dict[str, Any], client: str,
              submit: Callable[[], Run], lesson: str | None = None) -> Batch:
        """Runs are submitted as the client's cap allows (`max_runs_per_client` at once), so a batch waits
        in the same queue as everyone else and cannot take every slot."""
        batch = Batch(id="b" + secrets.token_hex(6), count=count, metric=metric, client=client, lesson=lesson)
        batch.runs.append(submit())  # the first refusal (server full, no sandbox) is the caller's error
        self.batches[batch.id] = batch
        batch.task = asyncio.get_running_loop().create_task(self._drive(batch, submit))
        if len(self.batches) > 200:  # keep the newest in memory; the others are read from storage
            for old in list(self.batches)[:-200]:
                if self.batches[old].task is None or self.batches[old].task.done():  # type: ignore[union-attr]
                    self.batches.pop(old, None)
        return batch

    async def get(self, batch_id: str) -> tuple[dict[str, Any], str | None] | None:
        """A batch's view and its owner (the client that started it): from memory when this process drives
        it, else from storage (a restart, another node)."""
        batch = self.batches.get(batch_id)
        if batch is not None:
            return batch.public(), batch.client
        return await asyncio.to_thread(self._stored, batch_id)

    def _stored(self, batch_id: str) -> tuple[dict[str, Any], str | None] | None:
        storage = self.manager.storage
        rec = storage.get_batch(batch_id)
        if rec is None:
            return None
        runs: list[tuple[str, str, dict[str, Any] | None]] = []
        outcomes: dict[str, str] = {}
        for run_id in rec["runs"]:
            live = self.manager.runs.get(run_id)
            if live is not None:
                status, result, events = live.status.value, live.result, live.events
            else:
                stored = storage.get_run(run_id)
                if stored is None:  # pruned
                    continue
                status, result = stored["status"], stored["result"]
                events = storage.get_events(run_id) if status == RunStatus.FINISHED else []
            runs.append((run_id, status, result))
            if status == RunStatus.FINISHED:
                outcomes[run_id] = _safe_outcome(rec["metric"], events, run_id)
        return view(rec["id"], rec["count"], rec["metric"], rec["refused"], runs, outcomes), rec.get("owner")

    async def _save(self, batch: Batch) -> None:
        await asyncio.to_thread(self.manager.storage.add_batch, batch.record())

    async def _drive(self, batch: Batch, submit: Callable[[], Run]) -> None:
        cap = max(1, self.manager.settings.max_runs_per_client)
        saved = (-1, "")
        while True:
            if saved != (len(batch.runs), batch.refused or ""):
                saved = (len(batch.runs), batch.refused or "")
                await self._save(batch)
            for r in batch.runs:
                if r.status == RunStatus.FINISHED and r.id not in batch.outcomes:
                    batch.outcomes[r.id] = _safe_outcome(batch.metric, r.events, r.id)
            going = [r for r in batch.runs if r.status != RunStatus.FINISHED]
            if len(batch.runs) == batch.count and not going:
                return
            if len(batch.runs) < batch.count and len(going) < cap:
                try:
                    batch.runs.append(submit())
                    continue
                except RunRefused as e:
                    batch.refused = e.message  # a moment later the queue may have room again
            if going:
                waiters = [asyncio.ensure_future(r.done.wait()) for r in going]
                _, pending = await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                for w in pending:
                    w.cancel()
            else:
                await asyncio.sleep(0.5)


def _safe_outcome(metric: dict[str, Any], events: list[dict[str, Any]], run_id: str) -> str:
    try:
        return outcome_of(metric, events)
    except Exception:  # one odd run must not stop the batch
        log.exception("outcome of run %s", run_id)
        return ""
