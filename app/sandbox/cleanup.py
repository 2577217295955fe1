"""Teardown primitives: find, kill and remove everything a run uid left behind.

Stdlib only (runs under the launcher's bare /usr/bin/python3). Everything here is
written for hostile leftovers: processes that fork while we kill them, symlinks
planted to make us delete the wrong tree, directories nested deeper than Python's
recursion limit, SysV IPC objects that outlive their creators.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import stat
from collections.abc import Iterator, Sequence

from . import linux, procfs

# The world-writable (sticky) places a run uid can write to outside its run dir. /run/lock
# (also /var/lock) is 1777 on Debian and in its container images; a missing dir is skipped.
SWEPT_DIRS: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

# Keep at most this many directory fds open while descending; deeper levels are
# reached again through "..", verified by (st_dev, st_ino), so a deep tree cannot
# exhaust our fds nor our recursion limit.
_MAX_OPEN_LEVELS = 64

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _refuse_privileged(uid: int) -> None:
    """Never aim a mass kill or a sweep at root or at ourselves: that would hit the server."""
    if uid < 0 or uid == 0 or uid in (os.getuid(), os.geteuid()):
        raise ValueError(f"refusing to act on uid {uid}: it is root or this process's own uid")


# ------------------------------------------------------------------ processes


def list_uid_pids(uid: int) -> list[int]:
    """Every pid (thread group) whose real, effective or saved uid is `uid`, zombies included.

    Processes that exit during the scan are skipped, not reported.
    """
    out: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        ids = procfs.uids(name)
        if ids is not None and uid in ids:
            out.append(int(name))
    return out


def kill_uid(uid: int, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to every process of `uid` with one kill(-1) made as that uid.

    kill(-1) from uid X reaches exactly the processes X may signal (real or saved uid X)
    and never the sender; the kernel walks the task list under a lock that fork() also
    takes, so a fork bomb cannot outrun one SIGKILL sweep. Raises PermissionError when
    this process cannot become `uid` (not root), ValueError for root or our own uid.
    """
    _refuse_privileged(uid)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            try:
                os.kill(-1, sig)
            except ProcessLookupError:
                pass  # nothing of that uid left
        except BaseException:
            code = 1
        os._exit(code)
    status = _wait_child(pid)
    if status is not None and os.waitstatus_to_exitcode(status) != 0:
        raise PermissionError(errno.EPERM, f"could not become uid {uid} to kill its processes")


def _wait_child(pid: int) -> int | None:
    """waitpid that survives a caller whose SIGCHLD handler reaps with waitpid(-1)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except ChildProcessError:
            return None  # reaped by someone else: the status is lost, assume it worked
        except InterruptedError:
            continue


# ------------------------------------------------------------------ files


def _is_dir_entry(dir_fd: int, name: str) -> tuple[bool, os.stat_result] | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.S_ISDIR(st.st_mode), st


def _make_accessible(dir_fd: int, name: str, st: os.stat_result) -> None:
    """Give an owner-without-root back rwx on a directory the student chmod-ed to 000.

    Root (the normal case) does not need this. chmod goes through an O_PATH fd so a
    symlink swapped in meanwhile is never followed.
    """
    if os.geteuid() == 0 or st.st_uid != os.geteuid():
        return
    try:
        pfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        os.chmod(f"/proc/self/fd/{pfd}", 0o700)
    except OSError:
        pass
    finally:
        os.close(pfd)


def _open_subdir(dir_fd: int, name: str, st: os.stat_result) -> int:
    """Open a child directory without following a symlink, checking it is the one we lstat-ed."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        _make_accessible(dir_fd, name, st)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    got = os.fstat(fd)
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise OSError(errno.ESTALE, "directory replaced while removing it", name)
    if os.geteuid() != 0 and got.st_uid == os.geteuid() and (got.st_mode & 0o700) != 0o700:
        os.fchmod(fd, 0o700)  # we need write+search on it to empty it
    return fd


class _Level:
    """One directory on the way down: its fd (None once closed to save fds), identity and leftover subdirs."""

    __slots__ = ("fd", "name", "ident", "pending")

    def __init__(self, fd: int | None, name: str, ident: tuple[int, int]) -> None:
        self.fd = fd
        self.name = name
        self.ident = ident
        self.pending: list[tuple[str, os.stat_result]] = []


