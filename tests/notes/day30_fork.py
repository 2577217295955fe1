# day29-30 笔记 (seeds/002), 多进程编程 示例 fork.py
import os
import time

print('***************************')  # 打印一遍
a = 1

pid = os.fork()

if pid < 0:
    print("进程创建失败")
elif pid == 0:
    print("这是新的进程")
    print('a =', a)  # 1
    a = 10000
else:
    time.sleep(1)
    print('这是原有进程')
    print('a = ', a)  # 1

print('演示完毕')
