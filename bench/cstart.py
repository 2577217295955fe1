"""8. cstart: a 50-line C program, from POST /api/runs to its first output on the WebSocket (compiled with
gcc inside the sandbox, then run), next to plain `gcc` + `./prog` on the same machine."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time

from .common import COOKIE_HEADER, GAP_S, Result, Server, Unavailable, interleaved, ms, raw_run, summary
from .rawclient import RawHttp
from .sizes import Sizes

# 50 lines: includes, a helper, fork/wait/pipe, as a lesson program is. The first line is printed first.
PROGRAM = """/* A lesson-sized program: a child sends its result through a pipe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int square(int x)
{
    return x * x;
}

static void child(int fd)
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "square %d\\n", square(7));
    if (write(fd, msg, (size_t) n) != n)
        exit(2);
    close(fd);
    exit(0);
}

int main(void)
{
    printf("hi\\n");
    fflush(stdout);
    int fd[2];
    if (pipe(fd) == -1) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fd[0]);
        child(fd[1]);
    }
    close(fd[1]);
    char buf[64] = {0};
    ssize_t got = read(fd[0], buf, sizeof buf - 1);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent read %zd bytes: %s", got, buf);
    printf("child exit code %d\\n", WEXITSTATUS(status));
    return 0;
}
"""
assert PROGRAM.count("\n") == 50
FLAGS = ["-g", "-O0", "-Wall", "-pthread", "-pipe"]  # the sandbox's flags (app/sandbox/compile.py)
RUN_NICE = 10  # the runs' priority (PROCLAB_NICE's default): the compile runs at it too


async def one_c_start(server: Server, raw: RawHttp) -> dict[str, float]:
    run_id, t_post, _created, w = await raw_run(server.port, raw, {"main.c": PROGRAM})
    first = next(((at, ev) for at, ev in w.events() if ev["type"] == "io.output"), None)
    events = [ev for _, ev in w.events()]
    comp = next((ev for ev in events if ev["type"] == "run.compile"), None)
    if first is None or comp is None or not comp["ok"]:
        raise Unavailable(f"run {run_id} did not compile and print: {events[-1] if events else 'no events'}")
    started = next(ev for ev in events if ev["type"] == "run.started")
    return {"total_ms": ms(first[0] - t_post), "compile_ms": float(comp["duration_ms"]),
            "warm": 1.0 if started.get("warm") else 0.0}


def plain(workdir: str, gcc: str, nice: int = 0) -> dict[str, float]:
    """`gcc … -o prog prog.c && ./prog` from a shell's point of view: compile, then run to its first line."""
    pre = ["nice", "-n", str(nice)] if nice else []
    t0 = time.monotonic_ns()
    subprocess.run([*pre, gcc, *FLAGS, "-o", "prog", "prog.c"], cwd=workdir, check=True)
    t1 = time.monotonic_ns()
    p = subprocess.Popen([*pre, "./prog"], cwd=workdir, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout is not None
    line = p.stdout.readline()
    t2 = time.monotonic_ns()
    p.stdout.close()
    p.wait()
    if line.strip() != b"hi":
        raise RuntimeError(f"./prog printed {line!r}")
    return {"total_ms": ms(t2 - t0), "compile_ms": ms(t1 - t0)}


async def measure(server: Server, n: int, workdir: str, gcc: str
                  ) -> tuple[list[dict[str, float]], list[dict[str, float]], list[dict[str, float]]]:
    raw = RawHttp(server.port, COOKIE_HEADER)
    runs, local, niced = await interleaved(n, [lambda: one_c_start(server, raw), lambda: plain(workdir, gcc),
                                               lambda: plain(workdir, gcc, RUN_NICE)])
    await raw.close()
    return runs, local, niced


def run(sizes: Sizes) -> Result:
    res = Result("cstart", "C start: compile + first output",
                 method=(f"{sizes.c_starts} runs of a 50-line C program (fork, pipe, wait; `printf(\"hi\\n\")` "
                         "first) one after another on an idle server, from writing POST /api/runs with `main.c` "
                         "to the arrival of the WebSocket frame holding the first `io.output` (minimal client, "
                         "as in `start`). The server compiles it with gcc inside the run's sandbox "
                         f"(`gcc {' '.join(FLAGS)}`, as the run's uid, with its seccomp, Landlock, namespaces and "
                         "cgroup), then runs it. Interleaved with the same number of plain `gcc` (same flags) + "
                         "`./prog` in a temporary directory, timed from spawning gcc to reading the program's "
                         f"first line, and the same at nice {RUN_NICE}, the priority of runs. One warm-up of each is not counted; {GAP_S * 1000:.0f} ms between "
                         "measurements."))
    gcc = shutil.which("gcc")
    if gcc is None:
        raise Unavailable("gcc is not installed")
    with tempfile.TemporaryDirectory(prefix="proclab-cstart-") as workdir:
        with open(os.path.join(workdir, "prog.c"), "w") as f:
            f.write(PROGRAM)
        with Server(name="cstart") as server:
            server.check_runs()
            runs, local, niced = asyncio.run(measure(server, sizes.c_starts, workdir, gcc))
    total, base = summary([r["total_ms"] for r in runs]), summary([r["total_ms"] for r in local])
    res.raw = {"runs": runs, "plain": local, "plain_niced": niced}
    res.add("C start (compile + first output), median", total["median"], "ms",
            f"plain gcc + ./prog: {base['median']:.1f} ms (1.5×: {base['median'] * 1.5:.1f} ms)",
            "≤ 1.5× plain gcc + run", total["median"] <= 1.5 * base["median"])
    res.add("C start, p90", total["p90"], "ms", f"plain: {base['p90']:.1f} ms")
    comp, pcomp = summary([r["compile_ms"] for r in runs]), summary([r["compile_ms"] for r in local])
    res.add("part: gcc inside the sandbox (run.compile duration_ms), median / p90",
            f"{comp['median']:.1f} / {comp['p90']:.1f}", "ms", f"plain gcc: {pcomp['median']:.1f} / {pcomp['p90']:.1f} ms")
    nc = summary([r["total_ms"] for r in niced])
    res.add(f"plain gcc + ./prog at nice {RUN_NICE} (the runs' priority), median / p90",
            f"{nc['median']:.1f} / {nc['p90']:.1f}", "ms", "what the priority alone costs on this machine")
    warm = sum(r["warm"] for r in runs)
    res.add("C starts served by a warm spare", f"{warm:.0f} of {len(runs)}", "")
    return res
