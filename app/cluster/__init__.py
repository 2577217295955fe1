"""Several nodes, one ProcLab: what a node asks of the others (docs/architecture.md, "Several nodes").

The web routes talk to a `Directory`: where a run is placed, and how a run this node does not hold
is read, watched and controlled. `Alone` is the embedded single node (no PROCLAB_REDIS_URL): every
run is local, so each question has the answer "not elsewhere" and the routes keep their local paths
unchanged. `app/cluster/node.py` is the Redis implementation (imported only when a URL is set, so
redis-py is never loaded by an embedded server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..feeds import Feed
from ..runs import Client, Run, RunManager, Submission

StudentOf = tuple[str, str]  # (room code, student id): a classroom student's own run, for the wall
# Called on the node that runs it, as it is made; returns its wall entry (JSON) for the other nodes.
OnStudentRun = Callable[[Run, str, str], str]


class NodeUnreachable(Exception):
    """The node holding a run did not answer in time (the user's words: `error.node_unreachable`)."""

    def __init__(self, node: str) -> None:
        super().__init__(f"the node {node} holding this run did not answer")
        self.node = node


class Directory(Protocol):
    node: str
    on_student_run: OnStudentRun | None  # the classroom's: puts a student's run on the wall where it runs

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def place(self, sub: Submission, client: Client, room: str | None = None,
                    student: StudentOf | None = None) -> dict[str, Any]:
        """Start a run on the node that should take it; its public record with `share` (and `position`
        when it waits in a queue). Raises RunRefused."""
        ...

    async def meta(self, run_id: str) -> dict[str, Any] | None:
        """The record of a run held elsewhere (as `Web.run_meta` returns it), or None."""
        ...

    async def events(self, run_id: str, after: int) -> list[dict[str, Any]] | None:
        """Events of a run held elsewhere with seq > after, or None when no node has them live."""
        ...

    async def subscribe(self, run_id: str, after: int) -> Feed | None:
        """A feed of a run held elsewhere: catch-up after `after`, then live; None if none is live."""
        ...

    def unsubscribe(self, run_id: str, feed: Feed) -> None: ...

    async def command(self, run_id: str, cmd: dict[str, Any]) -> bool:
        """Deliver a control to the node holding the run; False when the run is not going."""
        ...

    def describe(self) -> dict[str, Any]:
        """For /healthz: this node and, with Redis, the nodes it sees."""
        ...

    async def problem(self) -> str | None:
        """For /readyz: why what the nodes share cannot be reached (None: it can)."""
        ...


class Alone:
    """The embedded single node: every run is here."""

    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.node = manager.settings.node_id
        self.on_student_run: OnStudentRun | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def place(self, sub: Submission, client: Client, room: str | None = None,
                    student: StudentOf | None = None) -> dict[str, Any]:
        run = self.manager.submit(sub, client, room=room)
        if student is not None and self.on_student_run is not None:
            self.on_student_run(run, *student)
        return {**run.public(), "share": run.share}

    async def meta(self, run_id: str) -> dict[str, Any] | None:
        return None

    async def events(self, run_id: str, after: int) -> list[dict[str, Any]] | None:
        return None

    async def subscribe(self, run_id: str, after: int) -> Feed | None:
        return None

    def unsubscribe(self, run_id: str, feed: Feed) -> None:
        return None

    async def command(self, run_id: str, cmd: dict[str, Any]) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        return {"mode": "embedded", "node": self.node}

    async def problem(self) -> str | None:
        return None
