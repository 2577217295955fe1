# 并发编程~先导篇上 (seeds/001), 孤儿进程: 举个例子看看: the notes' program as printed (line breaks restored)
import os
import time
def main():
    pid = os.fork()
    if pid == 0:
        print("子进程:Pid=%d,PPID=%d" % (os.getpid(), os.getppid()))
        time.sleep(1)  # 睡1s
    elif pid > 0:
        print("父进程:Pid=%d,PPID=%d" % (os.getpid(), os.getppid()))
    print("pid=%d,over" % os.getpid())
if __name__ == '__main__':
    main()
