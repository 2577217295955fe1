"""Landlock file-system confinement for scenario processes, through raw syscalls via ctypes.

Stdlib only. After restrict(), this thread and everything it forks or execs can read
and execute only under the read-only paths, and read, write, create and remove only
under the read-write paths; from ABI 6 on it also cannot signal, or connect to the
abstract unix sockets of, processes outside its own Landlock domain (so runs sharing a
uid, as on a laptop without a uid pool, still cannot touch each other or the server).
Descriptors opened before restrict() keep working. Network (ABI 4 TCP bind/connect)
is left unrestricted: lessons use sockets on 127.0.0.1 freely.

Landlock applies to the calling thread only (ABI 7 has no TSYNC): call it before the
process starts threads, as the supervisor's scenario child does.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from collections.abc import Sequence

from . import linux

# Same numbers on every architecture with the unified syscall table (x86_64, aarch64, ...).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2: rename/link across directories
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5: ioctl on device files

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FS_V1 = (1 << 13) - 1
# Rights meaningful on a regular file; a rule on a non-directory with directory rights is EINVAL.
_FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV
_READ_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR


def fs_rights(abi: int) -> int:
    """Every file-system right the kernel of this ABI knows: all of them are handled (denied by default)."""
    rights = _FS_V1
    if abi >= 2:
        rights |= ACCESS_FS_REFER
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in linux/landlock.h: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _ruleset_attr_size(abi: int) -> int:
    """Pass only the fields this ABI knows; older kernels reject a larger struct with E2BIG only if non-zero."""
    if abi >= 6:
        return 24
    if abi >= 4:
        return 16
    return 8


def _supported_machine() -> bool:
    # alpha and ia64 offset their syscall numbers; everything we run on uses 444-446.
    return platform.machine().lower() not in ("alpha", "ia64")


def abi_version() -> int:
    """Highest Landlock ABI the kernel offers; 0 when absent, disabled at boot or blocked by an outer seccomp."""
    if not _supported_machine():
        return 0
    try:
        libc = linux.libc()
    except OSError:
        return 0
    rc = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.c_void_p(None), ctypes.c_size_t(0),
                      ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return int(rc) if rc > 0 else 0


def _add_path_rule(libc: ctypes.CDLL, ruleset_fd: int, path: str, rights: int, handled: int) -> bool:
    """Allow `rights` beneath `path`; False (not an error) when the path does not exist."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)  # follows symlinks: /bin -> usr/bin gets the rule on usr/bin
    except FileNotFoundError:
        return False
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        attr = _PathBeneathAttr(rights & handled, fd)
        rc = libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
                          ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(attr), ctypes.c_uint32(0))
        if rc != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"landlock_add_rule({path}): {errno.errorcode.get(e, e)}")
    finally:
        os.close(fd)
    return True


def restrict(read_only: Sequence[str], read_write: Sequence[str], *, scope: bool = True) -> bool:
    """Confine this thread (and all it forks/execs) to the given paths. Irreversible.

    Returns False, having changed nothing, when Landlock is unavailable; raises OSError
    when it is available but the kernel refuses (so a run that asked for this layer
    never silently goes without it). Paths that do not exist are skipped. Sets
    no_new_privs, which restrict_self needs without CAP_SYS_ADMIN.
    `scope` (ABI 6+): also deny signals and abstract-socket connects leaving the domain.
    """
    ruleset_fd = ruleset(read_only, read_write, scope=scope)
    if ruleset_fd < 0:
        return False
    restrict_with(ruleset_fd, [])
    return True


def ruleset(read_only: Sequence[str], read_write: Sequence[str], *, scope: bool = True) -> int:
    """A ruleset fd with these rules, not yet applied; -1 when Landlock is unavailable.

    A warm spare builds it before its run is known and adds the run's directory later.
    """
    abi = abi_version()
    if abi < 1:
        return -1
    libc = linux.libc()
    handled = fs_rights(abi)
    attr = _RulesetAttr(handled, 0, (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if scope and abi >= 6 else 0)
    ruleset_fd = int(libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                                  ctypes.c_size_t(_ruleset_attr_size(abi)), ctypes.c_uint32(0)))
    if ruleset_fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"landlock_create_ruleset: {errno.errorcode.get(e, e)}")
    try:
        for path in read_only:
            _add_path_rule(libc, ruleset_fd, path, _READ_RIGHTS, handled)
        for path in read_write:
            _add_path_rule(libc, ruleset_fd, path, handled, handled)
    except BaseException:
        os.close(ruleset_fd)
        raise
    return ruleset_fd


def restrict_with(ruleset_fd: int, read_write: Sequence[str]) -> None:
    """Add read-write rules to a ruleset from ruleset(), apply it to this thread and close it. Irreversible."""
    libc = linux.libc()
    handled = fs_rights(abi_version())
    try:
        for path in read_write:
            _add_path_rule(libc, ruleset_fd, path, handled, handled)
        linux.no_new_privs()
        if libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"landlock_restrict_self: {errno.errorcode.get(e, e)}")
    finally:
        os.close(ruleset_fd)
