"""A seccomp-BPF deny list for scenario processes, installed through ctypes.

Stdlib only. The filter allows everything a lesson uses (fork, exec, pipes, FIFOs,
signals, threads, sockets, select/poll/epoll, SysV and POSIX shared memory) and
answers EPERM to the calls a lesson never needs and an attacker wants: debugging
other processes, mounting, namespaces, kernel modules, BPF, keyrings, clock
changes, io_uring. It is inherited across fork and exec and cannot be removed.
Call install_filter() last before running student code: after it, unshare() and
mount() fail in this process too.
"""

from __future__ import annotations

import ctypes
import errno
import platform
from dataclasses import dataclass
from typing import Any

from . import linux
from .linux import CLONE_NS_MASK, PR_GET_SECCOMP, PR_SET_SECCOMP

# seccomp constants (linux/seccomp.h, linux/audit.h); prctl's and clone's are in linux.py.
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_FILTER_FLAG_TSYNC = 1

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_KILL_THREAD = 0x00000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# classic BPF opcodes (linux/filter.h)
BPF_LD_W_ABS = 0x00 | 0x00 | 0x20
BPF_JEQ_K = 0x05 | 0x10 | 0x00
BPF_JGE_K = 0x05 | 0x30 | 0x00
BPF_JSET_K = 0x05 | 0x40 | 0x00
BPF_RET_K = 0x06 | 0x00

# struct seccomp_data offsets: nr (int), arch (u32), ip (u64), args[6] (u64); little endian
OFF_NR = 0
OFF_ARCH = 4


def OFF_ARG_LO(i: int) -> int:  # named like the C macro it stands for
    return 16 + 8 * i


TIOCSTI = 0x5412  # push bytes into a terminal's input: a classic escape from a sandbox sharing a tty
TIOCLINUX = 0x541C

PERSONA_DEFAULT = 0  # PER_LINUX
PERSONA_QUERY = 0xFFFFFFFF  # personality(0xffffffff) only reads the current persona

# Denied with EPERM. Grouped by why.
DENIED: tuple[str, ...] = (
    # reading or writing another process's memory / fds
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "process_madvise",
    # file systems and the mount tree
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "swapon", "swapoff", "quotactl", "quotactl_fd",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init", "acct",
    # namespaces (clone with namespace flags is handled separately)
    "unshare", "setns",
    # the kernel itself
    "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "userfaultfd", "syslog", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key",
    # machine-wide settings
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "vhangup",
    # x86 port I/O, LDT and dead module calls (absent on aarch64)
    "iopl", "ioperm", "modify_ldt", "uselib", "_sysctl", "create_module", "get_kernel_syms",
    "query_module", "nfsservctl",
    # POSIX message queues persist after the run and cannot be listed without mounting mqueue,
    # so teardown could not verify them gone; no lesson needs them (multiprocessing uses pipes)
    "mq_open",
)


@dataclass(frozen=True)
class Arch:
    audit: int  # AUDIT_ARCH_* the kernel reports in seccomp_data.arch
    seccomp_nr: int
    nrs: dict[str, int]
    x32_bit: int = 0  # x86_64: syscall numbers with this bit are the x32 ABI


