import os
import socket
import subprocess
import sys
import time


def admin(server_addr, start):
    """The server's child process: sends an announcement to everyone (the notes' extension)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    time.sleep(max(0, start + 1.3 - time.time()))
    s.sendto("A the room closes at 6 pm".encode(), server_addr)
    s.close()


def serve(sock, start):
    users = {}                                # name -> (ip, port) of the client
    pid = os.fork()
    if pid == 0:
        admin(sock.getsockname(), start)
        os._exit(0)
    while True:
        data, addr = sock.recvfrom(1024)
        kind, _, rest = data.decode().partition(" ")
        if kind == "L":                       # L name: log in
            if rest in users:
                sock.sendto(b"FAIL", addr)
                print("[server %d] name %s is already taken" % (os.getpid(), rest))
                continue
            sock.sendto(b"OK", addr)
            for a in users.values():
                sock.sendto(("%s joined the chat room" % rest).encode(), a)
            users[rest] = addr
            print("[server %d] %s logged in, %d online" % (os.getpid(), rest, len(users)))
        elif kind == "C":                     # C name text: a message for everyone else
            name, _, text = rest.partition(" ")
            for n, a in users.items():
                if n != name:
                    sock.sendto(("%s says: %s" % (name, text)).encode(), a)
        elif kind == "A":                     # A text: an announcement from the administrator
            for a in users.values():
                sock.sendto(("Admin message: %s" % rest).encode(), a)
        elif kind == "Q":                     # Q name: log out
            if rest in users:
                sock.sendto(b"EXIT", users.pop(rest))   # tells the client's receiver to stop
                for a in users.values():
                    sock.sendto(("%s left the chat room" % rest).encode(), a)
                print("[server %d] %s logged out, %d online" % (os.getpid(), rest, len(users)))
        elif kind == "STOP":
            break
    os.waitpid(pid, 0)                        # collect the admin process
    print("[server %d] stopped" % os.getpid())


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    start = time.time() + 0.5                 # the common clock of the scripts (leaves time to start up)
    server = os.fork()
    if server == 0:
        serve(sock, start)
        os._exit(0)

    # three scripted clients, separate programs: client.py PORT START NAME...
    clients = []
    try:
        for names in (["Tom"], ["Ann"], ["Tom", "Bob"]):
            clients.append(subprocess.Popen(["python", "client.py", str(port), repr(start)] + names))
        for c in clients:
            c.wait()
    finally:                                  # even if something failed: stop the server
        sock.sendto(b"STOP", ("127.0.0.1", port))
        os.waitpid(server, 0)
    print("[main %d] everybody has left; exit codes %s" % (os.getpid(), [c.returncode for c in clients]))


if __name__ == "__main__":
    main()
