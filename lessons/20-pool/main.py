import multiprocessing as mp
import os
import time


def task(n):
    time.sleep(0.2)                           # pretend to work
    return n, n * n, os.getpid()


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    print("[main %d] a pool of 3 processes, 8 tasks" % os.getpid())
    start = time.time()
    pool = ctx.Pool(3)                        # 3 worker processes, created now, reused for every task
    results = [pool.apply_async(task, (n,)) for n in range(8)]   # queue the tasks, do not wait
    pool.close()                              # no more tasks will be added
    workers = set()
    for r in results:
        n, square, pid = r.get()              # wait for this task's result
        workers.add(pid)
        print("[main] task %d -> %d, done by worker %d" % (n, square, pid))
    pool.join()                               # wait for the workers to exit (and collect them)
    print("[main] 8 tasks in %.1f s by %d different worker processes" % (time.time() - start, len(workers)))

    with ctx.Pool(3) as pool2:                # map: the same, in one call
        print("[main] map ->", pool2.map(abs, [-3, -2, -1, 0, 1]))
