import os

os.mkfifo("box")
pid = os.fork()
if pid == 0:
    fd = os.open("box", os.O_WRONLY)
    os.write(fd, b"x" * 50)
    os.close(fd)
    os._exit(0)

fd = os.open("box", os.O_RDONLY)
total = 0
while chunk := os.read(fd, 4096):
    total += len(chunk)
os.close(fd)
os.waitpid(pid, 0)
print("the parent got", total, "bytes")
