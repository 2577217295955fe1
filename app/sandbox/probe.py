"""Start-up probe of every sandbox layer, each tried for real in a throwaway child.

Stdlib only (the launcher runs it before loading anything else). The result goes
to /healthz; floor_ok() decides whether student code may run at all. A layer that
is missing is reported with the reason, never raised.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

from . import cgroup, landlock, linux, namespaces, procfs, seccomp
from .linux import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG

CAP_SYS_PTRACE = 19
CHILD_TIMEOUT_S = 2.0  # a probe child that hangs is killed and reported, never waited for forever
LANDLOCK_TEST_RO = ("/usr", "/lib", "/lib64", "/etc", "/proc", "/dev")
NAMESPACES_USED = ("pid", "net", "mount", "ipc")  # what layer 6 uses; uts/user/cgroup are extra

Entry = dict[str, Any]  # {"ok": bool, "detail": str, ...extra keys}




def _in_child(fn: Callable[[], str], timeout: float = CHILD_TIMEOUT_S) -> Entry:
    """Run fn in a forked child; its return value is the detail of an ok entry, an exception a failed one."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError as e:
        os.close(r)
        os.close(w)
        return {"ok": False, "detail": f"fork failed: {e}"}
    if pid == 0:
        os.close(r)
        try:
            out = {"ok": True, "detail": fn()}
        except BaseException as e:  # report, never propagate out of a forked child
            out = {"ok": False, "detail": f"{type(e).__name__}: {e}"}
        try:
            os.write(w, json.dumps(out).encode()[:60000])
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    end = time.monotonic() + timeout
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                data = json.dumps({"ok": False, "detail": "probe timed out"}).encode()
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        _reap(pid)
    if not data:
        return {"ok": False, "detail": "probe child died without a report"}
    result: Entry = json.loads(data)
    return result


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # reaped by a SIGCHLD handler of the caller


def _become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


# ------------------------------------------------------------------ layers


def _process_model() -> str:
    libc = linux.libc()
    os.setsid()
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_CHILD_SUBREAPER")
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_PDEATHSIG")
    # a grandchild orphaned by its parent must be adopted by us, the subreaper
    r, w = os.pipe()
    mid = os.fork()
    if mid == 0:
        if os.fork() == 0:
            os.read(r, 1)
            os._exit(0)
        os._exit(0)
    os.waitpid(mid, 0)
    os.write(w, b"x")
    adopted, _ = os.wait()
    return f"fork, setsid, subreaper (adopted orphan {adopted}), pdeathsig"


def _identity(uid: int) -> Callable[[], str]:
    def run() -> str:
        _become(uid)
        if os.getresuid() != (uid, uid, uid) or os.getgroups():
            raise OSError(errno.EPERM, f"credentials not switched: {os.getresuid()}")
        return f"setresuid/setresgid to pool uid {uid}"

    return run


