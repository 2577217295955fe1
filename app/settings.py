"""The one typed settings object. Every field can be set from the environment as PROCLAB_<NAME>."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .sandbox.limits import Limits

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROCLAB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    lessons_dir: Path = ROOT / "lessons"
    data_dir: Path = Field(default_factory=default_data_dir)
    runtime_dir: str = Field(default_factory=_default_runtime)
    # Interpreter for runs; must be usable by the run uids. Empty: found by probing.
    run_python: str = ""
    uid_base: int = 61000
    max_concurrent_runs: int = Field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    max_runs_per_client: int = 3
    # Supervisors kept ready for the next runs, at most one per run uid (see app/sandbox/spare.py): a warm
    # start skips forking, namespaces and the cgroup move. 0 turns warm starts off.
    warm_spares: int = 4
    max_queue: int = 200
    disconnect_grace_s: float = 10.0
    disable_layers: str = ""  # comma list: seccomp,landlock,namespaces,cgroup (as in a plain docker run)
    nice: int = 10
    instructor_token: str = ""
    # The address students use (e.g. http://10.0.0.5:8000) for room links and QR codes; by default the
    # address the instructor's browser used, which is wrong when that is 127.0.0.1.
    public_url: str = ""
    retention_days: int = 30
    max_wall_s: float = 30.0
    max_cpu_s: float = 10.0
    max_processes: int = 64
    max_memory_mb: int = 256
    max_output_kb: int = 256
    max_files_mb: int = 64
    max_fds: int = 256
    max_leftover_s: float = 5.0
    log_level: str = "info"

    @property
    def max_limits(self) -> Limits:
        return Limits(wall_s=self.max_wall_s, cpu_s=self.max_cpu_s, processes=self.max_processes,
                      memory_mb=self.max_memory_mb, output_kb=self.max_output_kb, files_mb=self.max_files_mb,
                      fds=self.max_fds, leftover_s=self.max_leftover_s)

    @property
    def uid_pool(self) -> list[int]:
        return list(range(self.uid_base, self.uid_base + self.max_concurrent_runs))

    @property
    def disabled(self) -> set[str]:
        return {x.strip() for x in self.disable_layers.split(",") if x.strip()}


@lru_cache
def get_settings() -> Settings:
    return Settings()
