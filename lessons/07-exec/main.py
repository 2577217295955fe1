import os


def run_child(title, replace):
    """Fork a child that replaces its program with `replace()`; wait and report."""
    print("---- %s ----" % title)
    pid = os.fork()
    if pid == 0:
        print("[child %d] about to exec" % os.getpid())
        try:
            replace()
        except OSError as e:
            print("[child %d] exec failed: %s" % (os.getpid(), e))
        # Reached only if exec failed: a successful exec never returns.
        print("[child %d] this line runs only if exec failed" % os.getpid())
        os._exit(127)
    _, status = os.waitpid(pid, 0)
    print("[parent %d] child %d finished with exit code %d"
          % (os.getpid(), pid, os.waitstatus_to_exitcode(status)))


def main():
    # 1. execlp: the program is searched in PATH; the PID stays the same
    run_child("execlp python3", lambda: os.execlp(
        "python3", "python3", "-c",
        "import os, sys, time; print('[python3 -c] a new program, PID', os.getpid()); time.sleep(0.3); sys.exit(5)"))

    # 2. execl: give the full path of the program; argv[0] is "ls"
    run_child("execl /bin/ls", lambda: os.execl("/bin/ls", "ls", "-l"))

    # 3. a program that does not exist: exec raises, the old code continues
    run_child("execlp no-such-program", lambda: os.execlp("no-such-program", "no-such-program"))


if __name__ == "__main__":
    main()
