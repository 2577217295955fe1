# Linux/IO/网络/多任务 笔记 (seeds/003), 僵尸进程 解决方法: 通过信号处理
import time
import os
import signal


def a():
    time.sleep(5)
    print('写代码')


def b():
    time.sleep(3)
    print('测代码')


signal.signal(signal.SIGCHLD, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    b()
elif pid > 0:
    a()
