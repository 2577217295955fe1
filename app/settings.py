"""The one typed settings object. Every field can be set from the environment as PROCLAB_<NAME>."""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .sandbox.limits import Limits
from .sandbox.protocol import DEFAULT_NICE

PACKAGE = Path(__file__).resolve().parent


class Layout(enum.Enum):
    """Where lessons/, static/ and templates/ are: beside app/ in a checkout, inside the package once installed."""

    CHECKOUT = "checkout"
    INSTALLED = "installed"


LAYOUT = Layout.INSTALLED if (PACKAGE / "static").is_dir() else Layout.CHECKOUT
ROOT = PACKAGE if LAYOUT is Layout.INSTALLED else PACKAGE.parent  # the folder holding lessons/, static/, templates/


def default_data_dir(layout: Layout = LAYOUT, euid: int | None = None,
                     env: Mapping[str, str] = os.environ) -> Path:
    """A checkout keeps its recordings in ./data; an installed server in /var/lib/proclab as root, else in the
    user's data directory (XDG), never in site-packages."""
    if layout is Layout.CHECKOUT:
        return ROOT / "data"
    if (os.geteuid() if euid is None else euid) == 0:
        return Path("/var/lib/proclab")
    xdg = env.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(env.get("HOME") or Path.home()) / ".local" / "share"
    return base / "proclab"


def _default_runtime() -> str:
    if os.geteuid() == 0:
        return "/run/proclab"
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return os.path.join(base, f"proclab-{os.getuid()}")


class Layer(StrEnum):
    """The sandbox's layers, as the launcher's probe names them (app/sandbox/probe.py)."""

    PROCESS_MODEL = "process_model"
    IDENTITY = "identity"
    RLIMITS = "rlimits"
    SUPERVISION = "supervision"
    SECCOMP = "seccomp"
    LANDLOCK = "landlock"
    NAMESPACES = "namespaces"
    CGROUP = "cgroup"
    # Not a containment layer: the preloaded native shim that reports processes started from C.
    NATIVE = "native"


