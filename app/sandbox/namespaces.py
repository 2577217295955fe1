"""Linux namespaces for a run: unshare via ctypes, probes, loopback, private /tmp, a fresh /proc.

Stdlib only (Python 3.11 has no os.unshare). Each probe runs in a throwaway forked
child, so a probe never changes the caller. In a plain `docker run` (no
CAP_SYS_ADMIN, Docker's seccomp and AppArmor profiles) every kind is reported
unavailable rather than raising.

Order for a run that uses them (in the supervisor's child, before seccomp, which
denies unshare and mount): unshare(NEWNS|NEWNET|NEWIPC|NEWUTS|NEWPID), private_tmp(),
bring_up_loopback(), then fork: the child is PID 1 of the new pid namespace and
calls mount_proc().
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import time

from . import linux
from .linux import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

# What probe() reports; "user" and "cgroup" are extra information (unprivileged mode, /proc/self/cgroup view).
KINDS: dict[str, int] = {
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
}

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_RDONLY = 0x1
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq on 64-bit Linux: 16-byte name + 24-byte union (flags is a short)




def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


# Mount namespaces we left through unshare(): the ones shared with the server. Inherited by
# forked children, so the guard below also knows them in a new pid namespace's PID 1.
_LEFT_MNT_NS: set[int] = set()


def unshare(flags: int) -> None:
    """unshare(2): move this process into new namespaces (pid: only its future children)."""
    before = _mnt_ns("self") if flags & CLONE_NEWNS else None
    _check(linux.libc().unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")
    if before is not None:
        _LEFT_MNT_NS.add(before)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(linux.libc().mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                         ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


# ------------------------------------------------------------------ probes


def _probe_child(kind: str, flag: int) -> None:
    """In a forked child: exit 0 when `kind` is usable the way a run would use it, else errno."""
    code = 0
    try:
        unshare(flag)
        if kind == "mount":
            # Docker's AppArmor profile allows unshare but denies mount: test the mounts too.
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777")
        elif kind == "net":
            bring_up_loopback()
        elif kind == "pid":
            pid = os.fork()  # the first child becomes PID 1
            if pid == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status) and errno.EINVAL
    except OSError as e:
        code = e.errno or 1
    except BaseException:
        code = 1
    os._exit(min(code, 255))


def probe_detail(timeout: float = 2.0) -> dict[str, tuple[bool, str]]:
    """Per kind: (usable, why). All probes run in parallel children; a hung child is killed."""
    children: dict[int, str] = {}
    result: dict[str, tuple[bool, str]] = {}
    for kind, flag in KINDS.items():
        try:
            pid = os.fork()
        except OSError as e:
            result[kind] = (False, f"fork failed: {e}")
            continue
        if pid == 0:
            _probe_child(kind, flag)
        children[pid] = kind
    end = time.monotonic() + timeout
    while children:
        for pid in list(children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                result[children.pop(pid)] = (False, "probe child lost")
                continue
            if done:
                kind = children.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                if code == 0:
                    result[kind] = (True, "ok")
                elif code > 0:
                    result[kind] = (False, f"{errno.errorcode.get(code, code)}: {os.strerror(code)}")
                else:
                    result[kind] = (False, f"probe killed by signal {-code}")
        if children and time.monotonic() > end:
            for pid in children:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                result[children[pid]] = (False, "probe timed out")
            children.clear()
        elif children:
            time.sleep(0.0005)
    return {k: result[k] for k in KINDS if k in result}


def probe() -> dict[str, bool]:
    """Which namespaces a run can get here: pid, net, mount, ipc, uts (plus user, cgroup)."""
    return {k: ok for k, (ok, _) in probe_detail().items()}


# ------------------------------------------------------------------ network


def bring_up_loopback() -> None:
    """Set 'lo' up in a fresh network namespace (it starts down), without the `ip` binary."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        res = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        flags = struct.unpack(_IFREQ, res)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))


# ------------------------------------------------------------------ mounts


