import os
import time

pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    print("child: my parent is", os.getppid())
    os._exit(0)
print("parent: I leave first")
