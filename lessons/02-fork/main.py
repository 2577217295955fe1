import os


def main():
    print("before fork: PID=%d" % os.getpid())
    num = 100

    pid = os.fork()          # one call ... two returns

    if pid < 0:              # (in Python a failed fork raises OSError instead)
        print("fork failed")
    elif pid == 0:           # the new process (child): fork() returned 0
        num += 10
        print("child : fork() returned %d, PID=%d, PPID=%d, num=%d"
              % (pid, os.getpid(), os.getppid(), num))
    else:                    # the original process (parent): fork() returned the child's PID
        num += 20
        print("parent: fork() returned %d, PID=%d, PPID=%d, num=%d"
              % (pid, os.getpid(), os.getppid(), num))

    print("PID=%d: this line runs in both processes" % os.getpid())

    if pid > 0:
        os.wait()            # collect the child (lessons 4 and 5 explain why)


if __name__ == "__main__":
    main()
