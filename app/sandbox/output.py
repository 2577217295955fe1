"""Each process's own stdout/stderr pipes: read, rate-limited, capped; and the root's stdin.

Over the rate cap the supervisor stops reading, so writers block on their full pipe (back
pressure) instead of anything buffering without bound; past the output cap the rest is dropped
and the run ends with the output limit.
"""

from __future__ import annotations

import codecs
import os
import selectors
import time
from collections.abc import Callable
from typing import Any

from . import protocol
from .limits import Limits

CHUNK = 65536
PIPE = "pipe"  # the selector's tag of an output pipe


class OutputPipes:
    """The run's output pipes (fd -> the pid its output is credited to, the stream, a decoder), the
    output rate's token bucket, the byte counts, and the write end of the root's stdin."""

    def __init__(self, sel: selectors.BaseSelector, limits: Limits, emit: Callable[[dict[str, Any]], None],
                 over_cap: Callable[[str], None]) -> None:
        self.sel = sel
        self.limits = limits
        self.emit = emit
        self.over_cap = over_cap  # called with the limit's detail when the output cap is passed
        self.pipes: dict[int, tuple[int, str, Any]] = {}
        self.throttled: set[int] = set()
        self.tokens = float(limits.output_rate_kbps * 1024)
        self.last_refill = time.monotonic()
        self.output_bytes = 0
        self.dropped_bytes = 0
        self.stdin_w: int | None = None

    def __contains__(self, fd: int) -> bool:
        return fd in self.pipes

    def add(self, fd: int, pid: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.pipes[fd] = (pid, stream, codecs.getincrementaldecoder("utf-8")("replace"))
        self.sel.register(fd, selectors.EVENT_READ, PIPE)

    def drop(self, fd: int) -> None:
        self.pipes.pop(fd, None)
        self.throttled.discard(fd)
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        os.close(fd)

    def owners(self) -> dict[int, int]:
        """Inode of each ProcLab output pipe -> the pid its output is credited to."""
        owners: dict[int, int] = {}
        for fd, (owner, _stream, _dec) in self.pipes.items():
            try:
                owners[os.fstat(fd).st_ino] = owner
            except OSError:
                pass
        return owners

    def read(self, fd: int) -> None:
        pid, stream, dec = self.pipes[fd]
        room = int(self.tokens)
        if room < 4096:
            # Over the rate cap: stop reading; the writer blocks on its full pipe (back pressure).
            self.throttled.add(fd)
            self.sel.unregister(fd)
            return
        try:
            data = os.read(fd, min(CHUNK, room))
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            tail = dec.decode(b"", final=True)
            if tail:
                self.emit(protocol.io_output(pid, stream, tail))
            self.drop(fd)
            return
        self.tokens -= len(data)
        cap = self.limits.output_kb * 1024
        if self.output_bytes >= cap:
            self.dropped_bytes += len(data)
            self.over_cap(f"more than {self.limits.output_kb} KiB of output")
            return
        keep = data[: cap - self.output_bytes]
        self.output_bytes += len(keep)
        text = dec.decode(keep)  # NUL bytes pass through (JSON escapes them); the terminal shows them inert
        if text:
            self.emit(protocol.io_output(pid, stream, text))
        if len(keep) < len(data):
            self.dropped_bytes += len(data) - len(keep)
            self.over_cap(f"more than {self.limits.output_kb} KiB of output")

    def refill(self) -> None:
        now = time.monotonic()
        rate = self.limits.output_rate_kbps * 1024
        self.tokens = min(float(rate), self.tokens + (now - self.last_refill) * rate)
        self.last_refill = now
        if self.tokens >= 4096 and self.throttled:
            for fd in list(self.throttled):
                self.throttled.discard(fd)
                self.sel.register(fd, selectors.EVENT_READ, PIPE)

    def drain(self) -> None:
        """Read what is left in every pipe (the writers are gone) before closing them."""
        self.tokens = float(1 << 30)
        for fd in list(self.pipes):
            for _ in range(64):
                if fd not in self.pipes:
                    break
                self.throttled.discard(fd)
                try:
                    self.sel.register(fd, selectors.EVENT_READ, PIPE)
                except (KeyError, ValueError):
                    pass
                before = self.output_bytes + self.dropped_bytes
                self.read(fd)
                if fd in self.pipes and self.output_bytes + self.dropped_bytes == before:
                    break
        for fd in list(self.pipes):
            self.drop(fd)

    def write_stdin(self, text: str, echo: bool = True) -> None:
        if self.stdin_w is None:
            return
        try:
            os.write(self.stdin_w, text.encode()[:65536])
        except OSError:
            return
        if echo:
            self.emit(protocol.io_input(text))

    def close_stdin(self) -> None:
        if self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None
