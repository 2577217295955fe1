import os
import time


def main():
    r_fd, w_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        print("[child  %d] I'll leave a message in 0.5 s" % os.getpid())
        time.sleep(0.5)
        os.close(r_fd)
        os.write(w_fd, "Dad, I went out to play~".encode())
        os._exit(0)

    os.close(w_fd)
    msg = b""
    while True:
        try:
            msg = os.read(r_fd, 1)          # does not wait: no data -> BlockingIOError
        except BlockingIOError:
            print("[parent %d] no message yet (BlockingIOError), doing other things..." % os.getpid())
        if msg:
            break
        time.sleep(0.1)
    msg += os.read(r_fd, 1024)              # the rest is already there
    print("[parent %d] message: %s" % (os.getpid(), msg.decode()))
    print("[parent %d] read again -> %r: EOF, the child closed its end" % (os.getpid(), read_eof(r_fd)))
    wpid, status = os.wait()
    print("[parent %d] collected %d, status %d" % (os.getpid(), wpid, status))

    # A non-blocking write to a full pipe fails too: how much does a pipe hold?
    r2, w2 = os.pipe2(os.O_NONBLOCK)
    total = 0
    try:
        while True:
            total += os.write(w2, b"x" * 4096)
    except BlockingIOError:
        print("[parent %d] pipe full after %d bytes: pipe capacity: %d bytes" % (os.getpid(), total, total))


def read_eof(fd):
    for _ in range(50):                     # the child may not have exited yet
        try:
            return os.read(fd, 1024)
        except BlockingIOError:
            time.sleep(0.02)
    return None


if __name__ == "__main__":
    main()
