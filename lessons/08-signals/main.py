import os
import signal
import sys
import time


def state_of(pid):
    """The State: line of /proc/PID/status (the STAT column of `ps`)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return "gone"
    return "?"


def list_signals():
    """Like `kill -l`: the number and name of the standard signals."""
    names = ["%2d) %-9s" % (s, signal.Signals(s).name) for s in sorted(signal.valid_signals()) if s < 32]
    for i in range(0, len(names), 6):
        print(" ".join(names[i:i + 6]).rstrip())


def on_sigint(signum, frame):
    print("[child %d] got SIGINT (what Ctrl+C sends): I ignore it and keep working" % os.getpid())


def on_sigterm(signum, frame):
    print("[child %d] got SIGTERM: cleaning up before I exit" % os.getpid())
    if os.path.exists("work.tmp"):
        os.remove("work.tmp")
        print("[child %d] removed work.tmp" % os.getpid())
    sys.exit(0)


def main():
    list_signals()

    try:
        signal.signal(signal.SIGKILL, on_sigterm)
    except OSError as e:
        print("[parent] signal(SIGKILL, handler) -> OSError: %s: SIGKILL cannot be caught" % e)

    # ---- child 1: handles SIGINT and SIGTERM ----
    signal.signal(signal.SIGINT, on_sigint)      # handlers are inherited by fork()
    signal.signal(signal.SIGTERM, on_sigterm)
    c1 = os.fork()
    if c1 == 0:
        with open("work.tmp", "w") as f:
            f.write("half-done work\n")
        print("[child %d] working (created work.tmp)" % os.getpid())
        while True:
            time.sleep(0.1)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent itself goes back to the defaults
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    time.sleep(0.5)
    print("[parent] kill(%d, SIGINT)" % c1)
    os.kill(c1, signal.SIGINT)
    time.sleep(0.3)

    print("[parent] kill(%d, SIGSTOP)" % c1)
    os.kill(c1, signal.SIGSTOP)
    time.sleep(0.8)
    print("[parent] child %d is now: %s" % (c1, state_of(c1)))
    print("[parent] kill(%d, SIGCONT)" % c1)
    os.kill(c1, signal.SIGCONT)
    time.sleep(0.3)
    print("[parent] child %d is now: %s" % (c1, state_of(c1)))

    print("[parent] kill(%d, SIGTERM)" % c1)
    os.kill(c1, signal.SIGTERM)
    _, status = os.waitpid(c1, 0)
    print("[parent] child %d ended, waitstatus_to_exitcode = %d" % (c1, os.waitstatus_to_exitcode(status)))

    # ---- child 2: ignores SIGTERM, so only SIGKILL can stop it ----
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child (even across exec)
    c2 = os.fork()
    if c2 == 0:
        print("[child %d] I ignore SIGTERM" % os.getpid())
        while True:
            time.sleep(0.1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    time.sleep(0.3)
    print("[parent] kill(%d, SIGTERM)" % c2)
    os.kill(c2, signal.SIGTERM)
    time.sleep(0.5)
    print("[parent] child %d after SIGTERM: %s" % (c2, state_of(c2)))
    print("[parent] kill(%d, SIGKILL)" % c2)
    os.kill(c2, signal.SIGKILL)
    _, status = os.waitpid(c2, 0)
    print("[parent] child %d ended, waitstatus_to_exitcode = %d" % (c2, os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    main()
