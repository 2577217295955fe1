"""Settings are checked at start: the real server refuses a wrong one and says what it accepts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, free_port

from app.settings import Layer, LogLevel, SettingsError, load_settings


def start(env: dict[str, str], tmp: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PROCLAB_DATA_DIR": tmp, "PROCLAB_PORT": str(free_port()), **env}
    return subprocess.run([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("env", "says"), [
    ({"PROCLAB_DISABLE_LAYERS": "seccomp,landlok"},
     ["PROCLAB_DISABLE_LAYERS", "'landlok'", "'seccomp'", "'landlock'", "'namespaces'", "'cgroup'"]),
    ({"PROCLAB_LOG_LEVEL": "loud"}, ["PROCLAB_LOG_LEVEL=loud", "'debug'", "'info'", "'warning'"]),
    ({"PROCLAB_NICE": "40"}, ["PROCLAB_NICE=40", "less than or equal to 19"]),
    ({"PROCLAB_MAX_WALL_S": "-3"}, ["PROCLAB_MAX_WALL_S=-3", "greater than 0"]),
    ({"PROCLAB_MAX_CPU_S": "inf"}, ["PROCLAB_MAX_CPU_S=inf", "finite"]),
    ({"PROCLAB_WARM_SPARES": "many"}, ["PROCLAB_WARM_SPARES=many", "integer"]),
    ({"PROCLAB_PUBLIC_URL": "10.0.0.5:8000"}, ["PROCLAB_PUBLIC_URL", "http://"]),
    ({"PROCLAB_DATABASE_URL": "mysql://u@db/proclab"}, ["PROCLAB_DATABASE_URL=mysql://u@db/proclab",
                                                        "postgresql://", "sqlite:///"]),
    ({"PROCLAB_MAX_RUNS_PER_IP": "0"}, ["PROCLAB_MAX_RUNS_PER_IP=0", "greater than or equal to 1"]),
    ({"PROCLAB_WS_BUFFER_EVENTS": "-5"}, ["PROCLAB_WS_BUFFER_EVENTS=-5", "greater than or equal to 1"]),
    ({"PROCLAB_SESSION_HOURS": "nan"}, ["PROCLAB_SESSION_HOURS=nan", "finite"]),
])
def test_the_server_refuses_to_start_with_a_wrong_setting(env: dict[str, str], says: list[str], tmp_path) -> None:
    done = start(env, str(tmp_path))
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "cannot start with these settings" in done.stderr
    for text in says:
        assert text in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "proclab.db").exists() and not list(tmp_path.iterdir()), "started anyway"


def test_every_wrong_setting_is_named_at_once(tmp_path) -> None:
    done = start({"PROCLAB_NICE": "-1", "PROCLAB_PORT": "70000", "PROCLAB_DISABLE_LAYERS": "firewall"}, str(tmp_path))
    assert done.returncode == 2
    for name in ("PROCLAB_NICE", "PROCLAB_PORT", "PROCLAB_DISABLE_LAYERS"):
        assert name in done.stderr, done.stderr


def test_layers_and_levels_are_enums(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCLAB_DISABLE_LAYERS", " Namespaces, cgroup ,")
    monkeypatch.setenv("PROCLAB_LOG_LEVEL", "warning")
    s = load_settings()
    assert s.disable_layers == {Layer.NAMESPACES, Layer.CGROUP}
    assert s.disabled == {"namespaces", "cgroup"}
    assert s.log_level is LogLevel.WARNING
    monkeypatch.setenv("PROCLAB_DISABLE_LAYERS", "")
    assert load_settings().disable_layers == frozenset()
    monkeypatch.setenv("PROCLAB_MAX_PROCESSES", "0")
    with pytest.raises(SettingsError, match="PROCLAB_MAX_PROCESSES=0"):
        load_settings()
