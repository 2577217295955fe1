import os

FIFO = "fifo_file"

print("[reader %d] opening %s for reading..." % (os.getpid(), FIFO))
fd = os.open(FIFO, os.O_RDONLY)               # blocks until a writer opens the FIFO
print("[reader %d] opened: a writer is there" % os.getpid())
while True:
    data = os.read(fd, 1024)                  # blocks until data arrives
    if not data:                              # every writer closed it: EOF
        break
    print("[reader %d] got %d bytes: %s" % (os.getpid(), len(data), data.decode().strip()))
os.close(fd)
print("[reader %d] EOF: the writer closed the FIFO" % os.getpid())
