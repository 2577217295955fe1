import os
import time

for i in range(3):
    if os.fork() == 0:
        time.sleep(0.2 * (i + 1))
        os._exit(i)

pid, status = os.waitpid(-1, 0)
print("reaped 1 child:", pid)
