import os
import time

pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    print("child: my parent is", os.getppid())
    os._exit(0)
os.waitpid(pid, 0)
print("parent: done")
