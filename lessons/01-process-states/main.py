import os
import time


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name: [state, ppid, ...]."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def stat_letter(pid):
    """The state letter of a process (the STAT column of `ps`)."""
    fields = proc_stat(pid)
    return fields[0] if fields else "-"


def mini_ps(pids):
    """A tiny `ps -o pid,ppid,stat,ni`: read straight from /proc."""
    print("    PID   PPID STAT  NI")
    for pid in pids:
        f = proc_stat(pid)
        if f:
            print("%7d %6s %-4s %3s" % (pid, f[1], f[0], f[16]))


def cpu_bound(name, seconds):
    """Only computes: never waits for anything, always wants the CPU."""
    start = time.time()
    n = 0
    while time.time() - start < seconds:
        n += 1
    t = os.times()
    print("[%s %d] done: %d loops, CPU time %.2f s in %.2f s"
          % (name, os.getpid(), n, t.user + t.system, time.time() - start))


def io_bound(name, seconds):
    """Mostly waits (time.sleep stands in for waiting on a disk or the network)."""
    start = time.time()
    n = 0
    while time.time() - start < seconds:
        time.sleep(0.1)           # blocked: waiting for "I/O"
        n += 1                    # a tiny bit of work when the data is there
    t = os.times()
    print("[%s %d] done: %d waits, CPU time %.2f s in %.2f s"
          % (name, os.getpid(), n, t.user + t.system, time.time() - start))


def main():
    print("[main %d] PPID=%d" % (os.getpid(), os.getppid()))
    # Put everything on ONE CPU, so that the processes have to take turns.
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except OSError as e:
        print("[main] could not restrict to one CPU:", e)

    children = {}
    for name, work in (("cpu-1", cpu_bound), ("cpu-2", cpu_bound), ("io  ", io_bound)):
        pid = os.fork()
        if pid == 0:
            work(name, 1.5)
            os._exit(0)
        children[pid] = name

    for i in range(3):
        time.sleep(0.4)
        print("[main] t=%.1fs  " % (0.4 * (i + 1))
              + "  ".join("%s:%s" % (children[p].strip(), stat_letter(p)) for p in children))
        if i == 1:
            mini_ps([os.getpid()] + list(children))

    while children:
        pid, status = os.wait()
        print("[main] child %d (%s) terminated, exit code %d"
              % (pid, children.pop(pid).strip(), os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    main()
