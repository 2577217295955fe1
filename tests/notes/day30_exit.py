# day29-30 笔记 (seeds/002), 进程退出 示例 exit.py
import os, sys

# 结束进程后不在执行后面的内容
# os._exit(0)

try:
    sys.exit("exit.py")
except SystemExit as e:
    print('退出:', e)

print("process exit")
