import os

pid = os.fork()
if pid == 0:
    print("hello from python")
    os._exit(0)
os.waitpid(pid, 0)
