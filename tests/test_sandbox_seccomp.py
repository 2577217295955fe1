"""app.sandbox.seccomp on the real kernel: denied calls fail, lesson features keep working."""

from __future__ import annotations

import ctypes
import errno
import os
import pickle
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import in_child

from app.sandbox import linux, seccomp

REPO = Path(__file__).resolve().parents[1]
HOSTILE = [p for p in (REPO.parent / "shared" / "hostile", Path("/work/shared/hostile")) if p.is_dir()]

pytestmark = pytest.mark.skipif(not seccomp.available(), reason="seccomp filters unavailable on this kernel/arch")
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ARCH = seccomp.current_arch()


def filtered(fn: Callable[[], Any]) -> Any:
    """Run fn in a forked child after install_filter(); return its result or fail with its error."""
    return in_child(lambda: (seccomp.install_filter(), fn())[1])
def sys_errno(nr: int, *args: int) -> str:
    """errno name of a raw syscall, or 'ok' when it succeeded."""
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if rc == -1:
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return "ok"


def nr(name: str) -> int:
    assert ARCH is not None
    return ARCH.nrs[name]


def test_program_shape() -> None:
    assert ARCH is not None
    prog = seccomp.build_program(ARCH)
    assert prog[0] == (seccomp.BPF_LD_W_ABS, 0, 0, seccomp.OFF_ARCH)
    assert prog[-1][3] == seccomp.SECCOMP_RET_KILL_PROCESS
    assert len(prog) < 200
    # every denied name that exists on this arch appears as a comparison
    ks = {k for code, _, _, k in prog if code == seccomp.BPF_JEQ_K}
    for name in seccomp.DENIED:
        if name in ARCH.nrs:
            assert ARCH.nrs[name] in ks, name
    # the aarch64 table builds too
    assert seccomp.build_program(seccomp.ARCHES["aarch64"])


