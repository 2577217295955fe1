import os
import time

FIFO = "fifo_file"

print("[writer %d] opening %s for writing..." % (os.getpid(), FIFO))
fd = os.open(FIFO, os.O_WRONLY)               # a reader is already waiting: returns at once
for msg in ("Xiaoming: hello, unrelated process!\n", "Xiaoming: 喝水也会长胖\n", "Xiaoming: bye\n"):
    time.sleep(0.3)                           # reads are fast, writes are slow
    os.write(fd, msg.encode())
    print("[writer %d] wrote %d bytes" % (os.getpid(), len(msg.encode())))
os.close(fd)
