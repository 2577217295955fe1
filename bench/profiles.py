"""`python -m bench.profiles NAME`: profile what a missed target points at, with py-spy.

Names: `sampler` (the supervisor of a 10-process run and of a 1-process run), `classroom` (the web
process while one run is broadcast to 200 WebSockets), `start` (the web process during 30 starts),
`concurrent` (the web process while 40 lesson runs run at once), `cgroup` (moving a process into a
cgroup, outside ProcLab: the largest part of the start latency), `burst` (the web process while 60
students press Run at once).
py-spy samples the running process from outside (no change to it); it is in the `test` extra.
Prints the functions with the most samples: own (the function itself was running) and total (it or
what it called). bench/FINDINGS.md records what these showed.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import scenarios
from .common import PYTHON, Server, host_pids, http_client, parse_frame, post_run, watch


def pyspy() -> str:
    exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(exe).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy (it is in the test extra)")
    return exe


class Profile:
    """py-spy record on one pid until stopped; then the top functions."""

    def __init__(self, pid: int, rate: int = 1000, idle: bool = False) -> None:
        self.out = Path(tempfile.mkstemp(suffix=".txt")[1])
        cmd = [pyspy(), "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(self.out), "--function"]
        if idle:
            cmd.append("--idle")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)

    def stop(self, idle_leaves: tuple[str, ...] = ("EpollSelector.select", "Runner.run", "_worker ")) -> dict[str, Any]:
        """Stop and aggregate. py-spy cannot tell idle threads here (its idle detection fails for these
        processes), so stacks whose innermost frame is a wait (`idle_leaves`) are counted apart."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        n = idle = 0
        for line in self.out.read_text().splitlines() if self.out.exists() else []:
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            c = int(count)
            frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            if frames[-1].startswith(idle_leaves):
                idle += c
                continue
            n += c
            own[frames[-1]] += c
            for f in set(frames):
                total[f] += c
        self.out.unlink(missing_ok=True)
        return {"samples": n, "idle": idle, "own": own.most_common(25), "total": total.most_common(60)}


def show(title: str, prof: dict[str, Any], extra: str = "") -> None:
    n = prof["samples"] or 1
    print(f"\n### {title}: {prof['samples']} busy samples ({prof['idle']} waiting, not shown){extra}")
    print("own:")
    for f, c in prof["own"]:
        print(f"  {c / n:6.1%}  {f}")
    print("total:")
    for f, c in prof["total"]:
        print(f"  {c / n:6.1%}  {f}")


async def _sampler_run(server: Server, n: int, seconds: float, strace: bool = False) -> Any:
    async with http_client(server) as http:
        run_id = await post_run(http, {"files": {"main.py": scenarios.many_idle(n, seconds)}})
    holder: dict[str, Any] = {}

    def on_frame(_at: int, text: str) -> None:
        if "started" not in holder and '"run.started"' in text:
            holder["started"] = next(e for e in parse_frame(text) if e["type"] == "run.started")
        if "prof" not in holder and '"READY\\n"' in text:
            sup, _root = host_pids(holder["started"])
            holder["out"] = tempfile.mkstemp(suffix=".strace")[1]
            if strace:
                holder["prof"] = subprocess.Popen(["strace", "-c", "-p", str(sup), "-o", holder["out"]],
                                                  stderr=subprocess.DEVNULL)
            else:
                holder["prof"] = Profile(sup)
        if "prof" in holder and "result" not in holder and '"END\\n"' in text:
            if strace:
                holder["prof"].send_signal(signal.SIGINT)
                holder["prof"].wait(30)
                holder["result"] = Path(holder["out"]).read_text()
            else:
                holder["result"] = holder["prof"].stop()
            Path(holder["out"]).unlink(missing_ok=True)

    await watch(server, run_id, on_frame=on_frame)
    return holder["result"]


def sampler() -> None:
    with Server(name="profile") as server:
        for n in (10, 1):
            prof = asyncio.run(_sampler_run(server, n, 4.0))
            show(f"supervisor of a run with {n} process(es), 4 s, py-spy at 1000 Hz", prof)
        if shutil.which("strace"):
            for n in (10, 1):
                text = asyncio.run(_sampler_run(server, n, 4.0, strace=True))
                print(f"\n### system calls of the supervisor of a run with {n} process(es) over 4 s (strace -c; "
                      f"divide by the epoll_wait count for calls per loop)\n{text}")


def classroom() -> None:
    from .classroom import broadcast

    with Server(name="profile") as server:
        prof = Profile(server.pid)
        out = broadcast(server, 200, 2, 5.0)
        res = prof.stop()
    show("web process, one run broadcast to 200 WebSockets", res,
         f" (server CPU {out['server_cpu_share']:.0%} of a core)")


def start() -> None:
    from .common import COOKIE_HEADER
    from .rawclient import RawHttp
    from .start import one_start

    async def many(server: Server) -> None:
        raw = RawHttp(server.port, COOKIE_HEADER)
        for _ in range(30):
            await one_start(server, raw)
        await raw.close()

    with Server(name="profile") as server:
        asyncio.run(many(server))  # warm
        prof = Profile(server.pid)
        asyncio.run(many(server))
        res = prof.stop()
    show("web process during 30 starts", res)


