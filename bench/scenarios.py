"""Ground-truth scenarios: programs that say, with their own CLOCK_MONOTONIC, what they did and when.

Every scenario starts with the clock anchor (common.ANCHOR) and prints `A a0 a1 ...`, which ties
the run's t=0 to CLOCK_MONOTONIC within some microseconds (see common.anchor_t0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .common import ANCHOR, anchor_t0

KINDS = ("busy", "sleep", "pipe")


def phases(phase_ms: float, cycles: int) -> str:
    """busy -> sleep -> blocked reading a pipe, each phase_ms long, `cycles` times, on a fixed schedule.

    The root process marks each transition: `M i kind ns`, with ns taken right at the transition
    (after the blocking call of the previous phase returned, before the next one starts). A child
    writes one byte into the pipe at the end of each pipe phase, so that phase ends on time, and
    prints when it did (`W i ns`): the reader is runnable from that moment, a little before it can
    take its own timestamp.
    The pipe is used through unbuffered file objects (a plain read(2)/write(2) from C), not
    os.read/os.write, which the shim wraps: its reports would sit between the kernel's transition
    and the scenario's timestamp.
    """
    return ANCHOR + f"""\
import os, time
PH = {int(phase_ms * 1e6)}
N = {cycles}
KINDS = {KINDS!r}
mono = time.monotonic_ns
print("A", _banchor, flush=True)
r, w = os.pipe()
start = mono() + 100_000_000
sched = [start + i * PH for i in range(3 * N + 1)]
pid = os.fork()
if pid == 0:
    os.close(r)
    wf = open(w, "wb", buffering=0)
    wrote = []
    for i in range(3 * N):
        if KINDS[i % 3] == "pipe":
            d = sched[i + 1] - mono()
            if d > 0:
                time.sleep(d / 1e9)
            t = mono()
            wf.write(b"x")
            wrote.append((i, t))
    print("\\n".join(f"W {{i}} {{t}}" for i, t in wrote), flush=True)
    os._exit(0)
os.close(w)
rf = open(r, "rb", buffering=0)
d = sched[0] - mono()
if d > 0:
    time.sleep(d / 1e9)
for i in range(3 * N):
    kind = KINDS[i % 3]
    end = sched[i + 1]
    t = mono()
    print("M", i, kind, t, flush=True)
    if kind == "busy":
        while mono() < end:
            pass
    elif kind == "sleep":
        d = end - mono()
        if d > 0:
            time.sleep(d / 1e9)
    else:
        rf.read(1)
print("E", mono(), flush=True)
os.waitpid(pid, 0)
"""


def spinners(n: int, spin_s: float) -> str:
    """n processes pinned to one CPU, all spinning for spin_s; each prints its schedstat over the spin."""
    return ANCHOR + f"""\
import os, time
N = {n}
mono = time.monotonic_ns
print("A", _banchor, flush=True)
cpu = min(os.sched_getaffinity(0))
start = mono() + 200_000_000
kids = []
me = 0
for k in range(1, N):
    pid = os.fork()
    if pid == 0:
        me = k
        kids = []
        break
    kids.append(pid)
os.sched_setaffinity(0, {{cpu}})

