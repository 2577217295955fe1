import os

kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        print("child", os.getpid())
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
