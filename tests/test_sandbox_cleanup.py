"""app.sandbox.cleanup against real processes, files and SysV IPC objects of a throwaway uid."""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.sandbox import cleanup, procfs

UID = 64999  # no such user in /etc/passwd: a bare number, like the run pool
OTHER_UID = 64998
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to a test uid")
libc = ctypes.CDLL(None, use_errno=True)


def become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def spawn_as(uid: int, body: Callable[[], None]) -> int:
    """Fork a child that becomes uid and runs body; it exits 0 when body returns."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            become(uid)
            body()
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def in_subreaper(fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Run fn in a forked child that is a subreaper (as the supervisor is), return its result.

    Orphans of the test's uid processes are adopted by that child rather than by the
    machine's PID 1, which may not reap; the child reaps everything before it exits.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            result: Any = ("ok", fn())
        except BaseException as e:  # report the failure to the test process
            result = ("err", f"{type(e).__name__}: {e}")
        try:
            while os.waitpid(-1, 0):
                pass
        except ChildProcessError:
            pass
        os.write(w, pickle.dumps(result))
        os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        assert time.monotonic() < deadline
    os.close(r)
    os.waitpid(pid, 0)
    kind, value = pickle.loads(b"".join(chunks)) if chunks else ("err", "child died without a result")  # type: tuple[str, Any]
    if kind == "err":
        pytest.fail(value)
    return value


def reap_all() -> None:
    try:
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
    except ChildProcessError:
        return


def wait_no_pids(uid: int, seconds: float = 3.0) -> list[int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        reap_all()
        left = cleanup.list_uid_pids(uid)
        if not left:
            return []
        time.sleep(0.01)
    return cleanup.list_uid_pids(uid)


@pytest.fixture
def test_uid() -> Iterator[int]:
    """The test uid, cleaned before and after so a failing test leaves nothing behind."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to a test uid")

    def scrub() -> None:
        for uid in (UID, OTHER_UID):
            for _ in range(20):
                if not cleanup.list_uid_pids(uid):
                    break
                cleanup.kill_uid(uid)
                time.sleep(0.02)
            cleanup.sweep_uid_files(uid)
            cleanup.remove_sysv_ipc(uid)

    scrub()
    yield UID
    scrub()


# ------------------------------------------------------------------ processes


@needs_root
@pytest.mark.timeout(30)
def test_list_and_kill_every_kind_of_process(test_uid: int) -> None:
    def scenario() -> dict[str, Any]:
        r, w = os.pipe()

        def tree() -> None:
            # a zombie: child exits, never waited for
            if os.fork() == 0:
                os._exit(0)
            # a double-forked setsid daemon that ignores SIGTERM/SIGHUP
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    signal.signal(signal.SIGHUP, signal.SIG_IGN)
                    time.sleep(60)
                    os._exit(0)
                os._exit(0)
            # a non-dumpable process: /proc/PID looks root-owned
            if os.fork() == 0:
                libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
                time.sleep(60)
                os._exit(0)
            # a stopped process
            if os.fork() == 0:
                os.kill(os.getpid(), signal.SIGSTOP)
                os._exit(0)
            os.write(w, b"x")
            time.sleep(60)

        root = spawn_as(test_uid, tree)
        os.close(w)
        assert os.read(r, 1) == b"x"
        os.close(r)
        time.sleep(0.1)
        found = cleanup.list_uid_pids(test_uid)
        states = sorted(procfs.state_letter(p) for p in found)
        report = cleanup.leftovers(test_uid, [])
        t0 = time.perf_counter()
        cleanup.kill_uid(test_uid)
        kill_ms = (time.perf_counter() - t0) * 1000
        left = wait_no_pids(test_uid)
        return {"root": root, "found": found, "states": states, "report": report, "left": left,
                "kill_ms": kill_ms, "after": cleanup.leftovers(test_uid, [])}

    res = in_subreaper(scenario)
    # root, two zombies (first child, setsid middle child), daemon, non-dumpable, stopped
    assert res["root"] in res["found"]
    assert len(res["found"]) == 6, res
    assert "Z" in res["states"] and "T" in res["states"]
    assert any(line.startswith("zombie pid") for line in res["report"])
    assert res["left"] == []
    assert res["after"] == []
    print(f"kill_uid took {res['kill_ms']:.2f} ms")


