import os
import time


def name_of(pid):
    """The command name of a process, from /proc/PID/comm."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    pid = os.fork()

    if pid == 0:
        # child: lives longer than its parent
        print("[child  %d] my parent is %d (%s)" % (os.getpid(), os.getppid(), name_of(os.getppid())))
        time.sleep(1)
        ppid = os.getppid()
        print("[child  %d] 1 s later my parent is %d (%s): I was adopted" % (os.getpid(), ppid, name_of(ppid)))
        print("[child  %d] over" % os.getpid())
    else:
        # parent: exits first, without waiting for the child
        time.sleep(0.2)
        print("[parent %d] I exit now and leave child %d behind" % (os.getpid(), pid))


if __name__ == "__main__":
    main()
