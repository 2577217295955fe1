import os

pid = os.fork()
if pid == 0:
    print("child", os.getpid())
    os._exit(0)
os.waitpid(pid, 0)