def ss():
    with open("/proc/self/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run), int(wait)

d = start - mono()
if d > 0:
    time.sleep(d / 1e9)
r0, w0 = ss()
t0 = mono()
end = t0 + int({spin_s} * 1e9)
while mono() < end:
    pass
r1, w1 = ss()
t1 = mono()
print("S", os.getpid(), t0, t1, r1 - r0, w1 - w0, flush=True)
if me:
    os._exit(0)
for p in kids:
    os.waitpid(p, 0)
"""


def many_idle(n: int, seconds: float) -> str:
    """n processes (root + n-1 children), half sleeping, half blocked reading a pipe, for `seconds`.

    Prints READY once all exist and END when the measured window is over; the processes then live
    0.3 s more so that the client can read the supervisor's CPU time while it still runs.
    """
    return f"""\
import os, signal, time
N = {n}
r, w = os.pipe()
kids = []
for k in range(1, N):
    pid = os.fork()
    if pid == 0:
        if k % 2:
            os.close(w)
            os.read(r, 1)
        else:
            time.sleep({seconds} + 5)
        os._exit(0)
    kids.append(pid)
time.sleep(0.2)
print("READY", flush=True)
time.sleep({seconds})
print("END", flush=True)
time.sleep(0.3)
os.close(w)
for k, p in enumerate(kids, 1):
    if k % 2 == 0:
        os.kill(p, signal.SIGKILL)
for p in kids:
    os.waitpid(p, 0)
"""


def broadcast(seconds: float) -> str:
    """Waits for a line on stdin, then for `seconds`: a child writes a pipe every 10 ms, the parent
    reads it and prints a line every 2 ms. A few thousand events of several kinds."""
    return ANCHOR + f"""\
import os, select, sys, time
print("A", _banchor, flush=True)
sys.stdin.readline()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    end = time.monotonic() + {seconds}
    i = 0
    while time.monotonic() < end:
        os.write(w, b"ping %d\\n" % i)
        i += 1
        time.sleep(0.01)
    os._exit(0)
os.close(w)
end = time.monotonic() + {seconds}
i = 0
open_ = True
while time.monotonic() < end:
    if open_ and select.select([r], [], [], 0.002)[0]:
        if not os.read(r, 4096):
            open_ = False
    else:
        time.sleep(0.002)
    print("line", i, flush=True)
    i += 1
os.waitpid(pid, 0)
"""


def long_sleep(seconds: float) -> str:
    return f"import time\nprint('up', flush=True)\ntime.sleep({seconds})\n"


# ---------------------------------------------------------------- reading the scenarios' own reports


SHORT_LIVED_C = r"""#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
extern char **environ;
static long long mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    int lives[] = {1, 5, 20};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < n; i++) {
            long long t = mono();
            pid_t pid = fork();
            if (pid == 0) { usleep(lives[k] * 1000); _exit(0); }
            waitpid(pid, NULL, 0);
            printf("C %d %lld fork-%dms\n", pid, t, lives[k]);
        }
    for (int i = 0; i < n; i++) {
        char *args[] = {"true", NULL};
        long long t = mono();
        pid_t pid;
        posix_spawnp(&pid, "true", NULL, NULL, args, environ);
        waitpid(pid, NULL, 0);
        printf("C %d %lld posix_spawn-true\n", pid, t);
    }
    return 0;
}
"""


def short_lived_c(n: int) -> dict[str, str]:
    """Processes started from C that live 1, 5 and 20 ms (fork + usleep + _exit), and `true` started with
    posix_spawn (glibc's clone, no fork symbol): `C pid ns label` with the parent's clock before the call."""
    main = ANCHOR + f"""\
import subprocess
print("A", _banchor, flush=True)
subprocess.run(["gcc", "-O0", "-o", "short", "short.c"], check=True)
subprocess.run(["./short", "{n}"], check=True)
"""
    return {"main.py": main, "short.c": SHORT_LIVED_C}


def lines(events: list[dict[str, Any]], prefix: str) -> list[list[str]]:
    return [parts for parts, _ev in lines_with_event(events, prefix)]


def lines_with_event(events: list[dict[str, Any]], prefix: str) -> list[tuple[list[str], dict[str, Any]]]:
    """Lines of the scenario's stdout starting with `prefix `, each with the io.output event that ended it."""
    out: list[tuple[list[str], dict[str, Any]]] = []
    buf: dict[int, str] = {}
    for e in events:
        if e["type"] != "io.output" or e["stream"] != "stdout":
            continue
        text = buf.pop(e["pid"], "") + e["text"]
        *full, rest = text.split("\n")
        if rest:
            buf[e["pid"]] = rest
        for ln in full:
            if ln.startswith(prefix + " "):
                out.append((ln.split(), e))
    return out


# Lines whose field 3 (M) or 1 (E, A: the last stamp) is a timestamp taken before the line was printed.
_STAMPED = (("M", 3), ("E", 1), ("A", -1))


def t0_of(events: list[dict[str, Any]]) -> tuple[int, int]:
    a = lines(events, "A")
    if not a:
        raise ValueError("the scenario printed no anchor")
    printed = [(int(parts[i]), ev) for prefix, i in _STAMPED for parts, ev in lines_with_event(events, prefix)]
    return anchor_t0(events, [int(x) for x in a[0][1:]], printed)


def root_pid(events: list[dict[str, Any]]) -> int:
    return next(int(e["root_pid"]) for e in events if e["type"] == "run.started")


def classify(ev: dict[str, Any]) -> str:
    """Which ground-truth phase a proc.state event says the process is in."""
    state = ev.get("state")
    if state in ("running", "ready"):
        return "busy"
    if state == "blocked":
        code = (ev.get("why") or {}).get("code")
        if code == "sleep":
            return "sleep"
        if code == "pipe_read":
            return "pipe"
        return f"blocked:{code}"
    return str(state)


@dataclass
class Phase:
    index: int
    kind: str
    start: int  # CLOCK_MONOTONIC ns, from the scenario's mark
    end: int
    event: dict[str, Any] | None = None  # the first matching proc.state event within the phase
    event_abs: int | None = None  # its t on CLOCK_MONOTONIC
    wrong: int = 0  # state events in the phase that name another state


SLACK_NS = 1_000_000  # an event is stamped just after the sample that saw the state


def match_phases(events: list[dict[str, Any]]) -> tuple[list[Phase], int, int]:
    """Ground-truth phases of the root process matched with the proc.state events about it.

    Returns (phases, t0, t0 uncertainty). A phase is detected when a proc.state event of the right
    class is stamped within [start, end + 1 ms].
    """
    t0, err = t0_of(events)
    pid = root_pid(events)
    marks = [(int(x[1]), x[2], int(x[3])) for x in lines(events, "M")]
    # A pipe phase ends (and the next begins) when the child writes, not when the reader notices.
    wrote = {int(x[1]): int(x[2]) for x in lines(events, "W")}
    marks = [(i, kind, wrote.get(i - 1, start) if i and marks[i - 1][1] == "pipe" else start)
             for i, kind, start in marks]
    endl = lines(events, "E")
    ends = [m[2] for m in marks[1:]] + ([int(endl[0][1])] if endl else [])
    phases_ = [Phase(i, kind, start, end) for (i, kind, start), end in zip(marks, ends, strict=False)]
    states = [e for e in events if e["type"] == "proc.state" and e.get("pid") == pid]
    for ph in phases_:
        for e in states:
            at = t0 + e["t"]
            if at < ph.start or at > ph.end + SLACK_NS:
                continue
            if classify(e) == ph.kind:
                if ph.event is None:
                    ph.event, ph.event_abs = e, at
            elif at <= ph.end:
                ph.wrong += 1
    return phases_, t0, err
