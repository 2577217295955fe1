import os
import time

for i in range(3):
    if os.fork() == 0:
        time.sleep(0.2 * (i + 1))
        os._exit(i)

reaped = 0
while reaped < 3:
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid == 0:
        time.sleep(0.05)  # nobody finished yet: other work would go here
        continue
    reaped += 1
    print("reaped %d, exit code %d" % (pid, os.waitstatus_to_exitcode(status)))
print("reaped 3 children")
