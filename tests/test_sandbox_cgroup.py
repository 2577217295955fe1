"""app.sandbox.cgroup against the real cgroup fs: limits bite, accounting moves, kill and remove are certain."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from app.sandbox import cgroup, procfs

VERSION = cgroup.available()
needs_cgroup = pytest.mark.skipif(VERSION is None, reason="no writable cgroup fs with memory and pids")
UNIFIED = "/sys/fs/cgroup/unified"  # hybrid hosts: a cgroup2 beside the v1 hierarchies


@pytest.fixture
def parent() -> Iterator[str]:
    """A parent of our own, swept and removed afterwards so no test cgroup is left behind."""
    name = f"proclab-test-{os.getpid()}"
    yield name
    cgroup.sweep_stale(name)
    assert cgroup.remove_parent(name)


def gated_child(body: Callable[[], None]) -> tuple[int, int]:
    """Fork a child that waits for a byte before running body, so it can be moved into a cgroup first.

    Returns (pid, write end of the gate).
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        try:
            body()
        finally:
            os._exit(0)
    os.close(r)
    return pid, w


def release(w: int) -> None:
    os.write(w, b"g")
    os.close(w)


def wait_for(pred: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def has_procs(cg: cgroup.RunCgroup, n: int) -> Callable[[], bool]:
    return lambda: len(cg.procs()) == n


def sleepers(n: int) -> Callable[[], None]:
    def body() -> None:
        for _ in range(n):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        time.sleep(60)

    return body


def test_available_is_one_of() -> None:
    assert VERSION in ("v1", "v2", None)


def test_unavailable_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cgroup mounts at all (as in a plain docker run with a read-only or absent cgroup fs)."""
    monkeypatch.setattr(cgroup, "_mounts", lambda: [])
    assert cgroup.available() is None
    assert cgroup.RunCgroup.create("x", pids_max=10, memory_max=1 << 20, cpu_quota_pct=None) is None
    assert cgroup.sweep_stale() == []


@needs_cgroup
@pytest.mark.timeout(30)
def test_create_account_kill_remove(parent: str) -> None:
    t0 = time.perf_counter()
    cg = cgroup.RunCgroup.create("run1", pids_max=50, memory_max=128 << 20, cpu_quota_pct=100, parent=parent)
    create_ms = (time.perf_counter() - t0) * 1000
    assert cg is not None and cg.version == VERSION
    assert cg.missing == []

    def body() -> None:
        sleepers(4)
        blob = bytearray(32 << 20)  # touched pages: charged to the cgroup
        for i in range(0, len(blob), 4096):
            blob[i] = 1
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
        for _ in range(4):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        time.sleep(60)

    pid, gate = gated_child(body)
    cg.add(pid)
    release(gate)
    assert wait_for(lambda: len(cg.procs()) == 5), cg.procs()
    assert pid in cg.procs()
    assert cg.pids_current() == 5
    assert cg.memory_bytes() > 16 << 20
    assert cg.memory_peak() >= cg.memory_bytes()
    assert cg.cpu_ns() > 100_000_000
    assert cg.oom_killed() is False
    t0 = time.perf_counter()
    assert cg.kill() is True
    kill_ms = (time.perf_counter() - t0) * 1000
    os.waitpid(pid, 0)
    assert cg.procs() == []
    t0 = time.perf_counter()
    assert cg.remove() is True
    remove_ms = (time.perf_counter() - t0) * 1000
    for d in cg.dirs.values():
        assert not os.path.exists(d)
    print(f"cgroup {VERSION}: create {create_ms:.2f} ms, kill {kill_ms:.2f} ms, remove {remove_ms:.2f} ms")


@needs_cgroup
@pytest.mark.timeout(30)
def test_pids_max_stops_a_fork_bomb(parent: str) -> None:
    cg = cgroup.RunCgroup.create("bomb", pids_max=20, memory_max=256 << 20, cpu_quota_pct=None, parent=parent)
    assert cg is not None

    def bomb() -> None:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                os.fork()
            except OSError:
                time.sleep(0.001)

    pid, gate = gated_child(bomb)
    cg.add(pid)
    release(gate)
    assert wait_for(lambda: cg.pids_limit_hits() > 0)
    assert cg.pids_current() <= 20
    assert cg.kill() is True
    os.waitpid(pid, 0)
    assert cg.remove() is True


@needs_cgroup
@pytest.mark.timeout(30)
def test_memory_max_ooms_the_run(parent: str) -> None:
    cg = cgroup.RunCgroup.create("mem", pids_max=20, memory_max=64 << 20, cpu_quota_pct=None, parent=parent)
    assert cg is not None

    def hog() -> None:
        chunks = []
        for _ in range(64):
            chunks.append(b"\1" * (8 << 20))

    pid, gate = gated_child(hog)
    cg.add(pid)
    release(gate)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert cg.oom_killed() is True
    assert cg.memory_peak() <= 64 << 20
    assert cg.remove() is True


@needs_cgroup
@pytest.mark.timeout(30)
def test_cpu_quota_throttles(parent: str) -> None:
    cg = cgroup.RunCgroup.create("cpu", pids_max=20, memory_max=64 << 20, cpu_quota_pct=20, parent=parent)
    assert cg is not None
    if "cpu.max" in cg.missing or "cpu.cfs_quota_us" in cg.missing:
        cg.remove()
        pytest.skip("no cpu controller")

    def spin() -> None:
        while True:
            pass

    pid, gate = gated_child(spin)
    cg.add(pid)
    release(gate)
    t0 = time.monotonic()
    time.sleep(1.0)
    wall = time.monotonic() - t0
    used = cg.cpu_ns() / 1e9
    assert cg.kill() is True
    os.waitpid(pid, 0)
    assert cg.remove() is True
    assert used < 0.4 * wall, (used, wall)  # 20 % of one CPU, with slack for period rounding


@needs_cgroup
@pytest.mark.timeout(30)
def test_sweep_stale_after_a_crash(parent: str) -> None:
    pids = []
    for name in ("stale-a", "stale-b"):
        cg = cgroup.RunCgroup.create(name, pids_max=20, memory_max=64 << 20, cpu_quota_pct=None, parent=parent)
        assert cg is not None
        pid, gate = gated_child(sleepers(3))
        cg.add(pid)
        release(gate)
        pids.append(pid)
        assert wait_for(has_procs(cg, 4))
        del cg  # the server "crashes": nothing remembers these cgroups
    assert cgroup.sweep_stale(parent) == ["stale-a", "stale-b"]
    for pid in pids:
        os.waitpid(pid, 0)
    layout = cgroup.detect(parent)
    assert layout is not None
    assert cgroup._existing_runs(layout, parent) == {}


@needs_cgroup
@pytest.mark.timeout(30)
def test_reusing_a_name_empties_the_old_cgroup(parent: str) -> None:
    cg = cgroup.RunCgroup.create("same", pids_max=20, memory_max=64 << 20, cpu_quota_pct=None, parent=parent)
    assert cg is not None
    pid, gate = gated_child(sleepers(2))
    cg.add(pid)
    release(gate)
    assert wait_for(lambda: len(cg.procs()) == 3)
    again = cgroup.RunCgroup.create("same", pids_max=20, memory_max=64 << 20, cpu_quota_pct=None, parent=parent)
    assert again is not None and again.procs() == []
    os.waitpid(pid, 0)
    assert again.remove() is True


def test_bad_names_are_refused() -> None:
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError):
            cgroup.RunCgroup.create(bad, pids_max=1, memory_max=1, cpu_quota_pct=None)


def test_own_dir_mapping() -> None:
    m = procfs.Mount("cgroup", "/docker/abc", "/sys/fs/cgroup/memory", frozenset({"memory"}))
    # a v1 container: the mount root is the container's cgroup; our path is below it
    assert cgroup._strip_ours("/docker/abc/proclab/run7", "proclab") == "/docker/abc"
    assert cgroup._strip_ours("/x/proclab-host", "proclab") == "/x"
    assert cgroup._own_dir(m, "/docker/abc", "proclab") == "/sys/fs/cgroup/memory"


# ------------------------------------------------------------------ the v2 code paths on a hybrid host


def unified_layout() -> cgroup.Layout:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if VERSION == "v2":
        layout = cgroup.detect()
        assert layout is not None
        return layout
    mounts = [m for m in cgroup._mounts() if m.fstype == "cgroup2"]
    if not mounts or not os.access(mounts[0].point, os.W_OK):
        pytest.skip("no writable cgroup2 mount")
    layout = cgroup.detect(require=())
    if layout is None or layout.version != "v2":
        pytest.skip("cgroup2 mount not usable")
    assert layout is not None
    return layout


@pytest.mark.timeout(30)
@pytest.mark.parametrize("use_kill_file", [True, False])
def test_v2_paths_on_the_cgroup2_mount(use_kill_file: bool) -> None:
    """Membership, cpu.stat, cgroup.kill and the freeze fallback, on whatever cgroup2 mount exists."""
    layout = unified_layout()
    parent = f"proclab-test2-{os.getpid()}"
    cg = cgroup.RunCgroup.create("v2run", pids_max=20, memory_max=64 << 20, cpu_quota_pct=None,
                                 parent=parent, layout=layout)
    assert cg is not None and cg.version == "v2"
    cg.use_kill_file = use_kill_file
    try:
        def body() -> None:
            end = time.process_time() + 0.05
            while time.process_time() < end:
                pass
            sleepers(3)()

        pid, gate = gated_child(body)
        cg.add(pid)
        release(gate)
        assert wait_for(lambda: len(cg.procs()) == 4)
        assert cg.cpu_ns() > 0
        assert cg.kill() is True
        os.waitpid(pid, 0)
        assert cg.remove() is True
    finally:
        cg.kill()
        cg.remove()
        os.rmdir(os.path.join(layout.base["unified"], parent))


@pytest.mark.timeout(30)
def test_v2_evacuates_internal_processes() -> None:
    """A container's cgroup holding the server: controllers can be delegated only after moving it to a leaf."""
    layout = unified_layout()
    root = layout.base["unified"]
    offered = cgroup._read(os.path.join(root, "cgroup.controllers")).split()
    enabled = cgroup._read(os.path.join(root, "cgroup.subtree_control")).split()
    ctrl = next((c for c in offered if c not in enabled and c not in cgroup.V2_CONTROLLERS), None)
    if ctrl is None:
        pytest.skip("no spare cgroup2 controller to exercise delegation with")
    assert ctrl is not None
    base = os.path.join(root, f"proclab-evac-{os.getpid()}")
    os.mkdir(base)
    cgroup._write(os.path.join(root, "cgroup.subtree_control"), f"+{ctrl}")
    pid, gate = gated_child(lambda: time.sleep(60))
    try:
        cgroup._write(os.path.join(base, "cgroup.procs"), str(pid))  # "the server" sits in base
        with pytest.raises(OSError):
            cgroup._v2_prepare(base, "proclab", [ctrl], evacuate=False)
        top = cgroup._v2_prepare(base, "proclab", [ctrl], evacuate=True)
        assert cgroup._read(os.path.join(base, "cgroup.procs")).split() == []
        assert cgroup._read(os.path.join(base, cgroup.HOST_LEAF, "cgroup.procs")).split() == [str(pid)]
        assert ctrl in cgroup._read(os.path.join(top, "cgroup.subtree_control")).split()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.close(gate)
        os.waitpid(pid, 0)
        for sub in (os.path.join(base, "proclab"), os.path.join(base, cgroup.HOST_LEAF)):
            if os.path.isdir(sub):
                os.rmdir(sub)
        os.rmdir(base)
        cgroup._write(os.path.join(root, "cgroup.subtree_control"), f"-{ctrl}")
