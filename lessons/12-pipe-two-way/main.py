import os
import time


def main():
    p1 = os.pipe()   # child 1 writes, child 2 reads
    p2 = os.pipe()   # child 2 writes, child 1 reads

    i = 0
    while i < 2:
        pid = os.fork()
        if pid == 0:
            break        # a child must not fork again (no grandchildren)
        i += 1

    if i == 0:           # ---- child 1 ----
        print("[child1 %d] PPID=%d" % (os.getpid(), os.getppid()))
        os.close(p1[0])  # I write to p1: close its read end
        os.close(p2[1])  # I read from p2: close its write end
        time.sleep(0.5)  # thinking...
        os.write(p1[1], "Skewers tonight? 今天撸串吗？".encode())
        reply = os.read(p2[0], 1024)        # blocks until child 2 answers
        print("[child1 %d] got %d bytes: %s" % (os.getpid(), len(reply), reply.decode()))
        os._exit(0)

    elif i == 1:         # ---- child 2 ----
        print("[child2 %d] PPID=%d" % (os.getpid(), os.getppid()))
        os.close(p1[1])  # I read from p1: close its write end
        os.close(p2[0])  # I write to p2: close its read end
        msg = os.read(p1[0], 1024)          # blocks until child 1 writes
        print("[child2 %d] got %d bytes: %s" % (os.getpid(), len(msg), msg.decode()))
        time.sleep(0.5)  # thinking...
        os.write(p2[1], "Sure! 可以可以~".encode())
        os._exit(0)

    else:                # ---- parent: neither reads nor writes ----
        print("[parent %d] I only watch" % os.getpid())
        for fd in p1 + p2:
            os.close(fd)
        while True:
            try:
                wpid, status = os.wait()
            except ChildProcessError:
                break
            print("[parent %d] collected child %d, status %d" % (os.getpid(), wpid, status))
        print("[parent %d] all children collected" % os.getpid())


if __name__ == "__main__":
    main()
