import os

pid = os.fork()
if pid == 0:
    os._exit(0)

# Reaped at once: the child is a zombie only for the moment between its exit and this call.
wpid, status = os.waitpid(pid, 0)
print("[parent] reaped %d" % wpid)