@needs_root
@pytest.mark.timeout(30)
def test_kill_uid_stops_a_fork_bomb(test_uid: int) -> None:
    def scenario() -> dict[str, Any]:
        def bomb() -> None:
            resource.setrlimit(resource.RLIMIT_NPROC, (60, 60))  # keep the machine usable
            while True:
                try:
                    os.fork()
                except OSError:
                    pass

        spawn_as(test_uid, bomb)
        time.sleep(0.3)
        before = len(cleanup.list_uid_pids(test_uid))
        sweeps = 0
        end = time.monotonic() + 5
        while cleanup.list_uid_pids(test_uid) and time.monotonic() < end:
            cleanup.kill_uid(test_uid)
            sweeps += 1
            reap_all()
            time.sleep(0.02)
        return {"before": before, "sweeps": sweeps, "left": wait_no_pids(test_uid)}

    res = in_subreaper(scenario)
    assert res["before"] >= 30, res
    assert res["left"] == []
    assert res["sweeps"] <= 3, res  # one kill(-1) normally suffices


@needs_root
@pytest.mark.timeout(30)
def test_kill_uid_spares_other_uids(test_uid: int) -> None:
    def scenario() -> bool:
        mine = spawn_as(test_uid, lambda: time.sleep(60))
        other = spawn_as(OTHER_UID, lambda: time.sleep(60))
        time.sleep(0.05)
        cleanup.kill_uid(test_uid)
        os.waitpid(mine, 0)
        other_alive = procfs.state_letter(other) not in ("?", "Z")
        os.kill(other, signal.SIGKILL)
        os.waitpid(other, 0)
        return other_alive

    assert in_subreaper(scenario) is True


def test_kill_uid_refuses_root_and_self() -> None:
    with pytest.raises(ValueError):
        cleanup.kill_uid(0)
    with pytest.raises(ValueError):
        cleanup.kill_uid(os.getuid())
    with pytest.raises(ValueError):
        cleanup.sweep_uid_files(0)
    with pytest.raises(ValueError):
        cleanup.remove_sysv_ipc(0)


def test_list_uid_pids_sees_ourselves() -> None:
    assert os.getpid() in cleanup.list_uid_pids(os.getuid())


# ------------------------------------------------------------------ trees


def make_precious(base: Path) -> Path:
    precious = base / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "keep.txt").write_text("keep")
    (precious / "sub" / "keep2.txt").write_text("keep")
    return precious


def assert_precious_intact(precious: Path) -> None:
    assert (precious / "keep.txt").read_text() == "keep"
    assert (precious / "sub" / "keep2.txt").read_text() == "keep"