def _mnt_ns(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def in_new_mount_ns() -> bool:
    """True when we are in a mount namespace of our own, not the server's or the host's.

    A guard: mounting over /tmp or /proc in the namespace we share with the server
    (or the host) would hide them from everyone. Known shared: PID 1's, and the ones
    left through unshare() here; without such a record, our parent's.
    """
    mine = _mnt_ns("self")
    if mine is None:
        return False
    if os.getpid() != 1 and _mnt_ns(1) == mine:
        return False
    if _LEFT_MNT_NS:
        return mine not in _LEFT_MNT_NS
    ppid = os.getppid()
    return ppid > 0 and _mnt_ns(ppid) not in (None, mine)


def _require_new_mount_ns() -> None:
    if not in_new_mount_ns():
        raise RuntimeError("refusing to mount: call unshare(CLONE_NEWNS) first (shared mount namespace)")


def private_tmp(path: str = "/tmp", *, size_bytes: int = 64 << 20, shm: bool = True, var_tmp: bool = True) -> list[str]:
    """Give this mount namespace its own empty, size-limited /tmp (and /var/tmp, /dev/shm).

    Makes every mount private first so nothing propagates back to the host. The run's
    temporary files then vanish with the namespace and cannot fill the host's disk.
    Returns the mount points made.
    """
    _require_new_mount_ns()
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    targets = [path] + (["/var/tmp"] if var_tmp else []) + (["/dev/shm"] if shm else [])
    done: list[str] = []
    for t in targets:
        if not os.path.isdir(t) or t in done:
            continue
        mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_bytes},mode=1777")
        done.append(t)
    return done


def resize_tmp(mounts: list[str], size_bytes: int) -> None:
    """Change the size of tmpfs mounts made by private_tmp (a warm spare learns the run's files limit late)."""
    for t in mounts:
        mount("tmpfs", t, None, MS_REMOUNT | MS_NOSUID | MS_NODEV, f"size={size_bytes},mode=1777")


def mount_proc(target: str = "/proc") -> None:
    """Mount a procfs for the current pid namespace (call as its PID 1, in a new mount namespace).

    Without it, /proc still shows the parent namespace's processes.
    """
    _require_new_mount_ns()
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def set_last_pid(pid: int) -> bool:
    """Make the next fork in this pid namespace get pid+1 (if free), as checkpoint/restore does, so the
    sandbox's own short-lived processes (a compiler, a spare's compiler process) leave no gap in the pids a
    run sees: a program's first child is 3, as in the notes. Needs CAP_SYS_ADMIN over the namespace."""
    try:
        fd = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, str(pid).encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


RUN_USER = "student"  # the name the run's uid has inside its namespaces (ls -l, ps USER, pwd)
RUN_HOME = "/home/student"  # where the run's directory appears inside its mount namespace (its cwd, HOME)


def home_for_run(run_dir: str, uid: int | None) -> str:
    """Show the run's directory as /home/student in this mount namespace only: a small tmpfs over /home
    (the host's homes are not the run's business) holding one bind mount of run_dir. Tracebacks then read
    `File "/home/student/main.py"` and os.getcwd() a home, as for a student in a terminal. Returns the path."""
    _require_new_mount_ns()
    home = os.path.dirname(RUN_HOME)
    if not os.path.isdir(home):
        raise OSError(errno.ENOENT, f"no {home} to mount over")
    mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=16,mode=755")
    os.mkdir(RUN_HOME, 0o755)
    if uid is not None:
        os.chown(RUN_HOME, uid, uid)
    mount(run_dir, RUN_HOME, None, MS_BIND)
    return RUN_HOME


def _bind_text(target: str, text: str, scratch: str) -> None:
    """Bind-mount a read-only file with `text` over `target` in this mount namespace only."""
    tmp = os.path.join(scratch, f".{os.path.basename(target)}-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    try:
        mount(tmp, target, None, MS_BIND)
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    finally:
        os.unlink(tmp)  # the mount keeps the inode; nothing stays behind on the host


def name_run_user(uid: int, gid: int, scratch: str) -> None:
    """Give the run's uid the name `student` inside the run: generated /etc/passwd and /etc/group
    (the host's entries plus one line each) bind-mounted over the real ones, so `ls -l`, `ps` and
    pwd.getpwuid(os.getuid()) show a name instead of a bare number. Call in the run's own mount
    namespace; the host's files are untouched."""
    _require_new_mount_ns()

    def host(path: str) -> list[str]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return [ln for ln in f.read().splitlines() if ln and not ln.startswith(f"{RUN_USER}:")]
        except OSError:
            return []

    passwd = host("/etc/passwd") + [f"{RUN_USER}:x:{uid}:{gid}:ProcLab student:{RUN_HOME}:/bin/sh"]
    group = host("/etc/group") + [f"{RUN_USER}:x:{gid}:"]
    for target, lines in (("/etc/passwd", passwd), ("/etc/group", group)):
        if os.path.isfile(target):
            _bind_text(target, "\n".join(lines) + "\n", scratch)
