# day29-30 笔记 (seeds/002), 获取进程PID 示例 fork1.py
import os

pid = os.fork()

if pid < 0:
    print('Create process failed!')
elif pid == 0:
    # 获取当前进程的PID
    print("Child get pid:", os.getpid())
    # 获取父进程的PID
    print("Child get Parent pid:", os.getppid())
else:
    print("Parent get Child pid:", pid)
    print("Parent get pid:", os.getpid())
