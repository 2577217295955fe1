import os
import signal
import sys
import time


def describe(status):
    """Decode a raw wait status the portable way."""
    if os.WIFEXITED(status):
        return "exited normally, exit code %d" % os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "killed by signal %d (%s)" % (sig, signal.Signals(sig).name)
    return "other status"


def report(pid, status):
    print("[parent] collected %d: raw status=%d -> %s; waitstatus_to_exitcode -> %d"
          % (pid, status, describe(status), os.waitstatus_to_exitcode(status)))


def main():
    print("[parent %d] starting three children" % os.getpid())

    a = os.fork()
    if a == 0:
        print("[A %d] I work 0.5 s and exit with code 0" % os.getpid())
        time.sleep(0.5)
        sys.exit(0)

    b = os.fork()
    if b == 0:
        print("[B %d] I work 1 s and exit with code 7" % os.getpid())
        time.sleep(1.0)
        sys.exit(7)

    c = os.fork()
    if c == 0:
        print("[C %d] I never stop by myself" % os.getpid())
        while True:
            time.sleep(0.4)

    # 1. waitpid(-1, WNOHANG): collect whoever has finished, without blocking
    collected = 0
    while collected < 2:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:            # children exist, but none has finished yet
            print("[parent] nobody finished yet, doing other work...")
            time.sleep(0.3)
        else:
            report(pid, status)
            collected += 1

    # 2. C does not stop: send SIGKILL, then wait4() for exactly that child
    print("[parent] sending SIGKILL to C (%d)" % c)
    os.kill(c, signal.SIGKILL)
    pid, status, usage = os.wait4(c, 0)     # blocks until C is dead
    report(pid, status)
    print("[parent] C used %.3f s of CPU, max memory %d KiB" % (usage.ru_utime + usage.ru_stime, usage.ru_maxrss))

    # 3. no children left: wait() raises ChildProcessError (C's wait() would return -1)
    try:
        os.wait()
    except ChildProcessError as e:
        print("[parent] os.wait() with no children left:", e)


if __name__ == "__main__":
    main()
