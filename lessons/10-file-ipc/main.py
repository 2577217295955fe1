import os
import time


def main():
    pid = os.fork()
    if pid > 0:
        name = str(pid)          # the file is named after the child's PID
        print("[parent %d] writing to file %s" % (os.getpid(), name))
        with open(name, "w") as f:
            f.write("[parent wrote] Once upon a time there was a mountain, and on it a temple...\n")
        time.sleep(1)            # give the child time to answer (there is no notification!)
        print("[parent %d] reading file %s:" % (os.getpid(), name))
        with open(name) as f:
            print(f.read(), end="")
        wpid, status = os.wait()
        print("[parent %d] collected %d, exit code %d" % (os.getpid(), wpid, os.waitstatus_to_exitcode(status)))
        os.remove(name)
    else:
        name = str(os.getpid())
        tries = 0
        # Nothing tells the child when the data is there: it has to look again and again.
        while True:
            tries += 1
            try:
                with open(name) as f:
                    data = f.read()
                if data.endswith("\n"):
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        print("[child  %d] read after %d tries: %s" % (os.getpid(), tries, data.strip()))
        with open(name, "a") as f:   # append
            f.write("[child appended] ...and the old monk said to the young monk:\n")
        print("[child  %d] appended my answer, bye" % os.getpid())


if __name__ == "__main__":
    main()
