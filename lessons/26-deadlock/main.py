import multiprocessing as mp
import os
import sys
import time


def worker(name, first, second, names, timeout, both_hold):
    with first:                                    # resource 1: mine now (mutual exclusion)
        print("[%s %d] holds %s, wants %s" % (name, os.getpid(), names[first], names[second]))
        if both_hold is not None:
            both_hold.wait()                       # make sure the other one holds its lock too
        if not second.acquire(timeout=timeout):    # hold and wait ...
            print("[%s %d] no %s after %.1f s: deadlock detected, giving up %s"
                  % (name, os.getpid(), names[second], timeout, names[first]))
            sys.exit(1)                            # leaving the with-block releases `first`
        print("[%s %d] holds both, working" % (name, os.getpid()))
        time.sleep(0.3)
        second.release()
    print("[%s %d] done" % (name, os.getpid()))


def run(ctx, plan, barrier):
    ps = [ctx.Process(target=worker, args=args + (barrier,)) for args in plan]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return [p.exitcode for p in ps]


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    a, b = ctx.Lock(), ctx.Lock()                  # two resources, e.g. a printer and a scanner
    names = {a: "A", b: "B"}

    print("[main %d] 1) P1 takes A then B, P2 takes B then A" % os.getpid())
    # P2 waits at most 1 s, P1 is more patient: P2 will be the one that gives up
    codes = run(ctx, [("P1", a, b, names, 3.0), ("P2", b, a, names, 1.0)], ctx.Barrier(2))
    print("[main %d] exit codes %s" % (os.getpid(), codes))

    print("[main %d] 2) both take A first, then B (a fixed order)" % os.getpid())
    codes = run(ctx, [("P3", a, b, names, 3.0), ("P4", a, b, names, 3.0)], None)
    print("[main %d] with a fixed order: both finished, exit codes %s" % (os.getpid(), codes))
