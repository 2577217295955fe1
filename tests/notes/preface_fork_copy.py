# 并发编程~先导篇上 (seeds/001), 1.fork: 现在验证一下复制一份是什么意思: the notes' program as printed (line breaks restored)
import os
def main():
    print("准备测试~PID:%d" % os.getpid())
    pid = os.fork() # 子进程被父进程fork出来后,在fork处往下执行
    if pid == 0:
        print("子进程:PID:%d,PPID:%d" % (os.getpid(), os.getppid()))
    elif pid > 0:
        print("父进程:PID:%d,PPID:%d" % (os.getpid(), os.getppid()))
    print("PID:%d,我是卖报的小行家,大风大雨都不怕" % os.getpid())
if __name__ == '__main__':
    main()
