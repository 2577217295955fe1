"""The launcher: a clean interpreter, and a start-up sweep of what an earlier crash left behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import survivors

from app.sandbox import cgroup
from app.sandbox.client import Launcher

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the uid pool needs root")


def test_startup_sweep_kills_and_removes_what_a_crash_left(tmp_path: Path) -> None:
    runtime = tmp_path / "rt"
    base = 63500
    stale_uid = base  # the first uid the new launcher will claim
    orphan = subprocess.Popen(["sleep", "60"], user=stale_uid, group=stale_uid, extra_groups=[],
                              start_new_session=True)
    dead = runtime / "i-999999"  # a launcher pid that does not exist
    (dead / "runs" / "abc").mkdir(parents=True)
    (dead / "runs" / "abc" / "main.py").write_text("print(1)\n")
    stale_file = Path("/dev/shm") / f"proclab-test-{os.getpid()}"
    stale_file.write_text("x")
    os.chown(stale_file, stale_uid, stale_uid)
    # A crashed run's cgroup (named after its uid) and another server's, which must be left alone.
    crashed = cgroup.RunCgroup.create(f"uid-{stale_uid}-crashed", pids_max=10, memory_max=0, cpu_quota_pct=None)
    other = cgroup.RunCgroup.create(f"uid-{base + 50}-other", pids_max=10, memory_max=0, cpu_quota_pct=None)
    if crashed is not None:
        crashed.add(orphan.pid)
    launcher = Launcher.create(str(runtime), base, 1)
    try:
        assert launcher.uid_pool == [stale_uid]
        launcher.start()
        orphan.wait(timeout=5)  # killed by the sweep
        assert not survivors(stale_uid)
        assert not dead.exists()
        assert not stale_file.exists()
        if crashed is not None and other is not None:
            assert not any(os.path.exists(d) for d in crashed.dirs.values()), "the crashed run's cgroup is left"
            assert all(os.path.exists(d) for d in other.dirs.values()), "another uid's cgroup was removed"
    finally:
        if other is not None:
            other.remove()
        if orphan.poll() is None:
            orphan.kill()
        launcher.stop()
        stale_file.unlink(missing_ok=True)


def test_launcher_environment_holds_no_server_secret(tmp_path: Path) -> None:
    os.environ["PROCLAB_INSTRUCTOR_TOKEN"] = "should-not-leak"
    try:
        launcher = Launcher.create(str(tmp_path / "rt"), 63600, 1)
        info = launcher.start()
        environ = Path(f"/proc/{info['pid']}/environ").read_bytes().split(b"\0")
        assert not any(b"should-not-leak" in e or e.startswith(b"PROCLAB_") for e in environ)
        assert set(e.split(b"=")[0] for e in environ if e) <= {b"PATH", b"LANG"}
    finally:
        del os.environ["PROCLAB_INSTRUCTOR_TOKEN"]
        launcher.stop()
    time.sleep(0.1)