# Syscall numbers per architecture (asm/unistd_64.h and asm-generic/unistd.h).
_X86_64 = Arch(
    audit=0xC000003E,
    seccomp_nr=317,
    x32_bit=0x40000000,
    nrs={
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438, "kcmp": 312,
        "process_madvise": 440, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "swapon": 167, "swapoff": 168, "quotactl": 179, "quotactl_fd": 443,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "lookup_dcookie": 212, "fanotify_init": 300,
        "acct": 163, "unshare": 272, "setns": 308, "reboot": 169, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "syslog": 103, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249, "settimeofday": 164,
        "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "sethostname": 170,
        "setdomainname": 171, "vhangup": 153, "iopl": 172, "ioperm": 173, "modify_ldt": 154, "uselib": 134,
        "_sysctl": 156, "create_module": 174, "get_kernel_syms": 177, "query_module": 178,
        "nfsservctl": 180, "mq_open": 240,
        # handled specially
        "clone": 56, "clone3": 435, "personality": 135, "ioctl": 16,
    },
)
_AARCH64 = Arch(
    audit=0xC00000B7,
    seccomp_nr=277,
    nrs={
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438, "kcmp": 272,
        "process_madvise": 440, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "swapon": 224, "swapoff": 225, "quotactl": 60, "quotactl_fd": 443,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "lookup_dcookie": 18, "fanotify_init": 262,
        "acct": 89, "unshare": 97, "setns": 268, "reboot": 142, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "syslog": 116, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "keyctl": 219, "add_key": 217, "request_key": 218, "settimeofday": 170,
        "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171, "sethostname": 161,
        "setdomainname": 162, "vhangup": 58, "nfsservctl": 42, "mq_open": 180,
        "clone": 220, "clone3": 435, "personality": 92, "ioctl": 29,
    },
)
ARCHES: dict[str, Arch] = {"x86_64": _X86_64, "amd64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


Jump = int | str  # 0 = fall through, or a label name


class _Asm:
    """Tiny classic-BPF assembler: jumps name labels; offsets are resolved (and range-checked) at the end."""

    def __init__(self) -> None:
        self.ins: list[tuple[int, Jump, Jump, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.ins)

    def load(self, offset: int) -> None:
        self.ins.append((BPF_LD_W_ABS, 0, 0, offset))

    def jump(self, code: int, k: int, jt: Jump, jf: Jump) -> None:
        self.ins.append((code, jt, jf, k))

    def ret(self, k: int) -> None:
        self.ins.append((BPF_RET_K, 0, 0, k))

    def assemble(self) -> list[tuple[int, int, int, int]]:
        out: list[tuple[int, int, int, int]] = []
        for i, (code, jt, jf, k) in enumerate(self.ins):
            offs = []
            for j in (jt, jf):
                off = j if isinstance(j, int) else self.labels[j] - (i + 1)
                if not 0 <= off <= 255:
                    raise ValueError(f"BPF jump out of range at {i}: {off}")
                offs.append(off)
            out.append((code, offs[0], offs[1], k))
        return out


def build_program(arch: Arch, kill_action: int = SECCOMP_RET_KILL_PROCESS) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) tuples; pure, so tests can inspect it."""
    a = _Asm()
    a.load(OFF_ARCH)
    # A foreign ABI (i386 int 0x80 on x86_64, AArch32 on arm64) has other syscall numbers: kill.
    a.jump(BPF_JEQ_K, arch.audit, 0, "kill")
    a.load(OFF_NR)
    if arch.x32_bit:
        a.jump(BPF_JGE_K, arch.x32_bit, "enosys", 0)
    for name in DENIED:
        nr = arch.nrs.get(name)
        if nr is not None:
            a.jump(BPF_JEQ_K, nr, "eperm", 0)
    # clone3 passes its flags in memory BPF cannot read: ENOSYS makes glibc fall back to clone.
    a.jump(BPF_JEQ_K, arch.nrs["clone3"], "enosys", 0)
    a.jump(BPF_JEQ_K, arch.nrs["clone"], "clone", 0)
    a.jump(BPF_JEQ_K, arch.nrs["personality"], "personality", 0)
    a.jump(BPF_JEQ_K, arch.nrs["ioctl"], "ioctl", 0)
    a.ret(SECCOMP_RET_ALLOW)
    a.label("clone")  # fork and threads yes, new namespaces no; the flags live in the low 32 bits
    a.load(OFF_ARG_LO(0))
    a.jump(BPF_JSET_K, CLONE_NS_MASK, "eperm", "allow")
    a.label("personality")  # only read or keep the default persona (no ASLR switch-off etc.)
    a.load(OFF_ARG_LO(0))
    a.jump(BPF_JEQ_K, PERSONA_DEFAULT, "allow", 0)
    a.jump(BPF_JEQ_K, PERSONA_QUERY, "allow", "eperm")
    a.label("ioctl")
    a.load(OFF_ARG_LO(1))
    a.jump(BPF_JEQ_K, TIOCSTI, "eperm", 0)
    a.jump(BPF_JEQ_K, TIOCLINUX, "eperm", "allow")
    a.label("allow")
    a.ret(SECCOMP_RET_ALLOW)
    a.label("eperm")
    a.ret(SECCOMP_RET_ERRNO | errno.EPERM)
    a.label("enosys")
    a.ret(SECCOMP_RET_ERRNO | errno.ENOSYS)
    a.label("kill")
    a.ret(kill_action)
    return a.assemble()


def current_arch() -> Arch | None:
    return ARCHES.get(platform.machine().lower())


def available() -> bool:
    """True when this kernel and architecture can take our filter (the probe still tries it for real)."""
    if current_arch() is None:
        return False
    try:
        libc = linux.libc()
    except OSError:
        return False
    # PR_GET_SECCOMP fails with EINVAL on a kernel built without seccomp.
    return int(libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) >= 0


def _action_available(libc: ctypes.CDLL, arch: Arch, action: int) -> bool:
    value = ctypes.c_uint32(action)
    rc = libc.syscall(ctypes.c_long(arch.seccomp_nr), ctypes.c_uint(SECCOMP_GET_ACTION_AVAIL),
                      ctypes.c_uint(0), ctypes.byref(value))
    return int(rc) == 0


def set_no_new_privs() -> None:
    """No setuid/file-capability gains across exec from here on; required for an unprivileged filter."""
    linux.no_new_privs()


@dataclass
class PreparedFilter:
    """A filter built ahead of time (a warm spare builds it before its run is known)."""

    libc: ctypes.CDLL
    arch: Arch
    prog: Any
    filt: Any  # the instructions prog points to: kept alive with it


def prepare_filter() -> PreparedFilter:
    """Build the program; raises RuntimeError on an architecture without a syscall table here."""
    arch = current_arch()
    if arch is None:
        raise RuntimeError(f"seccomp filter: unsupported architecture {platform.machine()}")
    libc = linux.libc()
    kill = SECCOMP_RET_KILL_PROCESS
    if not _action_available(libc, arch, kill):
        kill = SECCOMP_RET_KILL_THREAD  # kernels before 4.14
    ins = build_program(arch, kill)
    filt = (_SockFilter * len(ins))(*[_SockFilter(c, jt, jf, k) for c, jt, jf, k in ins])
    prog = _SockFprog(len(ins), ctypes.cast(filt, ctypes.POINTER(_SockFilter)))
    return PreparedFilter(libc, arch, prog, filt)


def install_filter(prepared: PreparedFilter | None = None) -> None:
    """Set no_new_privs and install the filter on every thread of this process (TSYNC).

    Raises OSError when the kernel refuses (the caller then reports the layer missing)
    and RuntimeError on an architecture without a syscall table here.
    """
    p = prepared or prepare_filter()
    libc, arch, prog = p.libc, p.arch, p.prog
    set_no_new_privs()
    rc = libc.syscall(ctypes.c_long(arch.seccomp_nr), ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                      ctypes.c_uint(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
    if rc == 0:
        return
    e = ctypes.get_errno()
    if rc > 0:
        raise OSError(errno.EBUSY, f"seccomp TSYNC: thread {rc} could not be synchronised")
    if e == errno.ENOSYS:
        # seccomp(2) missing (kernel < 3.17, or blocked by an outer filter): the prctl form, this thread only.
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0:
            return
        e = ctypes.get_errno()
    raise OSError(e, f"installing seccomp filter: {errno.errorcode.get(e, e)}")