def _rlimits(uid: int | None) -> Callable[[], str]:
    def run() -> str:
        for res, value in ((resource.RLIMIT_AS, 1 << 34), (resource.RLIMIT_CPU, 30), (resource.RLIMIT_FSIZE, 1 << 26),
                           (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        os.nice(19)
        try:
            # Best effort, as in the supervisor: a process whose uid changed is non-dumpable and
            # its /proc/self files are root's, so only a process that never switched can write it.
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
            oom = "oom_score_adj 1000"
        except OSError as e:
            oom = f"oom_score_adj not settable ({errno.errorcode.get(e.errno or 0)})"
        if uid is None:
            resource.setrlimit(resource.RLIMIT_NPROC, (4096, 4096))
            return f"AS, CPU, FSIZE, NOFILE, CORE, NPROC set (NPROC shared with this user); nice 19; {oom}"
        # NPROC counts per uid and root is exempt: check it really stops a pool uid's fork.
        _become(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
        try:
            pid = os.fork()
        except BlockingIOError:
            return f"AS, CPU, FSIZE, NOFILE, CORE, NPROC set and enforced for the pool uid; nice 19; {oom}"
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        raise OSError(errno.EPERM, "RLIMIT_NPROC not enforced for the pool uid")

    return run


def _has_cap(cap: int) -> bool:
    return bool(procfs.effective_caps() >> cap & 1)


@contextlib.contextmanager
def _fs_creds(uid: int | None) -> Iterator[None]:
    if uid is None:
        yield
        return
    libc = linux.libc()
    libc.setfsgid(uid)
    libc.setfsuid(uid)
    try:
        yield
    finally:
        libc.setfsuid(0)
        libc.setfsgid(0)


def _supervision(uid: int | None) -> Entry:
    """Can we watch and stop a run's process: /proc stat files, signals; and its fds (needs ptrace access)?"""
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(ready_r)
        try:
            if uid is not None:
                _become(uid)
                linux.libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as a run's processes do after setresuid
            os.write(ready_w, b"r")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(ready_w)
    try:
        if not select.select([ready_r], [], [], CHILD_TIMEOUT_S)[0] or os.read(ready_r, 1) != b"r":
            return {"ok": False, "detail": "watched child did not start", "fds": False}
        seen = []
        for name in ("stat", "schedstat", "status"):
            with open(f"/proc/{pid}/{name}", "rb") as f:
                f.read()
            seen.append(name)
        extra: list[str] = []
        try:
            # As the supervisor samples (supervisor._RunFsCreds): with the run's fs uid, so that a root
            # without CAP_SYS_PTRACE (a default docker run) may read the fds of the run's dumpable processes.
            with _fs_creds(uid):
                os.listdir(f"/proc/{pid}/fd")
                with open(f"/proc/{pid}/syscall", "rb") as f:
                    f.read()
            fds = True
        except OSError as e:
            fds = False
            extra.append(f"cannot read /proc/PID/fd or syscall of a run ({errno.errorcode.get(e.errno or 0)}"
                         f"{'' if _has_cap(CAP_SYS_PTRACE) else ', no CAP_SYS_PTRACE'}): pipes are shown without ends")
        os.kill(pid, signal.SIGSTOP)
        os.kill(pid, signal.SIGCONT)
        detail = f"/proc {', '.join(seen)} readable, signals delivered"
        return {"ok": True, "detail": "; ".join([detail, *extra]), "fds": fds}
    except OSError as e:
        return {"ok": False, "detail": f"{type(e).__name__}: {e}", "fds": False}
    finally:
        os.close(go_w)
        os.close(ready_r)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _reap(pid)


def _seccomp() -> str:
    seccomp.install_filter()
    rc = linux.libc().personality(ctypes.c_ulong(0x0040000))  # ADDR_NO_RANDOMIZE: denied by our filter
    if rc != -1 or ctypes.get_errno() != errno.EPERM:
        raise OSError(errno.EINVAL, "filter installed but personality() not denied")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "no_new_privs and deny-list filter installed; fork still works"


def _landlock() -> str:
    abi = landlock.abi_version()
    if not landlock.restrict(LANDLOCK_TEST_RO, []):
        raise OSError(errno.EOPNOTSUPP, "Landlock unavailable")
    try:
        os.listdir("/")
    except PermissionError:
        return f"ABI {abi}; restrict works"
    raise OSError(errno.EINVAL, "restrict applied but / is still readable")


def _namespaces() -> Entry:
    kinds = namespaces.probe_detail()
    ok = all(kinds.get(k, (False, ""))[0] for k in NAMESPACES_USED)
    parts = [f"{k} {'ok' if v[0] else v[1]}" for k, v in kinds.items()]
    return {"ok": ok, "detail": "; ".join(parts), "kinds": {k: v[0] for k, v in kinds.items()}}


def _cgroup() -> Entry:
    version = cgroup.available()
    if version is None:
        return {"ok": False, "detail": "no writable cgroup fs with memory and pids controllers"}
    t0 = time.perf_counter()
    layout = cgroup.detect()
    had_parent = layout is not None and all(
        os.path.isdir(os.path.join(b, cgroup.DEFAULT_PARENT)) for b in layout.base.values())
    try:
        cg = cgroup.RunCgroup.create(f"probe-{os.getpid()}", pids_max=8, memory_max=16 << 20, cpu_quota_pct=50)
        if cg is None:
            return {"ok": False, "detail": f"{version}: create returned None"}
        removed = cg.remove()
        if not had_parent:
            cgroup.remove_parent()  # leave the machine as we found it; the first run makes it again
    except OSError as e:
        return {"ok": False, "detail": f"{version}: {e}"}
    ms = (time.perf_counter() - t0) * 1000
    if not removed:
        return {"ok": False, "detail": f"{version}: created but could not remove"}
    missing = f"; missing {', '.join(cg.missing)}" if cg.missing else ""
    # What keeps the server responsive: the runs' CPU weight (runs at nice 0), or else their nice.
    weight = (f"; runs' CPU weight {cg.cpu_weight}, runs start at nice 0" if cg.cpu_weight
              else "; no CPU weight for runs (no cpu controller), runs start at PROCLAB_NICE")
    return {"ok": True, "detail": f"{version}: create and remove in {ms:.1f} ms{missing}{weight}", "version": version,
            "cpu_weight": cg.cpu_weight}


def _guard(fn: Callable[[], Entry]) -> Entry:
    try:
        return fn()
    except Exception as e:  # one broken probe must not hide the others
        return {"ok": False, "detail": f"{type(e).__name__}: {e}"}


def probe_all(pool_uid: int) -> dict[str, Entry]:
    """Try every layer; {"layer": {"ok": bool, "detail": str, ...}}. Takes some tens of ms."""
    t0 = time.perf_counter()
    root = os.geteuid() == 0
    uid = pool_uid if root else None
    out: dict[str, Entry] = {}
    out["process_model"] = _in_child(_process_model)
    if root:
        out["identity"] = _in_child(_identity(pool_uid))
    else:
        out["identity"] = {"ok": False, "detail": "not root: runs share this user's uid (weaker isolation)"}
    out["rlimits"] = _in_child(_rlimits(uid if out["identity"]["ok"] else None))
    out["supervision"] = _guard(lambda: _supervision(uid if out["identity"]["ok"] else None))
    if seccomp.available():
        out["seccomp"] = _in_child(_seccomp)
    else:
        out["seccomp"] = {"ok": False, "detail": "seccomp filters unavailable on this kernel/architecture"}
    abi = landlock.abi_version()
    out["landlock"] = _in_child(_landlock) if abi else {"ok": False, "detail": "Landlock unavailable (ABI 0)"}
    out["landlock"]["abi"] = abi
    out["namespaces"] = _guard(_namespaces)
    out["cgroup"] = _guard(_cgroup)
    out["probe"] = {"ok": True, "detail": f"probed in {(time.perf_counter() - t0) * 1000:.0f} ms"}
    return out


FLOOR: tuple[str, ...] = ("process_model", "identity", "rlimits", "supervision")


def floor_ok(result: dict[str, Entry]) -> tuple[bool, list[str]]:
    """Layers 1, 2 (only when root: without root there is no uid per run), 3 and 5 must all work.

    Returns (ok, ["layer: why", ...] for each missing floor layer).
    """
    need = [n for n in FLOOR if n != "identity" or os.geteuid() == 0]
    missing = [f"{n}: {result.get(n, {}).get('detail', 'not probed')}" for n in need
               if not result.get(n, {}).get("ok")]
    return not missing, missing
