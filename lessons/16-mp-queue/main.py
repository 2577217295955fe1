import multiprocessing as mp
import os
import time

counter = 0   # a global variable: each process has its own copy


def producer(q, n):
    global counter
    for i in range(n):
        item = "task-%d" % i
        q.put(item)                       # blocks while the queue is full (maxsize=2)
        counter += 1
        print("[producer %d] put %s (queue size now about %d)" % (os.getpid(), item, q.qsize()))
    q.put(None)                           # a sentinel: "no more tasks"
    print("[producer %d] done, my counter = %d" % (os.getpid(), counter))


def consumer(q):
    while True:
        item = q.get()                    # blocks while the queue is empty
        if item is None:
            break
        print("[consumer %d] got %s, working 0.3 s" % (os.getpid(), item))
        time.sleep(0.3)
    print("[consumer %d] no more tasks" % os.getpid())


if __name__ == "__main__":
    ctx = mp.get_context("fork")          # say it explicitly: the default changes in Python 3.14
    q = ctx.Queue(2)                      # a queue that holds at most 2 items
    p1 = ctx.Process(target=producer, args=(q, 5), name="producer")
    p2 = ctx.Process(target=consumer, args=(q,), name="consumer")
    print("[main %d] before start: %s alive=%s pid=%s" % (os.getpid(), p1.name, p1.is_alive(), p1.pid))
    p1.start()
    p2.start()
    print("[main %d] started %s (pid %d) and %s (pid %d)" % (os.getpid(), p1.name, p1.pid, p2.name, p2.pid))
    p1.join()                             # wait for (and collect) the producer
    p2.join()
    print("[main %d] both joined: exitcodes %d and %d, alive=%s"
          % (os.getpid(), p1.exitcode, p2.exitcode, p1.is_alive()))
    print("[main %d] my counter is still %d" % (os.getpid(), counter))
