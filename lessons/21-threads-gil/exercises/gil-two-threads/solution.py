import threading
import time


def work():
    x = 0
    for i in range(3_000_000):
        x += i
    return x


start = time.time()
threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("two loops in two threads: %.2f s" % (time.time() - start))