def test_shutil_rmtree_behaviour_for_reference(tmp_path: Path) -> None:
    """What 3.11's shutil.rmtree does, so we know why we do not rely on it blindly."""
    precious = make_precious(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(precious)
    with pytest.raises(OSError):
        shutil.rmtree(link)  # refuses a top-level symlink (and with ignore_errors silently leaves it)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "inner").symlink_to(precious)
    shutil.rmtree(tree)  # inner symlinks are unlinked, not followed
    assert_precious_intact(precious)


def test_remove_tree_never_follows_symlinks(tmp_path: Path) -> None:
    precious = make_precious(tmp_path)
    tree = tmp_path / "run"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("x")
    (tree / "to_dir").symlink_to(precious)
    (tree / "a" / "to_file").symlink_to(precious / "keep.txt")
    (tree / "a" / "to_root").symlink_to("/")
    (tree / "dangling").symlink_to(tmp_path / "nope")
    os.mkfifo(tree / "fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tree / "a" / "sock"))
    s.close()
    (tree / "locked").mkdir()
    (tree / "locked" / "f").write_text("x")
    os.chmod(tree / "locked", 0)
    cleanup.remove_tree_nofollow(str(tree), strict=True)
    assert not os.path.lexists(tree)
    assert_precious_intact(precious)


def test_remove_tree_top_level_symlink_only_unlinks_the_link(tmp_path: Path) -> None:
    precious = make_precious(tmp_path)
    link = tmp_path / "run"
    link.symlink_to(precious)
    cleanup.remove_tree_nofollow(str(link), strict=True)
    assert not os.path.lexists(link)
    assert_precious_intact(precious)
    cleanup.remove_tree_nofollow(str(tmp_path / "missing"), strict=True)  # missing is fine
    with pytest.raises(ValueError):
        cleanup.remove_tree_nofollow("/")


@pytest.mark.timeout(60)
def test_remove_tree_deeper_than_recursion_and_fd_limits(tmp_path: Path) -> None:
    depth = max(sys.getrecursionlimit(), 1000) + 500  # also longer than PATH_MAX
    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(depth):
        os.mkdir("d", dir_fd=fd)
        if i % 100 == 0:
            os.close(os.open(f"f{i}", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
            os.symlink(str(tmp_path), f"l{i}", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(fd)
    fds_before = len(os.listdir("/proc/self/fd"))
    cleanup.remove_tree_nofollow(str(top), strict=True)
    assert not os.path.lexists(top)
    # No fd leaked; other fixtures of this process (servers, HTTP pools) may close theirs meanwhile.
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    assert tmp_path.is_dir()


def test_remove_tree_wide(tmp_path: Path) -> None:
    top = tmp_path / "wide"
    for i in range(300):
        (top / f"d{i}" / "x").mkdir(parents=True)
        (top / f"d{i}" / "x" / "f").write_text("1")
    cleanup.remove_tree_nofollow(str(top), strict=True)
    assert not top.exists()


# ------------------------------------------------------------------ files and IPC of a uid


@needs_root
@pytest.mark.timeout(30)
def test_sweep_uid_files_removes_only_that_uids_entries(test_uid: int, tmp_path: Path) -> None:
    tag = f"proclab-test-{os.getpid()}"
    precious = make_precious(tmp_path)
    root_file = Path("/tmp") / f"{tag}-root"
    root_file.write_text("root's")

    def plant() -> None:
        Path(f"/tmp/{tag}-file").write_text("x")
        os.mkfifo(f"/tmp/{tag}-fifo")
        s = socket.socket(socket.AF_UNIX)
        s.bind(f"/tmp/{tag}-sock")
        s.close()
        os.symlink(str(precious), f"/tmp/{tag}-link")
        d = Path(f"/tmp/{tag}-dir")
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f").write_text("x")
        (d / "escape").symlink_to(precious)
        Path(f"/var/tmp/{tag}-vfile").write_text("x")
        Path(f"/dev/shm/{tag}-shm").write_bytes(b"\0" * 4096)
        if os.access("/run/lock", os.W_OK):
            Path(f"/run/lock/{tag}-lock").write_text("x")

    pid = spawn_as(test_uid, plant)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = [f"/tmp/{tag}-{n}" for n in ("file", "fifo", "sock", "link", "dir")]
    expected += [f"/var/tmp/{tag}-vfile", f"/dev/shm/{tag}-shm"]
    if os.path.isdir("/run/lock"):
        expected.append(f"/run/lock/{tag}-lock")
    before = cleanup.leftovers(test_uid, [])
    assert len([x for x in before if tag in x]) == len(expected), before
    try:
        removed = cleanup.sweep_uid_files(test_uid)
        assert sorted(p for p in removed if tag in p) == sorted(expected)
        assert root_file.read_text() == "root's"
        assert_precious_intact(precious)
        assert cleanup.leftovers(test_uid, []) == []
    finally:
        root_file.unlink()


def sysv_create_as_uid(uid: int, attach: bool) -> int:
    """Fork a process as uid that creates one shm, sem and msg object; returns its pid.

    With attach=True it stays alive with the segment attached; else it exits.
    """
    r, w = os.pipe()

    def body() -> None:
        ipc_private, ipc_creat = 0, 0o1000
        shmid = libc.shmget(ipc_private, 4096, ipc_creat | 0o600)
        semid = libc.semget(ipc_private, 2, ipc_creat | 0o600)
        msqid = libc.msgget(ipc_private, ipc_creat | 0o600)
        assert min(shmid, semid, msqid) >= 0, ctypes.get_errno()
        if attach:
            libc.shmat.restype = ctypes.c_void_p
            addr = libc.shmat(shmid, None, 0)
            assert addr not in (None, ctypes.c_void_p(-1).value)
        os.write(w, b"x")
        if attach:
            time.sleep(60)

    pid = spawn_as(uid, body)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.close(r)
    return pid


@needs_root
@pytest.mark.timeout(30)
def test_remove_sysv_ipc(test_uid: int) -> None:
    pid = sysv_create_as_uid(test_uid, attach=False)
    os.waitpid(pid, 0)
    found = cleanup._sysv_objects(test_uid)
    assert sorted(k for k, _, _ in found) == ["msg", "sem", "shm"]
    assert len([x for x in cleanup.leftovers(test_uid, []) if x.startswith("sysv")]) == 3
    removed = cleanup.remove_sysv_ipc(test_uid)
    assert len(removed) == 3
    assert cleanup._sysv_objects(test_uid) == []
    assert cleanup.remove_sysv_ipc(test_uid) == []


@needs_root
@pytest.mark.timeout(30)
def test_teardown_order_attached_segment(test_uid: int) -> None:
    """As the supervisor does it: kill, then remove IPC, then verify; an attached segment goes too."""

    def scenario() -> list[str]:
        sysv_create_as_uid(test_uid, attach=True)
        cleanup.kill_uid(test_uid)
        wait_no_pids(test_uid)
        cleanup.remove_sysv_ipc(test_uid)
        return cleanup.leftovers(test_uid, [])

    assert in_subreaper(scenario) == []


def test_leftovers_reports_paths(tmp_path: Path) -> None:
    p = tmp_path / "rundir"
    p.mkdir()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nothing")
    out = cleanup.leftovers(64997, [str(p), str(dangling), str(tmp_path / "gone")])
    assert out == [f"path {p} still exists", f"path {dangling} still exists"]


# ------------------------------------------------------------------ the hostile battery, end to end

HOSTILE = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "hostile",
                            Path("/work/shared/hostile")) if p.is_dir()), None)
RUN_PYTHON = "/usr/bin/python3.11"
BATTERY_UIDS = range(64980, 64995)


@needs_root
@pytest.mark.timeout(120)
@pytest.mark.skipif(HOSTILE is None, reason="shared/hostile not found beside the repo")
@pytest.mark.skipif(not os.access(RUN_PYTHON, os.X_OK), reason=f"{RUN_PYTHON} missing")
def test_hostile_battery_is_contained_and_leaves_nothing(test_uid: int) -> None:
    """Each hostile program runs for about 1.5 s as its own uid under every layer this machine has
    (rlimits, seccomp, Landlock, cgroup); then kill_uid + sweeps must leave nothing, and the
    legitimate program must still print ALL OK."""
    from app.sandbox import cgroup, landlock, seccomp

    assert HOSTILE is not None
    programs = sorted(HOSTILE.glob("[0-9][0-9]_*.py"))
    assert len(programs) <= len(BATTERY_UIDS)
    top = Path(f"/tmp/proclab-battery-{os.getpid()}")
    top.mkdir(mode=0o711)
    parent = f"proclab-battery-{os.getpid()}"

    def scenario() -> dict[str, Any]:
        runs: dict[str, dict[str, Any]] = {}
        for prog, uid in zip(programs, BATTERY_UIDS, strict=False):
            rundir = top / prog.stem
            rundir.mkdir(mode=0o700)
            (rundir / "main.py").write_text(prog.read_text())
            os.chown(rundir, uid, uid)
            os.chown(rundir / "main.py", uid, uid)
            cg = cgroup.RunCgroup.create(prog.stem.replace("_", "-"), pids_max=64, memory_max=256 << 20,
                                         cpu_quota_pct=50, parent=parent)
            pid = os.fork()
            if pid == 0:
                try:
                    if cg is not None:
                        cg.add(os.getpid())
                    os.setpgid(0, 0)
                    out = os.open(rundir / "out.txt", os.O_WRONLY | os.O_CREAT, 0o600)
                    os.fchown(out, uid, uid)
                    os.dup2(out, 1)
                    os.dup2(out, 2)
                    os.closerange(3, 4096)
                    for res, value in ((resource.RLIMIT_NPROC, 64), (resource.RLIMIT_AS, 320 << 20),
                                       (resource.RLIMIT_CPU, 10), (resource.RLIMIT_FSIZE, 64 << 20),
                                       (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_CORE, 0)):
                        resource.setrlimit(res, (value, value))
                    become(uid)
                    if seccomp.available():
                        seccomp.install_filter()
                    landlock.restrict(["/usr", "/lib", "/lib64", "/etc", "/proc", "/dev", "/bin"],
                                      [str(rundir), "/tmp", "/dev/shm", "/dev/null"])
                    os.chdir(rundir)
                    os.execve(RUN_PYTHON, [RUN_PYTHON, "main.py"], {"PATH": "/usr/bin:/bin", "HOME": str(rundir)})
                finally:
                    os._exit(127)
            runs[prog.stem] = {"uid": uid, "pid": pid, "cg": cg, "rundir": rundir}
        legit = next(r for name, r in runs.items() if name.startswith("14_"))
        _, status = os.waitpid(legit["pid"], 0)  # the legitimate run must finish by itself
        legit_out = (legit["rundir"] / "out.txt").read_text()
        time.sleep(1.5)
        report: dict[str, Any] = {"legit_code": os.waitstatus_to_exitcode(status), "legit_out": legit_out}
        t0 = time.perf_counter()
        for name, r in runs.items():
            for _ in range(50):
                if not cleanup.list_uid_pids(r["uid"]):
                    break
                cleanup.kill_uid(r["uid"])
                if r["cg"] is not None:
                    r["cg"].kill(wait=0.2)
                reap_all()
                time.sleep(0.01)
            reap_all()
            try:
                out = (r["rundir"] / "out.txt").read_bytes()
                tail = out[-300:].decode(errors="replace")
            except OSError as e:
                tail = str(e)
            cleanup.remove_tree_nofollow(str(r["rundir"]))
            cleanup.sweep_uid_files(r["uid"])
            cleanup.remove_sysv_ipc(r["uid"])
            cg_gone = r["cg"].remove() if r["cg"] is not None else True
            report[name] = {"left": cleanup.leftovers(r["uid"], [str(r["rundir"])]), "cg_gone": cg_gone}
            report[f"{name}.out"] = tail
        report["teardown_ms"] = (time.perf_counter() - t0) * 1000
        return report

    try:
        report = in_subreaper(scenario, timeout=100)
    finally:
        cleanup.remove_tree_nofollow(str(top))
        cgroup.sweep_stale(parent)
        cgroup.remove_parent(parent)
    assert report["legit_code"] == 0, report["legit_out"]
    assert "ALL OK" in report["legit_out"]
    for name in (p.stem for p in programs):
        print(f"{name}: ...{report[name + '.out'][-160:]!r}")
        assert report[name] == {"left": [], "cg_gone": True}, (name, report[name])
    assert not os.path.exists("/tmp/proclab-escaped-daemon")
    assert not os.path.exists("/tmp/proclab-big.bin")
    print(f"battery of {len(programs)} runs torn down in {report['teardown_ms']:.0f} ms")
