import multiprocessing as mp

box = []


def produce():
    for i in range(3):
        box.append(i)


if __name__ == "__main__":
    p = mp.Process(target=produce)
    p.start()
    p.join()
    print("got %d items" % len(box))
