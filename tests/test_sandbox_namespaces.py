"""app.sandbox.namespaces on the real kernel; every namespace is entered in a throwaway child."""

from __future__ import annotations

import ctypes
import os
import pickle
import socket
import time
from typing import Any

import pytest
from conftest import in_child

from app.sandbox import linux
from app.sandbox import namespaces as ns

PROBE = ns.probe_detail()


def needs(*kinds: str) -> pytest.MarkDecorator:
    missing = [f"{k} ({PROBE.get(k, (False, 'not probed'))[1]})" for k in kinds if not PROBE.get(k, (False,))[0]]
    return pytest.mark.skipif(bool(missing), reason=f"namespaces unavailable: {', '.join(missing)}")


def test_probe_shape_and_speed() -> None:
    t0 = time.perf_counter()
    got = ns.probe()
    ms = (time.perf_counter() - t0) * 1000
    assert {"pid", "net", "mount", "ipc", "uts"} <= set(got)
    assert all(isinstance(v, bool) for v in got.values())
    print(f"namespaces.probe: {ms:.1f} ms {got}")
    assert ms < 500


def test_probe_reports_failure_without_raising() -> None:
    """A kind the kernel refuses (here: an invalid flag) is reported with its errno."""
    saved = dict(ns.KINDS)
    try:
        ns.KINDS["bogus"] = 0x1  # not a namespace flag: unshare gives EINVAL
        got = ns.probe_detail()
    finally:
        ns.KINDS.clear()
        ns.KINDS.update(saved)
    assert got["bogus"][0] is False and "EINVAL" in got["bogus"][1]


def test_unshare_error_is_oserror() -> None:
    def bad() -> str:
        try:
            ns.unshare(0x1)
        except OSError as e:
            return f"OSError {e.errno}"
        return "no error"

    assert in_child(bad).startswith("OSError")


@needs("uts")
def test_uts_hostname_is_private() -> None:
    host = socket.gethostname()

    def child() -> str:
        ns.unshare(linux.CLONE_NEWUTS)
        socket.sethostname("proclab-test")
        return socket.gethostname()

    assert in_child(child) == "proclab-test"
    assert socket.gethostname() == host


@needs("net")
def test_net_namespace_loopback_only() -> None:
    def child() -> dict[str, Any]:
        ns.unshare(linux.CLONE_NEWNET)
        names = [n for _, n in socket.if_nameindex()]
        before = "ok"
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        except OSError as e:
            before = type(e).__name__ + str(e.errno)
        ns.bring_up_loopback()
        ns.bring_up_loopback()  # idempotent
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        cli = socket.create_connection(srv.getsockname(), timeout=1)
        conn, _ = srv.accept()
        cli.sendall(b"ping")
        return {"names": names, "before": before, "echo": conn.recv(4)}

    got = in_child(child)
    assert got["names"] == ["lo"]
    assert got["before"] != "ok"  # loopback starts down
    assert got["echo"] == b"ping"


@needs("mount")
def test_private_tmp_is_invisible_and_bounded() -> None:
    marker = f"proclab-ns-test-{os.getpid()}"

    def child() -> dict[str, Any]:
        ns.unshare(linux.CLONE_NEWNS)
        assert ns.in_new_mount_ns()
        made = ns.private_tmp("/tmp", size_bytes=1 << 20)
        with open(f"/tmp/{marker}", "w") as f:
            f.write("inside")
        with open(f"/dev/shm/{marker}", "w") as f:
            f.write("inside")
        full = "no error"
        try:
            with open("/tmp/big", "wb") as f:
                f.write(b"\0" * (2 << 20))
        except OSError as e:
            full = os.strerror(e.errno or 0)
        listing = sorted(os.listdir("/tmp"))
        return {"made": made, "full": full, "listing": listing}

    got = in_child(child)
    assert got["made"] == ["/tmp", "/var/tmp", "/dev/shm"]
    assert got["full"] == os.strerror(28)  # ENOSPC at the tmpfs size
    assert marker in got["listing"]
    assert not os.path.exists(f"/tmp/{marker}")
    assert not os.path.exists(f"/dev/shm/{marker}")


def test_mount_helpers_refuse_the_shared_namespace() -> None:
    """Called in our own (shared) mount namespace, private_tmp and mount_proc must not mount anything."""
    assert ns.in_new_mount_ns() is False  # checked first, so a broken guard never reaches mount()
    with pytest.raises(RuntimeError):
        ns.private_tmp()
    with pytest.raises(RuntimeError):
        ns.mount_proc()


@needs("pid", "mount")
def test_pid_namespace_with_its_own_proc() -> None:
    def child() -> dict[str, Any]:
        ns.unshare(linux.CLONE_NEWPID | linux.CLONE_NEWNS)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            out: dict[str, Any] = {"pid": os.getpid(), "ppid": os.getppid()}
            try:
                ns.mount_proc()
                # an orphan is adopted by us, PID 1, as the textbook says
                if os.fork() == 0:
                    if os.fork() == 0:
                        time.sleep(0.2)
                        os._exit(0)
                    os._exit(0)
                os.wait()
                time.sleep(0.05)
                out["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
                out["self"] = os.readlink("/proc/self")
                orphan = [p for p in out["procs"] if p != 1]
                out["orphan_ppid"] = open(f"/proc/{orphan[0]}/stat").read().rsplit(")", 1)[1].split()[1]
                os.wait()
            except BaseException as e:
                out["error"] = repr(e)
            os.write(w, pickle.dumps(out))
            os._exit(0)
        os.close(w)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return pickle.loads(data)

    got = in_child(child)
    assert "error" not in got, got
    assert got["pid"] == 1 and got["ppid"] == 0
    assert got["self"] == "1"
    assert got["procs"][0] == 1 and len(got["procs"]) == 2
    assert got["orphan_ppid"] == "1"


@needs("ipc")
def test_ipc_namespace_hides_sysv_objects() -> None:
    def child() -> tuple[int, int]:
        ns.unshare(linux.CLONE_NEWIPC)
        libc = ctypes.CDLL(None, use_errno=True)
        shmid = libc.shmget(0, 4096, 0o1000 | 0o600)
        with open("/proc/sysvipc/shm") as f:
            return shmid, len(f.read().splitlines()) - 1

    def host_rows() -> list[str]:
        with open("/proc/sysvipc/shm") as f:
            return f.read().splitlines()[1:]

    before = host_rows()
    shmid, count = in_child(child)
    assert shmid >= 0
    assert count == 1  # the child sees only its own segment, none of the host's
    assert host_rows() == before  # and it died with the child's namespace