class RoleCpu:
    """CPU time by role while it runs: the web process, supervisors (root-owned children of the launcher),
    scenario processes (run uids), everything else. Samples /proc every 50 ms (a process's last < 50 ms
    are lost); meant for diagnosis, not for the benchmark's figures."""

    def __init__(self, web: int, launcher: int) -> None:
        import threading

        self.web, self.launcher = web, launcher
        self.best: dict[int, tuple[str, int]] = {}
        self.start: dict[int, int] = {}
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _scan(self) -> None:
        import os

        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                uid = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                continue
            ppid, ticks = int(fields[1]), int(fields[11]) + int(fields[12])
            if pid == self.web:
                role = "web process"
            elif 61000 <= uid < 62000:
                role = "scenario processes"
            elif ppid == self.launcher or (pid in self.best and self.best[pid][0] == "supervisors"):
                role = "supervisors"
            elif pid in self.best and self.best[pid][0] == "supervisors?":
                role = "supervisors"
            else:
                role = "other"
            if role == "other" and uid == 0 and self._under_launcher(ppid):
                role = "supervisors"
            self.start.setdefault(pid, ticks)
            self.best[pid] = (role, ticks)

    def _under_launcher(self, ppid: int) -> bool:
        return ppid in self.best and self.best[ppid][0] == "supervisors"

    def _loop(self) -> None:
        self._scan()
        while not self.stop_flag.wait(0.05):
            self._scan()

    def stop(self) -> dict[str, float]:
        import os

        self.stop_flag.set()
        self.thread.join()
        hz = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for pid, (role, ticks) in self.best.items():
            out[role] = out.get(role, 0.0) + (ticks - self.start.get(pid, ticks)) / hz
        return out


def concurrent() -> None:
    from .common import HealthPoller
    from .concurrent import burst

    with Server(env={"PROCLAB_MAX_CONCURRENT_RUNS": "40"}, name="profile") as server:
        launcher = int(server.health["launcher"]["pid"])
        with HealthPoller(server) as poll:
            roles = RoleCpu(server.pid, launcher)
            t = time.monotonic()
            out = asyncio.run(burst(server, 40))
            wall = time.monotonic() - t
            cpu = roles.stop()
            h = poll.stop()
        print(f"\n### CPU by role while 40 lesson runs run at once ({wall:.1f} s; /healthz p99 {h['p99']:.0f} ms, "
              f"max {h['max']:.0f} ms; {len(out['runs'])} runs)")
        for role, sec in sorted(cpu.items(), key=lambda x: -x[1]):
            print(f"  {role:20s} {sec:6.2f} s CPU = {sec / wall:5.0%} of a core")
        with HealthPoller(server) as poll:
            prof = Profile(server.pid)
            asyncio.run(burst(server, 40))
            res = prof.stop()
            h = poll.stop()
    show("web process while 40 lesson runs run at once (under py-spy)", res,
         f" (/healthz p99 {h['p99']:.0f} ms, max {h['max']:.0f} ms)")


def burst() -> None:
    """The web process while 60 students press Run at the same instant (bench/burst.py), three bursts;
    py-spy records the presses only (not the joins before nor the runs after)."""
    import httpx

    from .burst import _burst, _press, _students, _wait

    token = "bench-" + str(time.time_ns())
    waits = ("EpollSelector.select", "Runner.run", "_worker ", "Condition.wait")

    async def presses(server: Server) -> tuple[list[float], dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.base, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as admin:
            code = (await admin.post("/api/rooms", json={"title": "profile"})).json()["code"]
            students = await _students(server, code, 60)
            prof = Profile(server.pid)
            done = await asyncio.gather(*(_press(c, code, 0.0) for c in students))
            res = prof.stop(idle_leaves=waits)
            await _wait(admin, [p["id"] for p in done])
            await asyncio.gather(*(c.close() for c in students))
        return [p["ms"] for p in done], res

    with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": token}, name="profile") as server:
        asyncio.run(_burst(server, token, 10, 0.0))  # warm: rooms, lessons, spares
        for i in range(3):
            rts, res = asyncio.run(presses(server))
            rts.sort()
            show(f"web process, burst {i + 1}: 60 presses at once (under py-spy)", res,
                 f" (round trips: median {rts[len(rts) // 2]:.0f} ms, max {rts[-1]:.0f} ms)")


def _cgroup_dir() -> Path:
    """A cgroup directory we may create children in: the pids controller (v1) or our own cgroup (v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _num, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return Path("/sys/fs/cgroup/pids") / path.lstrip("/")
    v2 = [ln for ln in Path("/proc/self/cgroup").read_text().splitlines() if ln.startswith("0::")]
    return Path("/sys/fs/cgroup") / v2[0][3:].lstrip("/")


def cgroup() -> None:
    """Time of moving a fresh process into a cgroup (a write to cgroup.procs), without ProcLab, for
    several pauses between moves. Each run's first process is moved into the run's cgroup like this."""
    import os
    import statistics

    d = _cgroup_dir() / f"bench-attach-{os.getpid()}"
    d.mkdir()
    try:
        print(f"\n### writing a new child's pid into {d}/cgroup.procs, 10 times per pause")
        for gap in (0.0, 0.05, 0.3, 1.0):
            times = []
            for _ in range(10):
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.read(r, 1)
                    os._exit(0)
                t = time.monotonic_ns()
                with open(d / "cgroup.procs", "w") as f:
                    f.write(str(pid))
                times.append((time.monotonic_ns() - t) / 1e6)
                os.write(w, b"x")
                os.waitpid(pid, 0)
                os.close(r)
                os.close(w)
                time.sleep(gap)
            print(f"  pause {gap * 1000:5.0f} ms: median {statistics.median(times):6.2f} ms, "
                  f"max {max(times):6.2f} ms  ({', '.join(f'{x:.1f}' for x in times)})")
    finally:
        d.rmdir()


def main() -> None:
    names = {"sampler": sampler, "classroom": classroom, "start": start, "concurrent": concurrent,
             "cgroup": cgroup, "burst": burst}
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        raise SystemExit(f"usage: python -m bench.profiles {{{','.join(names)}}}")
    names[sys.argv[1]]()


if __name__ == "__main__":
    main()
