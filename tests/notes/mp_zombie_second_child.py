# Linux/IO/网络/多任务 笔记 (seeds/003), 僵尸进程 解决方法: 创建二级子进程处理
import time
import os


def a():
    time.sleep(5)
    print('写代码')


def b():
    time.sleep(3)
    print('测代码')


pid = os.fork()
if pid == 0:
    pid = os.fork()
    if pid > 0:
        os._exit(0)
    elif pid == 0:
        b()
elif pid > 0:
    pid, status = os.wait()
    a()
