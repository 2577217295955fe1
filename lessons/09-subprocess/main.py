import os
import signal
import subprocess
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


def main():
    print("[parent %d] start" % os.getpid())
    try:
        # 1. a child that never stops by itself
        ps = subprocess.Popen(["python", "child.py"])
        print("[parent] started child.py, pid=%d" % ps.pid)
        time.sleep(1.1)
        print("[parent] poll() while it runs -> %r" % ps.poll())

        os.kill(ps.pid, signal.SIGKILL)             # like `kill -9 PID`
        print("[parent] sent SIGKILL to %d" % ps.pid)
        time.sleep(0.5)
        print("[parent] 0.5 s later, not collected yet, child is: %s" % state_of(ps.pid))
        print("[parent] poll() -> %r" % ps.poll())  # collects the zombie: returncode -9
        ps.wait()                                   # already collected: returns at once
        print("[parent] after wait(): returncode = %d, child is: %s" % (ps.returncode, state_of(ps.pid)))

        # 2. a child that finishes by itself: wait() blocks until then
        ps2 = subprocess.Popen(["python", "child.py", "3"])
        print("[parent] started child.py 3, pid=%d; waiting..." % ps2.pid)
        code = ps2.wait()
        print("[parent] wait() returned %d" % code)
    except Exception as e:
        print("[parent] exception: %s" % e)
    finally:
        print("parent process end")


if __name__ == "__main__":
    main()
