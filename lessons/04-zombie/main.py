import os
import time


def state_of(pid):
    """The State: line of /proc/PID/status, as `ps` shows it in the STAT column."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return "gone (no /proc/%d)" % pid
    return "?"


def main():
    pid = os.fork()

    if pid == 0:
        # child: finish at once
        print("[child  %d] PPID=%d, my work is done, exiting with code 3" % (os.getpid(), os.getppid()))
        os._exit(3)

    # parent: busy with other things, does not collect the child yet
    print("[parent %d] started child %d, now I am busy" % (os.getpid(), pid))
    for i in range(3):
        time.sleep(0.5)
        print("[parent %d] busy... child %d is in state: %s" % (os.getpid(), pid, state_of(pid)))

    # finally collect (reap) the child
    wpid, status = os.wait()
    print("[parent %d] os.wait() -> pid=%d, status=%d, exit code=%d"
          % (os.getpid(), wpid, status, os.waitstatus_to_exitcode(status)))
    print("[parent %d] after wait the child is: %s" % (os.getpid(), state_of(pid)))


if __name__ == "__main__":
    main()
