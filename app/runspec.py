"""What the supervisor is told about a run: files, limits, uid, active layers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from .sandbox.client import Launcher
from .sandbox.limits import Limits
from .sandbox.protocol import Pace, RunSpec, Stdio
from .settings import Settings

# Probe entry -> layer name, for the layers a run really uses.
USED = {"process_model": "process", "identity": "identity", "rlimits": "rlimits", "supervision": "supervision",
        "seccomp": "seccomp", "landlock": "landlock", "namespaces": "namespaces", "cgroup": "cgroup"}
FLOOR = ("process", "identity", "rlimits", "supervision")


def active_layers(info: dict[str, Any], as_root: bool) -> list[str]:
    probe = info.get("layers", {})
    return [name for key, name in USED.items()
            if probe.get(key, {}).get("ok") and (name not in ("identity", "namespaces", "cgroup") or as_root)]


def floor_missing(info: dict[str, Any], as_root: bool) -> list[str]:
    """Floor layers that are missing, with the probe's reason; empty means student code may run."""
    probe = info.get("layers", {})
    layers = active_layers(info, as_root)
    need = [x for x in FLOOR if x != "identity" or as_root]
    reverse = {v: k for k, v in USED.items()}
    return [f"{x} ({probe.get(reverse[x], {}).get('detail', 'not probed')})" for x in need if x not in layers]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def build_spec(settings: Settings, launcher: Launcher, files: dict[str, str], main: str, lesson: str | None,
               limits: dict[str, Any] | None, stdin: str | None = None, uid: int | None = None,
               run_id: str | None = None, stdio: str | None = None, pace: Pace | None = None,
               seq_base: int = 0) -> RunSpec:
    lim = Limits().with_overrides(limits or {}, settings.max_limits)
    if uid is None and launcher.uid_pool:
        uid = launcher.uid_pool[0]
    python_dir = str(Path(launcher.info.get("python", "/usr/bin/python3")).resolve().parent.parent)
    return RunSpec(
        run_id=run_id or new_run_id(), files=files, main=main, lesson=lesson, limits=lim, uid=uid,
        layers=active_layers(launcher.info, launcher.as_root), nice=settings.nice, stdin=stdin,
        stdio=Stdio(stdio) if stdio else Stdio.TERMINAL, pace=pace, seq_base=seq_base,
        ro_paths=["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/dev", "/sys", python_dir,
                  launcher.info.get("shim_dir", ""), launcher.info.get("bin_dir", "")],
    )