class LogLevel(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


class SettingsError(ValueError):
    """Settings the server refuses to start with; the message names each variable and what it accepts."""


DATABASE_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://", "sqlite:///")

# Positive, finite numbers for the server's maximum limits.
PositiveLimit = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROCLAB_", extra="ignore", validate_default=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=1, le=65535)
    lessons_dir: Path = ROOT / "lessons"
    data_dir: Path = Field(default_factory=default_data_dir)
    # Where recordings, rooms, classroom progress and batches live: postgresql://user:password@host:5432/db
    # (several nodes share it) or sqlite:///path. None: the SQLite file <data_dir>/proclab.db.
    database_url: str | None = None
    # This node's name, stored with every run it starts. Set, a restart ends only this node's unfinished runs;
    # unset (one server alone), every unfinished run.
    node_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=200)
    runtime_dir: str = Field(default_factory=_default_runtime)
    # Interpreter for runs; must be usable by the run uids. Empty: found by probing.
    run_python: str = ""
    uid_base: int = Field(default=61000, ge=1000, le=2**31 - 1 - 4096)
    max_concurrent_runs: int = Field(default_factory=lambda: 2 * (os.cpu_count() or 1), ge=1, le=4096)
    max_runs_per_client: int = Field(default=3, ge=1)
    # Supervisors kept ready for the next runs, at most one per run uid (see app/sandbox/spare.py): a warm
    # start skips forking, namespaces and the cgroup move. 0 turns warm starts off.
    warm_spares: int = Field(default=4, ge=0, le=4096)
    max_queue: int = Field(default=200, ge=0)
    disconnect_grace_s: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    # Comma list of layers to turn off, e.g. seccomp,landlock,namespaces,cgroup (as in a plain docker run);
    # native: no preloaded native shim (processes started from C are then found by /proc scans only).
    disable_layers: Annotated[frozenset[Layer], NoDecode] = frozenset()
    nice: int = Field(default=DEFAULT_NICE, ge=0, le=19)  # of the runs' processes; the web process stays at 0
    instructor_token: str = ""
    # The address students use (e.g. http://10.0.0.5:8000) for room links and QR codes; by default the
    # address the instructor's browser used, which is wrong when that is 127.0.0.1.
    public_url: str = ""
    retention_days: int = Field(default=30, ge=1)
    max_wall_s: PositiveLimit = 30.0
    max_cpu_s: PositiveLimit = 10.0
    max_processes: int = Field(default=64, ge=1)
    max_memory_mb: int = Field(default=256, ge=1)
    max_output_kb: int = Field(default=256, ge=1)
    max_files_mb: int = Field(default=64, ge=1)
    max_fds: int = Field(default=256, ge=16)  # the interpreter itself needs a few
    max_leftover_s: PositiveLimit = 5.0
    log_level: LogLevel = LogLevel.INFO
    # What one address, one connection and one request may use (issue 15; docs/architecture.md).
    # runs going at once from one IP address, whatever its cookies say
    max_runs_per_ip: int = Field(default=12, ge=1)
    # open WebSockets per IP address (a classroom behind one NAT needs many)
    max_ws_per_ip: int = Field(default=256, ge=1)
    # request bodies (files, stdin, saves): 413 above, before anything is read further
    max_body_kb: int = Field(default=1024, ge=1)
    max_import_mb: int = Field(default=64, ge=1)  # body of POST /api/runs/import (a recording)
    # kernel send buffer per WebSocket (fixed, so a stalled client costs at most this)
    ws_send_buffer_kb: int = Field(default=256, ge=4)
    # events waiting for one slow WebSocket; above, it is closed (resume with after=)
    ws_buffer_events: int = Field(default=5000, ge=1)
    # sign-in attempts per IP address per minute; then 429 with Retry-After
    signin_per_minute: int = Field(default=10, ge=1)
    # an instructor's sign-in lasts this long (sign-out ends it at once)
    session_hours: float = Field(default=12.0, gt=0, allow_inf_nan=False)
    # Several nodes (docs/deploy.md): the Redis they share live state through (app/cluster/). None: one
    # embedded node, and redis-py is never imported.
    redis_url: str | None = None

    @property
    def max_limits(self) -> Limits:
        return Limits(wall_s=self.max_wall_s, cpu_s=self.max_cpu_s, processes=self.max_processes,
                      memory_mb=self.max_memory_mb, output_kb=self.max_output_kb, files_mb=self.max_files_mb,
                      fds=self.max_fds, leftover_s=self.max_leftover_s)

    @field_validator("disable_layers", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(x.strip().lower() for x in value.split(",") if x.strip())
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a Redis address like redis://redis:6379/0 (or rediss://, unix://)")
        return value or None

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("expected an address starting with http:// or https://, e.g. http://10.0.0.5:8000")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(DATABASE_SCHEMES):
            raise ValueError("expected postgresql://user:password@host:5432/dbname or sqlite:///path/to/proclab.db")
        return value

    @property
    def database(self) -> str | Path:
        """What app/storage.py opens: database_url, else the SQLite file in data_dir."""
        return self.database_url or self.data_dir / "proclab.db"

    @property
    def disabled(self) -> set[str]:
        return {layer.value for layer in self.disable_layers}


def describe_errors(err: ValidationError) -> str:
    """One line per wrong setting: the variable, the value given, what it accepts."""
    lines = []
    for e in err.errors():
        name = f"PROCLAB_{str(e['loc'][0]).upper()}" if e["loc"] else "settings"
        given = os.environ.get(name)
        item = e.get("input")
        where = f"{name}={given}" if given is not None else name
        if isinstance(item, str | int | float) and str(item) != given:
            where += f" ({item!r})"  # the wrong item of a list
        lines.append(f"{where}: {e['msg']}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; raises SettingsError naming every wrong one and its valid values."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        raise SettingsError(describe_errors(e)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
