import multiprocessing as mp


def produce(q):
    for i in range(3):
        q.put(i)


if __name__ == "__main__":
    q = mp.Queue()
    p = mp.Process(target=produce, args=(q,))
    p.start()
    items = [q.get() for _ in range(3)]
    p.join()
    print("got %d items" % len(items))
