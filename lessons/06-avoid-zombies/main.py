import os
import signal
import time


def state_of(pid):
    """The State: line of /proc/PID/status, or 'gone' once the entry is freed."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return "gone"
    return "?"


def write_code():
    time.sleep(1.2)
    print("[parent %d] wrote code (my own work)" % os.getpid())


def test_code():
    time.sleep(0.6)
    print("[grandchild %d] tested code; my parent is now %d" % (os.getpid(), os.getppid()))


def main():
    me = os.getpid()
    # ---- Method 1: double fork (create a second-level child) ----
    print("[parent %d] method 1: double fork" % me)
    pid = os.fork()
    if pid == 0:
        pid2 = os.fork()
        if pid2 > 0:
            print("[child %d] started grandchild %d, and I exit (almost) at once" % (os.getpid(), pid2))
            time.sleep(0.2)
            os._exit(0)
        test_code()              # the grandchild does the real work, as an orphan
        os._exit(0)
    wpid, status = os.wait()     # the child exits after 0.2 s: this wait is short
    print("[parent %d] collected child %d right away" % (me, wpid))
    write_code()                 # meanwhile the grandchild works, without a parent to wait for it

    # ---- Method 2: ignore SIGCHLD ----
    print("[parent %d] method 2: signal(SIGCHLD, SIG_IGN)" % me)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        print("[child %d] short job, exit in 0.3 s" % os.getpid())
        time.sleep(0.3)
        os._exit(0)
    time.sleep(1.0)              # busy; never calls wait()
    print("[parent %d] child %d after it exited: %s" % (me, pid, state_of(pid)))
    try:
        os.wait()
    except ChildProcessError as e:
        print("[parent %d] os.wait(): %s (the kernel already reaped it)" % (me, e))


if __name__ == "__main__":
    main()