def _empty_level(level: _Level, errors: list[OSError]) -> None:
    """Unlink every non-directory in the level and remember its subdirectories."""
    assert level.fd is not None
    for name in os.listdir(level.fd):
        try:
            entry = _is_dir_entry(level.fd, name)
            if entry is None:
                continue
            is_dir, st = entry
            if is_dir:
                level.pending.append((name, st))
            else:
                os.unlink(name, dir_fd=level.fd)
        except FileNotFoundError:
            continue
        except OSError as e:
            errors.append(e)


def _rmtree_at(parent_fd: int, name: str, top_st: os.stat_result, errors: list[OSError]) -> None:
    """Remove directory `name` under `parent_fd` and everything in it, never following symlinks."""
    try:
        fd = _open_subdir(parent_fd, name, top_st)
    except FileNotFoundError:
        return
    except OSError as e:
        errors.append(e)
        return
    dev = top_st.st_dev
    stack = [_Level(fd, name, (top_st.st_dev, top_st.st_ino))]
    try:
        _empty_level(stack[0], errors)
    except OSError as e:
        errors.append(e)
    while stack:
        cur = stack[-1]
        assert cur.fd is not None
        if cur.pending:
            sub, st = cur.pending.pop()
            if st.st_dev != dev:
                errors.append(OSError(errno.EXDEV, "mount point inside tree, not descending", sub))
                continue
            try:
                sub_fd = _open_subdir(cur.fd, sub, st)
            except FileNotFoundError:
                continue
            except OSError as e:
                errors.append(e)
                continue
            level = _Level(sub_fd, sub, (st.st_dev, st.st_ino))
            stack.append(level)
            if len(stack) > _MAX_OPEN_LEVELS:
                far = stack[-_MAX_OPEN_LEVELS - 1]
                if far.fd is not None:
                    os.close(far.fd)
                    far.fd = None
            try:
                _empty_level(level, errors)
            except OSError as e:
                errors.append(e)
            continue
        # This level is empty (or holds only what we could not remove): go up and rmdir it.
        stack.pop()
        if not stack:
            os.close(cur.fd)
            break
        parent = stack[-1]
        if parent.fd is None:
            try:
                pfd = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=cur.fd)
            except OSError as e:
                os.close(cur.fd)
                errors.append(e)
                return _close_levels(stack)
            st = os.fstat(pfd)
            if (st.st_dev, st.st_ino) != parent.ident:
                # Someone moved the tree under us: stop rather than delete elsewhere.
                os.close(pfd)
                os.close(cur.fd)
                errors.append(OSError(errno.ESTALE, "tree moved while removing it", parent.name))
                return _close_levels(stack)
            parent.fd = pfd
        os.close(cur.fd)
        try:
            os.rmdir(cur.name, dir_fd=parent.fd)
        except FileNotFoundError:
            pass
        except OSError as e:
            errors.append(e)
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except FileNotFoundError:
        pass
    except OSError as e:
        errors.append(e)


def _close_levels(stack: list[_Level]) -> None:
    for level in stack:
        if level.fd is not None:
            os.close(level.fd)
            level.fd = None


def _remove_entry(dir_fd: int, name: str, errors: list[OSError]) -> None:
    """Remove one entry of an open directory: a file/link/fifo/socket is unlinked, a directory emptied first."""
    try:
        entry = _is_dir_entry(dir_fd, name)
    except OSError as e:
        errors.append(e)
        return
    if entry is None:
        return
    is_dir, st = entry
    if not is_dir:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except OSError as e:
            errors.append(e)
        return
    _rmtree_at(dir_fd, name, st, errors)


def remove_tree_nofollow(path: str, *, strict: bool = False) -> None:
    """Remove `path` and, if it is a directory, everything under it, never following a symlink.

    A symlink at `path` itself is unlinked (its target is left alone); symlinks inside are
    unlinked, never descended. Components above `path` are trusted (they are ours).
    Best effort: what cannot be removed is left for leftovers() to report; with
    strict=True the first error is raised instead. A missing path is not an error.
    """
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise ValueError(f"refusing to remove {path!r}")
    try:
        pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    errors: list[OSError] = []
    try:
        _remove_entry(pfd, name, errors)
    finally:
        os.close(pfd)
    if strict and errors:
        raise errors[0]


