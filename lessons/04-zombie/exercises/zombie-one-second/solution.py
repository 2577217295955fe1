import os
import time

pid = os.fork()
if pid == 0:
    os._exit(0)

time.sleep(1.5)  # the child is a zombie all this time: dead, its exit status kept for us
wpid, status = os.waitpid(pid, 0)
print("[parent] reaped %d after 1.5 s" % wpid)
