import multiprocessing as mp
import os
import threading
import time

counter = 0                                    # shared by all threads of this process


def unsafe_add(n):
    global counter
    for _ in range(n):
        tmp = counter                          # read
        time.sleep(0)                          # let another thread run right here
        counter = tmp + 1                      # write back: may overwrite the other's update


def safe_add(n, lock):
    global counter
    for _ in range(n):
        with lock:                             # only one thread at a time in here
            tmp = counter
            time.sleep(0)
            counter = tmp + 1


def count(n, go=None):
    if go is not None:
        go.wait()                              # blocked until the main thread says go
    x = 0
    for i in range(n):                         # pure computing: needs the GIL all the time
        x += i
    return x


def run_threads(target, args_list):
    ts = [threading.Thread(target=target, args=args) for args in args_list]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    global counter
    print("[main %d] threads share memory: one `counter` for all" % os.getpid())
    run_threads(unsafe_add, [(200,), (200,)])
    print("[main] 2 threads x 200 increments, without a lock: %d" % counter)

    counter = 0
    lock = threading.Lock()
    run_threads(safe_add, [(200, lock), (200, lock)])
    print("[main] 2 threads x 200 increments, with the lock: %d" % counter)

    # The GIL: CPU-bound threads take turns, processes run in parallel.
    N = 6_000_000
    t0 = time.time()
    count(N)
    count(N)
    serial = time.time() - t0

    go = threading.Event()
    ts = [threading.Thread(target=count, args=(N, go), name="cpu-%d" % i) for i in range(2)]
    for t in ts:
        t.start()
    time.sleep(0.3)                            # both threads are waiting for the event
    t0 = time.time()
    go.set()                                   # ... now they run
    for t in ts:
        t.join()
    threads = time.time() - t0

    ctx = mp.get_context("fork")
    t0 = time.time()
    ps = [ctx.Process(target=count, args=(N,)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    procs = time.time() - t0
    print("[main] the same CPU work twice: one after the other %.2f s, 2 threads %.2f s, 2 processes %.2f s"
          % (serial, threads, procs))


if __name__ == "__main__":
    main()
