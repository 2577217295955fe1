"""Per-run limits: defaults, the server's maximum, and what a lesson may ask for.

Stdlib only: this module is imported by the launcher, which runs on an
interpreter that may not have the web dependencies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# Words a student understands, per limit, in both lesson languages.
LIMIT_MESSAGES: dict[str, dict[str, str]] = {
    "processes": {
        "en": "The run hit its limit of {processes} processes and threads, so new fork() or thread start "
        "calls failed. Runaway forking (a fork bomb) is stopped here.",
        "zh": "运行达到了 {processes} 个进程和线程的上限，新的 fork() 或线程创建失败。失控的 fork（fork 炸弹）在这里被阻止。",
    },
    "memory": {
        "en": "The run used more than its {memory_mb} MiB of memory, so it was stopped.",
        "zh": "运行使用的内存超过了 {memory_mb} MiB 的上限，因此被停止。",
    },
    "cpu": {
        "en": "The run used more than {cpu_s} s of CPU time in total (all its processes together), so it was stopped.",
        "zh": "运行的所有进程共用了超过 {cpu_s} 秒的 CPU 时间，因此被停止。",
    },
    "wall": {
        "en": "The run was still going after {wall_s} s, its time limit, so it was stopped.",
        "zh": "运行超过了 {wall_s} 秒的时间上限，因此被停止。",
    },
    "output": {
        "en": "The run printed more than {output_kb} KiB, its output limit; the rest was dropped and the run stopped.",
        "zh": "运行输出超过了 {output_kb} KiB 的上限；之后的输出被丢弃，运行被停止。",
    },
    "files": {
        "en": "The run wrote more than {files_mb} MiB of files, its disk limit, so it was stopped.",
        "zh": "运行写入的文件超过了 {files_mb} MiB 的磁盘上限，因此被停止。",
    },
    "leftover": {
        "en": "The main program ended, but {count} process(es) kept running for {leftover_s} s after it "
        "(for example a daemon or a forgotten child), so they were stopped.",
        "zh": "主程序已经结束，但仍有 {count} 个进程在其后运行了 {leftover_s} 秒（例如守护进程或被遗忘的子进程），因此被停止。",
    },
}


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
                raise ValueError(f"unknown limit {key!r}; expected one of {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"limit {key!r} must be a finite positive number, got {value!r}")
            default = getattr(self, key)
            changes[key] = int(value) if isinstance(default, int) else float(value)
        return replace(self, **changes).clamp(maximum)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def message(self, limit: str, **extra: Any) -> dict[str, str]:
        template = LIMIT_MESSAGES[limit]
        values = {**self.to_dict(), **extra}
        return {lang: text.format(**values) for lang, text in template.items()}
