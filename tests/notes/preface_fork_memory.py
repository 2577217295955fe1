# 并发编程~先导篇上 (seeds/001), 1.fork: 各个进程地址空间中数据是完全独立的: the notes' program as printed (line breaks restored)
import os
def main():
    num = 100
    pid = os.fork()
    # 子进程
    if pid == 0:
        num += 10
    elif pid > 0:
        num += 20
    print("PID:%d,PPID:%d,Num=%d" % (os.getpid(), os.getppid(), num))
if __name__ == '__main__':
    main()
