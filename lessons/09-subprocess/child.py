import os
import sys
import time

# child.py [N]: print a line every 0.3 s, N times (forever without N)
n = int(sys.argv[1]) if len(sys.argv) > 1 else None
i = 0
while n is None or i < n:
    print("[child.py %d] PPID=%d tick %d" % (os.getpid(), os.getppid(), i))
    i += 1
    time.sleep(0.3)
print("[child.py %d] finished my %d ticks" % (os.getpid(), n))
