import os

pid = os.fork()
if pid == 0:
    os.execvp("echo", ["echo", "hello from echo"])
os.waitpid(pid, 0)
