import os
import time

pid = os.fork()
if pid == 0:
    os._exit(3)

time.sleep(1)
wpid, status = os.waitpid(pid, 0)
print("[parent] reaped %d, exit code %d" % (wpid, os.waitstatus_to_exitcode(status)))
