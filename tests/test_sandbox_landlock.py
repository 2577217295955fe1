"""app.sandbox.landlock on the real kernel: a restricted child reads the system, not /work or /root."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import in_child

from app.sandbox import landlock

ABI = landlock.abi_version()
pytestmark = pytest.mark.skipif(ABI < 1, reason="Landlock unavailable (kernel, boot option or outer seccomp)")
SYSTEM_RO = ["/usr", "/lib", "/lib64", "/etc", "/proc", "/dev"]
PYTHON = "/usr/bin/python3.11"
REPO = Path(__file__).resolve().parents[1]


def restricted(fn: Callable[[], Any], ro: list[str], rw: list[str], **kw: Any) -> Any:
    """Run fn in a forked child after landlock.restrict(ro, rw); return what it returns."""
    def child() -> dict[str, Any]:
        t0 = time.perf_counter()
        applied = landlock.restrict(ro, rw, **kw)
        ms = (time.perf_counter() - t0) * 1000
        return {"applied": applied, "ms": ms, "value": fn()}

    value = in_child(child)
    assert value["applied"] is True
    return value


def attempt(fn: Callable[[], Any]) -> str:
    try:
        fn()
    except OSError as e:
        return type(e).__name__
    return "ok"


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(100)


def write(path: str, data: bytes = b"x") -> None:
    with open(path, "wb") as f:
        f.write(data)


def test_abi_version_matches_kernel() -> None:
    assert ABI >= 1
    assert landlock.fs_rights(1) == (1 << 13) - 1
    assert landlock.fs_rights(2) & landlock.ACCESS_FS_REFER
    assert not landlock.fs_rights(2) & landlock.ACCESS_FS_TRUNCATE
    assert landlock.fs_rights(5) & landlock.ACCESS_FS_IOCTL_DEV


@pytest.mark.timeout(30)
def test_restricted_child_reads_system_not_work_or_root(tmp_path: Path) -> None:
    rundir = tmp_path / "run"
    rundir.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret.txt").write_text("secret")
    other_rw = tmp_path / "rw2"
    other_rw.mkdir()

    def checks() -> dict[str, str]:
        return {
            "work": attempt(lambda: read(str(REPO / "pyproject.toml"))),
            "work_list": attempt(lambda: os.listdir("/work")),
            "root_list": attempt(lambda: os.listdir("/root")),
            "other_read": attempt(lambda: read(str(other / "secret.txt"))),
            "other_write": attempt(lambda: write(str(other / "new.txt"))),
            "etc_read": attempt(lambda: read("/etc/os-release")),
            "etc_write": attempt(lambda: write("/etc/proclab-landlock-test")),
            "proc_self": attempt(lambda: read("/proc/self/status")),
            "devnull": attempt(lambda: write("/dev/null")),
            "run_write": attempt(lambda: write(str(rundir / "f.txt"))),
            "run_mkdir": attempt(lambda: os.mkdir(rundir / "d")),
            "run_fifo": attempt(lambda: os.mkfifo(rundir / "fifo")),
            "run_rename_across": attempt(lambda: os.rename(rundir / "f.txt", other_rw / "f.txt")),
            "run_truncate": attempt(lambda: os.truncate(other_rw / "f.txt", 0)),
            "run_unlink": attempt(lambda: os.unlink(other_rw / "f.txt")),
            "python": attempt(lambda: subprocess.run([PYTHON, "-c", "print(6 * 7)"], check=True,
                                                     capture_output=True)),
            "python_reads_work": subprocess.run(
                [PYTHON, "-c", f"open({str(REPO / 'pyproject.toml')!r})"], capture_output=True, text=True
            ).stderr.strip().splitlines()[-1].split(":")[0],
        }

    res = restricted(checks, SYSTEM_RO, [str(rundir), str(other_rw), "/dev/null"])
    got = res["value"]
    assert got["work"] == "PermissionError"
    assert got["work_list"] == "PermissionError"
    assert got["root_list"] == "PermissionError"
    assert got["other_read"] == "PermissionError"
    assert got["other_write"] == "PermissionError"
    assert got["etc_read"] == "ok"
    assert got["etc_write"] == "PermissionError"
    assert got["proc_self"] == "ok"
    assert got["devnull"] == "ok"
    for k in ("run_write", "run_mkdir", "run_fifo", "run_rename_across", "run_truncate", "run_unlink"):
        assert got[k] == "ok", (k, got)
    assert got["python"] == "ok"
    assert got["python_reads_work"] == "PermissionError"
    assert not os.path.exists("/etc/proclab-landlock-test")
    print(f"landlock.restrict: {res['ms']:.2f} ms (ABI {ABI})")


@pytest.mark.timeout(30)
def test_missing_paths_are_skipped(tmp_path: Path) -> None:
    res = restricted(lambda: attempt(lambda: read("/etc/os-release")),
                     SYSTEM_RO + ["/no/such/dir"], [str(tmp_path / "absent"), "/dev/null"])
    assert res["value"] == "ok"


@pytest.mark.timeout(30)
@pytest.mark.skipif(ABI < 6, reason="signal and abstract-socket scoping need Landlock ABI 6")
def test_scope_blocks_signals_and_abstract_sockets_leaving_the_domain(tmp_path: Path) -> None:
    outside = subprocess.Popen(["sleep", "30"])
    name = f"\0proclab-landlock-test-{os.getpid()}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen()
    try:
        def checks() -> dict[str, str]:
            inner = os.fork()
            if inner == 0:
                time.sleep(30)
                os._exit(0)
            got = {
                "kill_outside": attempt(lambda: os.kill(outside.pid, signal.SIGTERM)),
                "kill_inside": attempt(lambda: os.kill(inner, signal.SIGKILL)),
                "abstract_connect": attempt(lambda: socket.socket(socket.AF_UNIX).connect(name)),
                "tcp_loopback": attempt(lambda: socket.socket().bind(("127.0.0.1", 0))),
            }
            os.waitpid(inner, 0)
            return got

        got = restricted(checks, SYSTEM_RO, [str(tmp_path)])["value"]
        assert got == {"kill_outside": "PermissionError", "kill_inside": "ok",
                       "abstract_connect": "PermissionError", "tcp_loopback": "ok"}
        assert outside.poll() is None  # still alive
        # without scoping the same child (root) could signal it
        got = restricted(lambda: attempt(lambda: os.kill(outside.pid, 0)), SYSTEM_RO, [str(tmp_path)], scope=False)
        assert got["value"] == "ok"
    finally:
        outside.kill()
        outside.wait()
        srv.close()


@pytest.mark.timeout(30)
def test_restrict_in_child_leaves_parent_alone(tmp_path: Path) -> None:
    restricted(lambda: None, SYSTEM_RO, [str(tmp_path)])
    assert (REPO / "pyproject.toml").read_bytes()  # the test process itself is unaffected