@pytest.mark.timeout(30)
def test_denied_syscalls_get_eperm() -> None:
    def probe() -> dict[str, str]:
        out = {
            "ptrace": sys_errno(nr("ptrace"), 0, 0, 0, 0),  # PTRACE_TRACEME
            "mount": sys_errno(nr("mount"), 0, 0, 0, 0, 0),
            "umount2": sys_errno(nr("umount2"), 0, 0),
            "unshare": sys_errno(nr("unshare"), 0x00020000),  # CLONE_NEWNS: root could, the filter says no
            "setns": sys_errno(nr("setns"), 0, 0),
            "bpf": sys_errno(nr("bpf"), 0, 0, 0),
            "perf_event_open": sys_errno(nr("perf_event_open"), 0, 0, 0, 0, 0),
            "keyctl": sys_errno(nr("keyctl"), 0, 0),
            "add_key": sys_errno(nr("add_key"), 0, 0, 0, 0, 0),
            "io_uring_setup": sys_errno(nr("io_uring_setup"), 1, 0),
            "userfaultfd": sys_errno(nr("userfaultfd"), 0),
            "process_vm_readv": sys_errno(nr("process_vm_readv"), os.getppid(), 0, 0, 0, 0, 0),
            "init_module": sys_errno(nr("init_module"), 0, 0, 0),
            "syslog": sys_errno(nr("syslog"), 3, 0, 0),
            "settimeofday": sys_errno(nr("settimeofday"), 0, 0),
            "mq_open": sys_errno(nr("mq_open"), 0, 0, 0, 0),
            "pivot_root": sys_errno(nr("pivot_root"), 0, 0),
            "personality_noaslr": sys_errno(nr("personality"), 0x0040000),
            "personality_query": sys_errno(nr("personality"), 0xFFFFFFFF),
            "clone3": sys_errno(nr("clone3"), 0, 0),
            "ioctl_tiocsti": sys_errno(nr("ioctl"), 0, seccomp.TIOCSTI, 0),
        }
        # clone with namespace flags: if the filter failed this would really create a child
        rc = libc.syscall(ctypes.c_long(nr("clone")), ctypes.c_long(linux.CLONE_NEWPID | signal.SIGCHLD),
                          ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
        if rc == 0:
            os._exit(0)
        out["clone_newpid"] = "ok" if rc > 0 else errno.errorcode[ctypes.get_errno()]
        if ARCH is not None and ARCH.x32_bit:
            out["x32_getpid"] = sys_errno(ARCH.x32_bit | 39)
        with open("/proc/self/status") as f:
            out["mode"] = next(line.split()[1] for line in f if line.startswith("Seccomp:"))
        with open("/proc/self/status") as f:
            out["nnp"] = next(line.split()[1] for line in f if line.startswith("NoNewPrivs:"))
        return out

    got = filtered(probe)
    for name in ("ptrace", "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "keyctl",
                 "add_key", "io_uring_setup", "userfaultfd", "process_vm_readv", "init_module", "syslog",
                 "settimeofday", "mq_open", "pivot_root", "personality_noaslr", "ioctl_tiocsti", "clone_newpid"):
        assert got[name] == "EPERM", (name, got[name])
    assert got["personality_query"] == "ok"
    assert got["clone3"] == "ENOSYS"
    if "x32_getpid" in got:
        assert got["x32_getpid"] == "ENOSYS"
    assert got["mode"] == "2" and got["nnp"] == "1"


@pytest.mark.timeout(30)
def test_fork_threads_pipes_still_work() -> None:
    def probe() -> dict[str, Any]:
        import threading

        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, b"hi")
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        got: list[int] = []
        ts = [threading.Thread(target=got.append, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return {"pipe": os.read(r, 2), "code": os.waitstatus_to_exitcode(status), "threads": sorted(got)}

    got = filtered(probe)
    assert got == {"pipe": b"hi", "code": 7, "threads": list(range(8))}


LEGIT = r"""
import multiprocessing as mp, os, select, selectors, socket, subprocess, sys, threading, time
sys.path.insert(0, {repo!r})
from app.sandbox import seccomp
seccomp.install_filter()

def sq(x):
    return x * x

if __name__ == "__main__":
    with mp.get_context("fork").Pool(3) as pool:
        assert pool.map(sq, range(20)) == [x * x for x in range(20)]
    with mp.get_context("spawn").Pool(1) as pool:  # exec + fresh interpreter under the filter
        assert pool.map(sq, [3]) == [9]
    assert subprocess.run(["ls", "/"], capture_output=True).returncode == 0
    assert subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout == "42\n"
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
    def serve():
        c, _ = srv.accept(); c.sendall(c.recv(100).upper()); c.close()
    t = threading.Thread(target=serve); t.start()
    cli = socket.create_connection(srv.getsockname()); cli.sendall(b"ping")
    assert cli.recv(100) == b"PING"; t.join()
    a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
    fifo = os.path.join({tmp!r}, "fifo"); os.mkfifo(fifo)
    if os.fork() == 0:
        fd = os.open(fifo, os.O_WRONLY); os.write(fd, b"via fifo"); os._exit(0)
    fd = os.open(fifo, os.O_RDONLY); assert os.read(fd, 100) == b"via fifo"; os.wait()
    r, w = os.pipe(); os.write(w, b"z")
    assert select.select([r], [], [], 1)[0] == [r]
    p = select.poll(); p.register(r, select.POLLIN); assert p.poll(1000)
    ep = select.epoll(); ep.register(r, select.EPOLLIN); assert ep.poll(1)
    sel = selectors.DefaultSelector(); sel.register(r, selectors.EVENT_READ); assert sel.select(1)
    pid = os.posix_spawn("/bin/true", ["true"], {{}}); assert os.waitpid(pid, 0)[1] == 0
    q = mp.get_context("fork").Queue(); pr = mp.get_context("fork").Process(target=q.put, args=(5,))
    pr.start(); assert q.get(timeout=10) == 5; pr.join()
    print("ALL OK")
"""


@pytest.mark.timeout(60)
def test_lesson_features_work_under_filter(tmp_path: Path) -> None:
    script = tmp_path / "legit.py"
    script.write_text(LEGIT.format(repo=str(REPO), tmp=str(tmp_path)))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=50)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("ALL OK")


@pytest.mark.timeout(60)
@pytest.mark.skipif(not HOSTILE, reason="shared/hostile not found beside the repo")
def test_hostile_legit_everything_runs_under_filter(tmp_path: Path) -> None:
    src = HOSTILE[0] / "14_legit_everything.py"
    wrapper = tmp_path / "main.py"
    wrapper.write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom app.sandbox import seccomp\n"
                       f"seccomp.install_filter()\n" + src.read_text())
    res = subprocess.run([sys.executable, str(wrapper)], capture_output=True, text=True, timeout=50, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "ALL OK" in res.stdout


def _int80_getpid() -> int:
    """Call getpid through the i386 ABI (int 0x80) from machine code in an executable page."""
    import mmap

    code = bytes([0xB8, 0x14, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20; int 0x80; ret
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    return ctypes.CFUNCTYPE(ctypes.c_int)(addr)()


@pytest.mark.timeout(30)
@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 ABI test is x86_64 only")
def test_foreign_arch_syscall_kills_the_process() -> None:
    def run(with_filter: bool) -> int:
        pid = os.fork()
        if pid == 0:
            if with_filter:
                seccomp.install_filter()
            os._exit(0 if _int80_getpid() == os.getpid() else 1)
        return os.waitpid(pid, 0)[1]

    plain = run(False)
    if not (os.WIFEXITED(plain) and os.WEXITSTATUS(plain) == 0):
        pytest.skip("kernel without IA32 emulation (int 0x80 does not reach getpid)")
    status = run(True)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@pytest.mark.timeout(30)
def test_cost_of_install_filter() -> None:
    def measure() -> float:
        t0 = time.perf_counter()
        seccomp.install_filter()
        return (time.perf_counter() - t0) * 1000

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, pickle.dumps(measure()))
        os._exit(0)
    os.close(w)
    ms = pickle.loads(os.read(r, 1000))
    os.close(r)
    os.waitpid(pid, 0)
    print(f"install_filter: {ms:.2f} ms")
    assert ms < 50


def test_install_filter_twice_stacks() -> None:
    """A second filter (e.g. a nested run helper) is allowed and still enforces."""

    def twice() -> str:
        seccomp.install_filter()
        return sys_errno(nr("ptrace"), 0, 0, 0, 0)

    assert filtered(twice) == "EPERM"


def test_landlock_syscalls_stay_allowed() -> None:
    """The supervisor applies Landlock after seccomp, so landlock_create_ruleset must pass the filter."""

    def ask() -> str:
        return sys_errno(444, 0, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)

    assert filtered(ask) != "EPERM"
