import multiprocessing as mp
import os
import time


def student(name, windows, inside, most):
    windows.acquire()                          # take a window; wait if none is free
    with inside.get_lock():
        inside.value += 1
        most.value = max(most.value, inside.value)
        print("[%s %d] at a window (%d busy, semaphore now %d)"
              % (name, os.getpid(), inside.value, windows.get_value()))
    time.sleep(0.4)                            # getting food
    with inside.get_lock():
        inside.value -= 1
    print("[%s %d] leaves" % (name, os.getpid()))
    windows.release()                          # free the window: +1, may wake a waiting student


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    windows = ctx.Semaphore(2)                 # the canteen has 2 windows
    inside = ctx.Value("i", 0)                 # how many students are at a window now
    most = ctx.Value("i", 0)                   # the most ever seen at the same time
    print("[main %d] 5 students, 2 windows, semaphore value %d" % (os.getpid(), windows.get_value()))

    ps = [ctx.Process(target=student, args=("student-%d" % i, windows, inside, most)) for i in range(5)]
    start = time.time()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("[main %d] all fed in %.1f s; at most %d at the same time"
          % (os.getpid(), time.time() - start, most.value))

    windows.release()                          # nothing stops a release beyond the start value
    print("[main %d] value after an extra release: %d" % (os.getpid(), windows.get_value()))
    b = ctx.BoundedSemaphore(2)
    try:
        b.release()
    except ValueError as e:
        print("[main %d] BoundedSemaphore(2).release(): ValueError: %s" % (os.getpid(), e))
