# Linux/IO/网络/多任务 笔记 (seeds/003), UDP套接字广播: 代码示例 (发送端)
# 发送端
import socket
import time
destination = ('192.168.16.255', 9999)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
data = b'hello world'
while True:
    time.sleep(2)
    s.sendto(data, destination)
