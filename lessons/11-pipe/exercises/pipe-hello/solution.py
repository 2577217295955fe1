import os

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"hello\n")
    os._exit(0)
os.close(w)
data = b""
while chunk := os.read(r, 100):
    data += chunk
os.waitpid(pid, 0)
print("got:", data.decode().strip())
