# 并发编程~先导篇上 (seeds/001), 僵尸进程: the notes' program as printed (line breaks restored)
import os
import time
def main():
    pid = os.fork()
    if pid == 0:
        print("子进程:Pid=%d,PPID=%d" % (os.getpid(), os.getppid()))
    elif pid > 0:
        print("父进程:Pid=%d,PPID=%d" % (os.getpid(), os.getppid()))
        while 1:
            print("父亲我忙着呢,没时间管你个小屁孩")
            time.sleep(1)
    print("pid=%d,over" % os.getpid())
if __name__ == '__main__':
    main()
