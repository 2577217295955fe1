"""Linux plumbing the sandbox shares: libc through ctypes, prctl, and the kernel's constants
(linux/prctl.h, linux/sched.h). The layer modules (seccomp, landlock, namespaces, cleanup, rootproc,
probe) and the supervisor take them from here.

Stdlib only, like the rest of app/sandbox.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

# prctl options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_MM = 35
PR_SET_MM_ARG_END = 9  # a PR_SET_MM sub-option
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Namespace flags of clone() and unshare() (linux/sched.h)
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# The namespace flags clone() may carry in its first argument: CLONE_NEWTIME (0x80) overlaps the
# exit-signal byte of clone() and only works through clone3/unshare.
CLONE_NS_MASK = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
                 | CLONE_NEWNET)


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, loaded once per process tree: dlopen costs ~0.3 ms in a freshly forked process, on the
    path of every run start. dlopen(NULL): the interpreter already links libc (ctypes.util.find_library
    would run ldconfig)."""
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    lib.prctl.restype = ctypes.c_int
    return lib


def prctl(option: int, arg: int) -> None:
    """prctl(option, arg); raises OSError with the errno."""
    if libc().prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: needed before an unprivileged seccomp filter or Landlock ruleset; lasts through exec."""
    if libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl(PR_SET_NO_NEW_PRIVS): {errno.errorcode.get(e, e)}")