def _owned_entries(uid: int, dirs: Sequence[str]) -> Iterator[tuple[str, int, str]]:
    """(dir, open dir fd, name) for each entry directly inside `dirs` owned by uid.

    The fd stays open only while the caller handles that entry.
    """
    seen: set[tuple[int, int]] = set()
    for d in dirs:
        try:
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue  # e.g. no /dev/shm in this container
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) in seen:  # /var/lock -> /run/lock: once
            os.close(fd)
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            for name in os.listdir(fd):
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                if st.st_uid == uid:
                    yield d, fd, name
        finally:
            os.close(fd)


def sweep_uid_files(uid: int, dirs: Sequence[str] = SWEPT_DIRS) -> list[str]:
    """Remove every entry directly inside `dirs` owned by uid (files, fifos, sockets, links, trees).

    Returns the paths removed. Trees are removed with remove_tree_nofollow's rules.
    """
    _refuse_privileged(uid)
    removed: list[str] = []
    for d, fd, name in _owned_entries(uid, dirs):
        errors: list[OSError] = []
        _remove_entry(fd, name, errors)
        try:
            os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            removed.append(os.path.join(d, name))
        except OSError:
            pass
    return removed


# ------------------------------------------------------------------ SysV IPC

_IPC_RMID = 0
_SYSV_KINDS: tuple[str, ...] = ("shm", "sem", "msg")


def _sysv_objects(uid: int) -> list[tuple[str, int, str]]:
    """(kind, id, key) of SysV objects owned or created by uid in this IPC namespace."""
    out: list[tuple[str, int, str]] = []
    for kind in _SYSV_KINDS:
        ident = {"shm": "shmid", "sem": "semid", "msg": "msqid"}[kind]
        for row in procfs.sysvipc(kind) or []:  # None: a kernel without SysV IPC
            try:
                if int(row["uid"]) == uid or int(row["cuid"]) == uid:
                    out.append((kind, int(row[ident]), row["key"]))
            except (KeyError, ValueError):
                continue
    return out




def remove_sysv_ipc(uid: int) -> list[str]:
    """IPC_RMID every SysV shm segment, semaphore set and message queue owned or created by uid.

    A segment still attached is only marked for removal; it goes when its last
    user (a process of the run, killed first) detaches. Objects in a private IPC
    namespace are not visible here and die with the namespace.
    """
    _refuse_privileged(uid)
    objs = _sysv_objects(uid)
    if not objs:
        return []
    libc = linux.libc()
    removed: list[str] = []
    for kind, ident, key in objs:
        if kind == "shm":
            rc = libc.shmctl(ctypes.c_int(ident), ctypes.c_int(_IPC_RMID), ctypes.c_void_p(None))
        elif kind == "sem":
            rc = libc.semctl(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_int(_IPC_RMID))
        else:
            rc = libc.msgctl(ctypes.c_int(ident), ctypes.c_int(_IPC_RMID), ctypes.c_void_p(None))
        if rc == 0 or ctypes.get_errno() in (errno.EINVAL, errno.EIDRM):
            removed.append(f"sysv {kind} id {ident} key {key}")
    return removed


# ------------------------------------------------------------------ verification


def leftovers(uid: int, paths: Sequence[str]) -> list[str]:
    """What of uid is still on the system, in words; an empty list means clean.

    Covers processes (zombies included), entries in the swept dirs, SysV objects and
    any of `paths` that still exist (even as a dangling symlink).
    """
    out: list[str] = []
    for pid in list_uid_pids(uid):
        state = procfs.state_letter(pid)
        what = "zombie" if state == "Z" else f"process (state {state})"
        out.append(f"{what} pid {pid} ({procfs.comm(pid)}) of uid {uid}")
    for d, _fd, name in _owned_entries(uid, SWEPT_DIRS):
        out.append(f"file {os.path.join(d, name)} owned by uid {uid}")
    for kind, ident, key in _sysv_objects(uid):
        out.append(f"sysv {kind} id {ident} key {key} of uid {uid}")
    for p in paths:
        if os.path.lexists(p):
            out.append(f"path {p} still exists")
    return out
