import os
import signal
import time


def main():
    r, w = os.pipe()
    print("[parent %d] os.pipe() -> read end fd %d, write end fd %d" % (os.getpid(), r, w))

    pid = os.fork()
    if pid == 0:
        os.close(w)                          # the child only reads: close the write end
        print("[child  %d] reading... (blocks until there is data)" % os.getpid())
        while True:
            data = os.read(r, 1024)          # blocks while the pipe is empty
            if not data:                     # b"": every write end is closed -> EOF
                break
            print("[child  %d] read %d bytes: %s" % (os.getpid(), len(data), data.decode().strip()))
        print("[child  %d] read() returned b'' -> end of file, bye" % os.getpid())
        os.close(r)
        os._exit(0)

    os.close(r)                              # the parent only writes: close the read end
    time.sleep(1)                            # meanwhile the child is blocked in read()
    for msg in ("Dad: going out to play?\n", "Dad: be home by six.\n", "Dad: bye!\n"):
        n = os.write(w, msg.encode())
        print("[parent %d] wrote %d bytes" % (os.getpid(), n))
        time.sleep(0.3)
    os.close(w)                              # no writer left: the child's read() returns b""
    os.waitpid(pid, 0)

    # ---- broken pipe: writing when nobody can read ----
    r2, w2 = os.pipe()
    os.close(r2)                             # no read end anywhere
    try:
        os.write(w2, b"anyone there?")
    except BrokenPipeError as e:
        print("[parent %d] write -> BrokenPipeError: %s" % (os.getpid(), e))

    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # behave like a C program
        os.write(w2, b"anyone there?")                  # the kernel sends SIGPIPE: we die here
        print("never printed")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("[parent %d] child with default SIGPIPE: waitstatus_to_exitcode = %d (%s)"
          % (os.getpid(), os.waitstatus_to_exitcode(status), signal.Signals(os.WTERMSIG(status)).name))


if __name__ == "__main__":
    main()
