"""Batches: one program run N times through the normal queue and limits; the distribution of outcomes.

The outcome of a run is a metric of app/expectations.py (`output_order` by default: the order of
the lines, which shows who printed first and the final value of an unlocked counter).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
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


@dataclass
class Batch:
    id: str
    count: int
    metric: dict[str, Any]
    client: str
    runs: list[Run] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # run id -> outcome
    refused: str | None = None
    task: asyncio.Task[None] | None = None

    def public(self) -> dict[str, Any]:
        done = [r for r in self.runs if r.status == RunStatus.FINISHED]
        return {"id": self.id, "count": self.count, "metric": self.metric, "submitted": len(self.runs),
                "finished": len(done), "done": len(done) == self.count, "refused": self.refused,
                "runs": [{"id": r.id, "status": r.status.value,
                          "result": (r.result or {}).get("status") if r.result else None} for r in self.runs],
                "outcomes": distribution([(r.id, self.outcomes[r.id]) for r in done if r.id in self.outcomes])}


class Batches:
    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.batches: dict[str, Batch] = {}

    def start(self, count: int, metric: dict[str, Any], client: str,
              submit: Callable[[], Run]) -> Batch:
        """Runs are submitted as the client's cap allows (`max_runs_per_client` at once), so a batch waits
        in the same queue as everyone else and cannot take every slot."""
        batch = Batch(id="b" + secrets.token_hex(6), count=count, metric=metric, client=client)
        batch.runs.append(submit())  # the first refusal (server full, no sandbox) is the caller's error
        self.batches[batch.id] = batch
        batch.task = asyncio.get_running_loop().create_task(self._drive(batch, submit))
        if len(self.batches) > 200:  # keep the newest; their runs are in SQLite anyway
            for old in list(self.batches)[:-200]:
                if self.batches[old].task is None or self.batches[old].task.done():  # type: ignore[union-attr]
                    self.batches.pop(old, None)
        return batch

    async def _drive(self, batch: Batch, submit: Callable[[], Run]) -> None:
        cap = max(1, self.manager.settings.max_runs_per_client)
        while True:
            for r in batch.runs:
                if r.status == RunStatus.FINISHED and r.id not in batch.outcomes:
                    try:
                        batch.outcomes[r.id] = outcome_of(batch.metric, r.events)
                    except Exception:  # one odd run must not stop the batch
                        log.exception("outcome of run %s", r.id)
                        batch.outcomes[r.id] = ""
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
