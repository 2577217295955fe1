"""Per-run limits: defaults, the server's maximum, and what a lesson may ask for.

Stdlib only: this module is imported by the launcher, which runs on an
interpreter that may not have the web dependencies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# The fields of Limits each limit's sentence needs (the UI's words are in static/i18n/, key `limit.<code>`).
LIMIT_PARAMS: dict[str, tuple[str, ...]] = {
    "processes": ("processes",),
    "memory": ("memory_mb",),
    "cpu": ("cpu_s",),
    "wall": ("wall_s",),
    "output": ("output_kb",),
    "files": ("files_mb",),
    "leftover": ("leftover_s",),  # plus `count`, the processes left behind
}


# The least a limit may be where "more than 0" is not enough: a run's cgroup already holds its set-up (a warm
# spare's waiting root, its compiler) when the limit is applied, and the kernel refuses a memory.max below
# what is in use (EBUSY), which a student would see as an OSError.
# Below these a run cannot even start its program (a wall clock of 1e-320 s was once taken and "hit").
MINIMUM: dict[str, int | float] = {"memory_mb": 16, "wall_s": 0.1, "cpu_s": 0.1}


class LimitError(ValueError):
    """A lesson's or a request's limits that cannot apply: the English, and a code with its parameters."""

    def __init__(self, message: str, code: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Limits:
    """Aggregate limits over the run's whole process tree."""

    wall_s: float = 30.0
    cpu_s: float = 10.0
    processes: int = 64  # processes and threads together (RLIMIT_NPROC counts both)
    memory_mb: int = 256
    output_kb: int = 256
    output_rate_kbps: int = 64  # sustained output rate; above it writers block on their pipe
    files_mb: int = 64
    fds: int = 256
    leftover_s: float = 5.0  # how long processes may outlive the main program

    def clamp(self, maximum: Limits) -> Limits:
        """Lower every field to the server's maximum."""
        return replace(self, **{f.name: min(getattr(self, f.name), getattr(maximum, f.name)) for f in fields(self)})

    def with_overrides(self, overrides: dict[str, Any] | None, maximum: Limits) -> Limits:
        """Apply a lesson's or a request's limits, then clamp to the maximum.

        Raises ValueError naming the field when a key is unknown or a value is not a positive number.
        """
        if not overrides:
            return self.clamp(maximum)
        known = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise LimitError(f"unknown limit {key!r}; expected one of {', '.join(sorted(known))}",
                                 "limit_unknown", key=repr(key), keys=", ".join(sorted(known)))
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise LimitError(f"limit {key!r} must be a finite positive number, got {value!r}",
                                 "limit_value", key=repr(key), got=repr(value)[:200])
            if value < MINIMUM.get(key, 0):
                raise LimitError(f"limit {key!r} must be at least {MINIMUM[key]}, got {value!r}",
                                 "limit_too_low", key=repr(key), min=MINIMUM[key], got=repr(value)[:200])
            default = getattr(self, key)
            changes[key] = int(value) if isinstance(default, int) else float(value)
        return replace(self, **changes).clamp(maximum)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def params(self, limit: str, **extra: Any) -> dict[str, Any]:
        """The numbers a `run.limit` event carries for its sentence, e.g. {"processes": 64}."""
        return {**{name: getattr(self, name) for name in LIMIT_PARAMS[limit]}, **extra}
