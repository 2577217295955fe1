import multiprocessing as mp
import os
import time

N = 1000


def deposit(money, n, go):
    go.wait()                                 # start together with the other process
    for _ in range(n):
        money.value += 1                      # read, add, write: three steps, not atomic


def deposit_locked(money, n, go):
    go.wait()
    for _ in range(n):
        with money.get_lock():                # only one process at a time in here
            money.value += 1


def fill(arr, text):
    for i in range(len(arr)):
        arr[i] = i * i                        # write into the shared array
    text.value = b"HELLO"                     # a shared array of chars ('c')
    print("[child  %d] filled the array and changed the text" % os.getpid())


def run_two(ctx, target, money):
    go = ctx.Event()
    ps = [ctx.Process(target=target, args=(money, N, go)) for _ in range(2)]
    for p in ps:
        p.start()
    time.sleep(0.2)
    go.set()                                  # both are waiting: let them run at the same time
    for p in ps:
        p.join()


if __name__ == "__main__":
    ctx = mp.get_context("fork")

    money = ctx.Value("i", 0)                 # a C int in shared memory, starts at 0
    run_two(ctx, deposit, money)
    print("[parent %d] 2 processes x %d deposits, no lock:   %d (lost %d)"
          % (os.getpid(), N, money.value, 2 * N - money.value))

    money.value = 0
    run_two(ctx, deposit_locked, money)
    print("[parent %d] 2 processes x %d deposits, with the lock: %d" % (os.getpid(), N, money.value))

    arr = ctx.Array("i", 5)                   # 5 C ints, all 0
    text = ctx.Array("c", b"hello")           # 5 chars
    p = ctx.Process(target=fill, args=(arr, text))
    p.start()
    p.join()
    print("[parent %d] array after the child: %s, text: %s" % (os.getpid(), list(arr), text.value))
