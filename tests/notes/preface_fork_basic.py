# 并发编程~先导篇上 (seeds/001), 1.fork: 我们来跑个程序验证一下: the notes' program as printed (line breaks restored)
import os
def main():
    print("准备测试~PID:%d" % os.getpid())
    pid = os.fork()
    if pid == 0:
        print("子进程:PID:%d,PPID:%d" % (os.getpid(), os.getppid()))
    elif pid > 0:
        print("父进程:PID:%d,PPID:%d" % (os.getpid(), os.getppid()))
if __name__ == '__main__':
    main()
