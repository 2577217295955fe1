import time


def work():
    x = 0
    for i in range(3_000_000):
        x += i
    return x


start = time.time()
work()
work()
print("two loops in one thread: %.2f s" % (time.time() - start))
