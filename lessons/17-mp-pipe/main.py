import multiprocessing as mp
import os
import time


def child(conn, out):
    print("[child  %d] waiting for a message..." % os.getpid())
    msg = conn.recv()                         # blocks until the parent sends
    print("[child  %d] recv() -> %r" % (os.getpid(), msg))
    conn.send({"from": os.getpid(), "answer": "yes", "hours": [18, 19]})   # any picklable object
    conn.close()

    for i in range(1, 4):                     # a one-way pipe: this end can only send
        out.send(i * i)
    out.close()                               # the parent will get EOFError after the last item


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()                         # duplex=True: both ends can send and recv
    r, w = ctx.Pipe(duplex=False)             # r can only recv, w can only send
    p = ctx.Process(target=child, args=(b, w))
    p.start()
    b.close()                                 # the parent keeps only its own ends
    w.close()

    time.sleep(0.5)                           # the child is blocked in recv() meanwhile
    a.send("Can I go out to play?")
    print("[parent %d] recv() -> %r" % (os.getpid(), a.recv()))

    while True:
        try:
            print("[parent %d] one-way pipe: %r" % (os.getpid(), r.recv()))
        except EOFError:                      # every sending end is closed
            print("[parent %d] EOFError: the child closed its end" % os.getpid())
            break
    p.join()
    print("[parent %d] child exit code %d" % (os.getpid(), p.exitcode))
