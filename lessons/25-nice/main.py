import multiprocessing as mp
import os
import time


def nice_of(pid):
    """The nice value of a process: field 19 of /proc/PID/stat (the NI column of ps/top)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def spin(name, increment, cpu, slot, seconds=1.5):
    if increment:
        os.nice(increment)                     # be nicer to the others: lower priority
    print("[%s %d] nice value %d" % (name, os.getpid(), os.nice(0)))
    end = time.time() + seconds
    n = 0
    while time.time() < end:                   # CPU-bound: always wants the CPU
        n += 1
    t = os.times()
    cpu[slot] = t.user + t.system
    print("[%s %d] %d loops, %.2f s of CPU in %.1f s" % (name, os.getpid(), n, cpu[slot], seconds))


if __name__ == "__main__":
    me = os.getpid()
    print("[main %d] my nice value: %d (ps shows it in the NI column)" % (me, nice_of(me)))
    try:
        os.nice(-5)                            # asking for a HIGHER priority
    except PermissionError as e:
        print("[main %d] os.nice(-5) -> PermissionError: %s (only root may raise priority)" % (me, e))

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one CPU: the two must share it
    ctx = mp.get_context("fork")
    cpu = ctx.Array("d", 2)
    ps = [ctx.Process(target=spin, args=("normal", 0, cpu, 0)),
          ctx.Process(target=spin, args=("nice+9", 9, cpu, 1))]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    share = cpu[1] / (cpu[0] + cpu[1])
    print("[main %d] the nice+9 process got %.0f%% of the CPU; less than the normal one: %s"
          % (me, 100 * share, cpu[1] < cpu[0]))
