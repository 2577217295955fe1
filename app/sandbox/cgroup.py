"""One cgroup per run: aggregate limits (pids, memory, CPU), accounting, and a certain kill.

Stdlib only. Works on cgroup v2 (a subtree of the cgroup this process is in: the
delegated or container-namespaced one) and on cgroup v1 (one directory per
hierarchy: memory, pids, cpu, cpuacct, freezer, wherever they are mounted). Run
cgroups live under a parent directory ("proclab" by default) next to this process's
own cgroup, so the whole server stays inside whatever limits its own cgroup has.

Nothing here raises for a missing or read-only cgroup fs: available() says None and
RunCgroup.create() returns None, which is what a plain `docker run` gives.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from . import procfs

DEFAULT_PARENT = "proclab"
# v2 only: the leaf this process (and its siblings) move into when its own cgroup must
# stop holding processes to delegate controllers ("no internal processes" rule).
HOST_LEAF = "proclab-host"
REQUIRED: tuple[str, ...] = ("memory", "pids")  # without both, a cgroup adds nothing the rlimits lack
V2_CONTROLLERS: tuple[str, ...] = ("memory", "pids", "cpu")
V1_CONTROLLERS: tuple[str, ...] = ("memory", "pids", "cpu", "cpuacct", "freezer")
CPU_PERIOD_US = 100_000
# All runs together (the parent cgroup) weigh this against the web server (a nice-0 process or
# cgroup weighs 100; v1 shares 1024): under full load the server gets at least two thirds of a CPU,
# so runs can stay at nice 0 as on a plain Linux and /healthz still answers. Not lower: the runs'
# own timing (lessons with sleeps between processes) must survive a busy machine too.
RUNS_CPU_WEIGHT = 50
RUNS_CPU_SHARES = 512


# ------------------------------------------------------------------ small file helpers


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _read_or(path: str, default: str = "") -> str:
    try:
        return _read(path)
    except OSError:
        return default


def _write(path: str, value: str) -> None:
    """One write() per value: cgroup files act on each write, and a partial write is an error."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _keyed(text: str) -> dict[str, int]:
    """'key value' lines (memory.events, cpu.stat, pids.events, memory.oom_control) as a dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _int_or(text: str, default: int = 0) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return default


# ------------------------------------------------------------------ discovery


@dataclass
class Layout:
    """Where run cgroups go: v2 one base dir; v1 one base dir per controller (shared when co-mounted)."""

    version: str  # "v1" or "v2"
    base: dict[str, str] = field(default_factory=dict)  # controller (or "unified") -> dir of our own cgroup
    controllers: set[str] = field(default_factory=set)  # usable controllers


def _mounts() -> list[procfs.Mount]:
    return [m for m in procfs.mounts() if m.fstype in ("cgroup", "cgroup2")]


def _strip_ours(path: str, parent: str) -> str:
    """If we already sit in one of our own cgroups (a run's, or the v2 host leaf), the base is above it."""
    parts = [p for p in path.split("/") if p]
    for i, p in enumerate(parts):
        if p in (parent, HOST_LEAF):
            parts = parts[:i]
            break
    return "/" + "/".join(parts)


def _own_dir(mount: procfs.Mount, path: str, parent: str) -> str:
    """Map our cgroup path onto the mount (its root may be a sub-cgroup, as in a v1 container)."""
    path = _strip_ours(path, parent)
    root = mount.root.rstrip("/")
    if root and root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    elif root and root != "/":
        path = "/"  # our path is not under the mount's root (cgroupns views): use the mount itself
    d = os.path.normpath(mount.point + "/" + path.lstrip("/"))
    return d if os.path.isdir(d) else mount.point


def detect(parent: str = DEFAULT_PARENT, require: Sequence[str] = REQUIRED) -> Layout | None:
    """The usable layout, v2 first; None when no writable cgroup fs offers `require`."""
    mounts = _mounts()
    own = procfs.own_cgroups()
    for m in mounts:
        if m.fstype != "cgroup2" or "" not in own:
            continue
        base = _own_dir(m, own[""], parent)
        ctrls = set(_read_or(os.path.join(base, "cgroup.controllers")).split())
        if all(c in ctrls for c in require) and os.access(base, os.W_OK):
            return Layout("v2", {"unified": base}, ctrls & set(V2_CONTROLLERS))
    v1: dict[str, str] = {}
    for c in V1_CONTROLLERS:
        for m in mounts:
            if m.fstype == "cgroup" and c in m.options and c in own:
                d = _own_dir(m, own[c], parent)
                if os.access(d, os.W_OK):
                    v1[c] = d
                break
    if v1 and all(c in v1 for c in require):
        return Layout("v1", v1, set(v1))
    return None


def available() -> str | None:
    """"v2", "v1" or None (no writable cgroup fs with memory and pids, as in a plain docker run)."""
    try:
        layout = detect()
    except OSError:
        return None
    return layout.version if layout else None


# ------------------------------------------------------------------ v2 delegation


def _v2_enable(d: str, controllers: Sequence[str]) -> list[str]:
    """Enable controllers for d's children; returns those that could not be (errno EBUSY first)."""
    have = set(_read_or(os.path.join(d, "cgroup.subtree_control")).split())
    offered = set(_read_or(os.path.join(d, "cgroup.controllers")).split())
    failed: list[str] = []
    for c in controllers:
        if c in have or c not in offered:
            continue
        try:
            _write(os.path.join(d, "cgroup.subtree_control"), f"+{c}")
        except OSError as e:
            failed.append(f"{c}:{errno.errorcode.get(e.errno or 0, e.errno)}")
    return failed


def _v2_evacuate(base: str) -> None:
    """Move every process of `base` into base/HOST_LEAF so base may delegate controllers.

    In a container with its own cgroup namespace, base is the container's cgroup and
    holds the server itself: the v2 "no internal processes" rule forbids enabling
    controllers for children of a cgroup that has processes (the real root excepted).
    """
    leaf = os.path.join(base, HOST_LEAF)
    os.makedirs(leaf, exist_ok=True)
    for _ in range(10):  # processes may fork while we move them
        pids = _read_or(os.path.join(base, "cgroup.procs")).split()
        if not pids:
            return
        for pid in pids:
            try:
                _write(os.path.join(leaf, "cgroup.procs"), pid)
            except OSError:
                pass  # exited, or a kernel thread that cannot move


def _v2_prepare(base: str, parent: str, controllers: Sequence[str], evacuate: bool) -> str:
    """Make base/parent a cgroup whose children get `controllers`; returns its path."""
    failed = _v2_enable(base, controllers)
    if failed and evacuate and any("EBUSY" in f for f in failed):
        _v2_evacuate(base)
        failed = _v2_enable(base, controllers)
    if failed:
        raise OSError(errno.EBUSY, f"cannot enable {', '.join(failed)} in {base}/cgroup.subtree_control")
    top = os.path.join(base, parent)
    os.makedirs(top, exist_ok=True)
    failed = _v2_enable(top, controllers)
    if failed:
        raise OSError(errno.EBUSY, f"cannot enable {', '.join(failed)} in {top}/cgroup.subtree_control")
    return top


# ------------------------------------------------------------------ the run cgroup


def _safe_name(name: str) -> str:
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise ValueError(f"bad cgroup name {name!r}")
    return name


class RunCgroup:
    """The cgroup(s) of one run. v1: `dirs` maps controller -> dir; v2: {"unified": dir}."""

    def __init__(self, version: str, name: str, dirs: dict[str, str]) -> None:
        self.version = version
        self.name = name
        self.dirs = dirs
        self.missing: list[str] = []  # limits that could not be set (controller absent)
        self.use_kill_file = True  # v2 cgroup.kill when present; tests turn it off to cover the freeze path
        self.cpu_weight: int | None = None  # the runs' parent's CPU weight, when the cpu controller took it

    # -------------------------------------------------------- creation

    @classmethod
    def create(cls, name: str, *, pids_max: int, memory_max: int, cpu_quota_pct: int | None,
               parent: str = DEFAULT_PARENT, layout: Layout | None = None,
               evacuate: bool = True) -> RunCgroup | None:
        """Make the run's cgroup with its limits; None when no writable cgroup is available.

        memory_max <= 0 means no memory limit; cpu_quota_pct is percent of one CPU
        (100 = one full CPU), None for no CPU limit. v2: `evacuate` lets us move the
        processes of our own cgroup into a sibling leaf when the no-internal-processes
        rule requires it (a container's root cgroup). Raises OSError only when the
        cgroup fs is writable but refuses something unexpected.
        """
        _safe_name(name)
        _safe_name(parent)
        try:
            layout = layout or detect(parent)
        except OSError:
            return None
        if layout is None:
            return None
        if layout.version == "v2":
            base = layout.base["unified"]
            top = _v2_prepare(base, parent, [c for c in V2_CONTROLLERS if c in layout.controllers], evacuate)
            dirs = {"unified": os.path.join(top, name)}
        else:
            dirs = {}
            seen: dict[str, str] = {}
            for c, d in layout.base.items():
                key = os.path.realpath(d)  # co-mounted controllers (cpu,cpuacct) share one dir
                dirs[c] = seen.setdefault(key, os.path.join(d, parent, name))
        cg = cls(layout.version, name, dirs)
        if any(os.path.isdir(d) for d in cg._dirs()):
            cg.kill()  # a stale cgroup of the same name (crash, reused name): empty it, then reuse it
        for d in cg._dirs():
            os.makedirs(d, exist_ok=True)
        try:
            cg._limit(pids_max, memory_max, cpu_quota_pct)
        except OSError:
            cg.remove()
            raise
        cg._weigh()
        return cg

    def _weigh(self) -> None:
        """Give the parent of all runs a low CPU weight (cpu.weight, v1 cpu.shares): a busy run then
        yields to the web server by the scheduler's weights, not by starting its processes niced."""
        if self.version == "v2":
            path, value = os.path.join(os.path.dirname(self.dirs["unified"]), "cpu.weight"), RUNS_CPU_WEIGHT
        elif "cpu" in self.dirs:
            path, value = os.path.join(os.path.dirname(self.dirs["cpu"]), "cpu.shares"), RUNS_CPU_SHARES
        else:
            return
        try:
            if _read_or(path).strip() != str(value):
                _write(path, str(value))
            self.cpu_weight = value
        except OSError:
            self.cpu_weight = None

    def set_limits(self, *, pids_max: int, memory_max: int, cpu_quota_pct: int | None) -> None:
        """Change the limits (a warm spare's cgroup gets the run's limits when the run is known)."""
        self._limit(pids_max, memory_max, cpu_quota_pct)

    def _limit(self, pids_max: int, memory_max: int, cpu_quota_pct: int | None) -> None:
        mem = str(memory_max) if memory_max > 0 else "max"
        cpu_quota = max(1000, cpu_quota_pct * CPU_PERIOD_US // 100) if cpu_quota_pct else None
        if self.version == "v2":
            d = self.dirs["unified"]
            self._set(os.path.join(d, "pids.max"), str(pids_max) if pids_max > 0 else "max")
            self._set(os.path.join(d, "memory.max"), mem)
            # Without this a run over memory.max would swap instead of being stopped.
            self._set(os.path.join(d, "memory.swap.max"), "0", optional=True)
            if cpu_quota is not None:
                self._set(os.path.join(d, "cpu.max"), f"{cpu_quota} {CPU_PERIOD_US}")
            return
        if "pids" in self.dirs:
            self._set(os.path.join(self.dirs["pids"], "pids.max"), str(pids_max) if pids_max > 0 else "max")
        if "memory" in self.dirs:
            md = self.dirs["memory"]
            limit = str(memory_max) if memory_max > 0 else "-1"
            self._set(os.path.join(md, "memory.limit_in_bytes"), limit)
            # memsw (memory+swap) must be >= limit_in_bytes, so it is set after it.
            self._set(os.path.join(md, "memory.memsw.limit_in_bytes"), limit, optional=True)
        if cpu_quota is not None and "cpu" in self.dirs:
            cd = self.dirs["cpu"]
            self._set(os.path.join(cd, "cpu.cfs_period_us"), str(CPU_PERIOD_US))
            self._set(os.path.join(cd, "cpu.cfs_quota_us"), str(cpu_quota))

    def _set(self, path: str, value: str, optional: bool = False) -> None:
        if not os.path.exists(path):
            if not optional:
                self.missing.append(os.path.basename(path))
            return
        _write(path, value)

    # -------------------------------------------------------- membership

    def _dirs(self) -> list[str]:
        return list(dict.fromkeys(self.dirs.values()))

    def _dir(self, controller: str) -> str | None:
        if self.version == "v2":
            return self.dirs["unified"]
        return self.dirs.get(controller)

    def add(self, pid: int) -> None:
        """Move pid (all its threads) into the run's cgroup(s); its later children start there."""
        for d in self._dirs():
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def procs(self) -> list[int]:
        """Every pid in the run's cgroup(s), including nested ones."""
        pids: set[int] = set()
        for d in self._dirs():
            for sub in _walk_dirs(d):
                for tok in _read_or(os.path.join(sub, "cgroup.procs")).split():
                    pids.add(int(tok))
        return sorted(pids)

    # -------------------------------------------------------- accounting

    def memory_bytes(self) -> int:
        d = self._dir("memory")
        if d is None:
            return 0
        name = "memory.current" if self.version == "v2" else "memory.usage_in_bytes"
        return _int_or(_read_or(os.path.join(d, name), "0"))

    def memory_peak(self) -> int:
        """Highest usage seen (v2 memory.peak from kernel 5.19; else the current value)."""
        d = self._dir("memory")
        if d is None:
            return 0
        name = "memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"
        path = os.path.join(d, name)
        return _int_or(_read_or(path, "0")) if os.path.exists(path) else self.memory_bytes()

    def cpu_ns(self) -> int:
        """CPU time used by all processes of the run, user + system, in ns."""
        if self.version == "v2":
            usec = _keyed(_read_or(os.path.join(self.dirs["unified"], "cpu.stat"))).get("usage_usec", 0)
            return usec * 1000
        d = self.dirs.get("cpuacct")
        return _int_or(_read_or(os.path.join(d, "cpuacct.usage"), "0")) if d else 0

    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer kill a process of the run (memory limit hit)?"""
        d = self._dir("memory")
        if d is None:
            return False
        if self.version == "v2":
            return _keyed(_read_or(os.path.join(d, "memory.events"))).get("oom_kill", 0) > 0
        ctl = _keyed(_read_or(os.path.join(d, "memory.oom_control")))
        if "oom_kill" in ctl:  # kernels >= 4.13
            return ctl["oom_kill"] > 0 or ctl.get("under_oom", 0) > 0
        return _int_or(_read_or(os.path.join(d, "memory.failcnt"), "0")) > 0

    def pids_current(self) -> int:
        d = self._dir("pids")
        return _int_or(_read_or(os.path.join(d, "pids.current"), "0")) if d else 0

    def pids_limit_hits(self) -> int:
        """How many fork/clone calls failed at pids.max (pids.events "max")."""
        d = self._dir("pids")
        return _keyed(_read_or(os.path.join(d, "pids.events"))).get("max", 0) if d else 0

    # -------------------------------------------------------- teardown

    def kill(self, wait: float = 1.0) -> bool:
        """SIGKILL every process of the run; True when the cgroup is empty within `wait` s.

        v2 with cgroup.kill (5.14+) does it atomically in the kernel. Otherwise the
        cgroup is frozen first so no process can fork between our listing and our kill.
        """
        if self.version == "v2":
            d = self.dirs["unified"]
            kill_file = os.path.join(d, "cgroup.kill")
            if self.use_kill_file and os.path.exists(kill_file):
                try:
                    _write(kill_file, "1")
                except FileNotFoundError:
                    return True
            else:
                self._freeze_kill(os.path.join(d, "cgroup.freeze"), "1", "0",
                                  lambda: _keyed(_read_or(os.path.join(d, "cgroup.events"))).get("frozen") == 1)
        else:
            fd = self.dirs.get("freezer")
            if fd and os.path.exists(os.path.join(fd, "freezer.state")):
                state = os.path.join(fd, "freezer.state")
                self._freeze_kill(state, "FROZEN", "THAWED", lambda: _read_or(state).strip() == "FROZEN")
            else:
                for _ in range(5):
                    if not self._kill_listed():
                        break
        return self._wait_empty(wait)

    def _freeze_kill(self, path: str, freeze: str, thaw: str, frozen: Callable[[], bool]) -> None:
        try:
            _write(path, freeze)
        except OSError:
            pass
        end = time.monotonic() + 0.2
        while time.monotonic() < end and not frozen():
            time.sleep(0.001)
        for _ in range(5):
            if not self._kill_listed():
                break
        try:
            _write(path, thaw)  # the killed tasks can only die once thawed (v1)
        except OSError:
            pass

    def _kill_listed(self) -> int:
        n = 0
        for pid in self.procs():
            try:
                os.kill(pid, signal.SIGKILL)
                n += 1
            except OSError:
                pass
        return n

    def _wait_empty(self, wait: float) -> bool:
        end = time.monotonic() + wait
        while True:
            if not self.procs():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)

    def remove(self, wait: float = 1.0) -> bool:
        """Kill what is left and rmdir the cgroup(s); True when all are gone."""
        end = time.monotonic() + wait
        ok = True
        for d in self._dirs():
            while True:
                try:
                    for sub in reversed(list(_walk_dirs(d))):
                        os.rmdir(sub)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() >= end:
                        ok = False
                        break
                    self.kill(wait=max(0.0, end - time.monotonic()))
        return ok

    def __repr__(self) -> str:
        return f"RunCgroup({self.version}, {self.name!r}, {self.dirs})"


def _walk_dirs(top: str) -> Iterator[str]:
    """top and every cgroup below it, parents first."""
    if not os.path.isdir(top):
        return
    yield top
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            yield from _walk_dirs(e.path)


# ------------------------------------------------------------------ crash recovery


def _existing_runs(layout: Layout, parent: str) -> dict[str, dict[str, str]]:
    runs: dict[str, dict[str, str]] = {}
    for c, base in layout.base.items():
        top = os.path.join(base, parent)
        try:
            names = [e.name for e in os.scandir(top) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for n in names:
            runs.setdefault(n, {})[c] = os.path.join(top, n)
    return runs


def sweep_stale(parent: str = DEFAULT_PARENT, only: Sequence[str] | None = None) -> list[str]:
    """Kill the processes of and remove every run cgroup under `parent` (left by a crash).

    Returns the names removed. Call it at start-up, before any run of this server exists.
    `only`: just the cgroups named `<prefix>` or `<prefix>-…` for these prefixes (a launcher's own
    uids: other servers may share the parent, and their runs are not ours to touch).
    """
    _safe_name(parent)
    try:
        layout = detect(parent)
    except OSError:
        return []
    if layout is None:
        return []
    removed: list[str] = []
    for name, dirs in sorted(_existing_runs(layout, parent).items()):
        if only is not None and not any(name == p or name.startswith(p + "-") for p in only):
            continue
        cg = RunCgroup(layout.version, name, dirs)
        cg.kill()
        if cg.remove():
            removed.append(name)
    return removed


def remove_parent(parent: str = DEFAULT_PARENT) -> bool:
    """rmdir the (empty) parent cgroup(s); True when none is left. For tests and uninstall."""
    _safe_name(parent)
    layout = detect(parent)
    if layout is None:
        return True
    ok = True
    for base in dict.fromkeys(layout.base.values()):
        try:
            os.rmdir(os.path.join(base, parent))
        except FileNotFoundError:
            pass
        except OSError:
            ok = False
    return ok
