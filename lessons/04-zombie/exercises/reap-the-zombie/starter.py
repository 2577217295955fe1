import os
import time

pid = os.fork()
if pid == 0:
    os._exit(3)

time.sleep(1)
print("[parent] I never collect my child: who does?")
