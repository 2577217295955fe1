import os
import socket
import sys
import time

# What each user does: (seconds after the start, message); the last entry is when they quit.
SCRIPTS = {
    "Tom": (0.2, [(0.9, "hello everyone"), (2.2, None)]),
    "Ann": (0.4, [(1.6, "hi Tom!"), (2.5, None)]),
    "Bob": (0.6, [(1.9, "bye, I have homework"), (2.0, None)]),
}


def at(start, t):
    time.sleep(max(0, start + t - time.time()))


def main():
    port, start, names = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    server = ("127.0.0.1", port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    at(start, SCRIPTS[names[-1]][0])
    for name in names:                        # try the names until the server accepts one
        s.sendto(("L " + name).encode(), server)
        answer, _ = s.recvfrom(1024)
        if answer == b"OK":
            print("[%s %d] entered the chat room" % (name, os.getpid()))
            break
        print("[client %d] the name %s is taken, trying another" % (os.getpid(), name))
    else:
        print("[client %d] no free name, giving up" % os.getpid())
        sys.exit(1)

    pid = os.fork()
    if pid == 0:                              # child: receive and print, until EXIT
        while True:
            data, _ = s.recvfrom(2048)
            if data == b"EXIT":
                break
            print("[%s sees] %s" % (name, data.decode()))
        os._exit(0)

    for t, text in SCRIPTS[name][1]:          # parent: "type" the messages
        at(start, t)
        if text is None:
            s.sendto(("Q " + name).encode(), server)
        else:
            s.sendto(("C %s %s" % (name, text)).encode(), server)
    os.wait()                                 # the receiver ends when the server sends EXIT
    print("[%s %d] left" % (name, os.getpid()))


if __name__ == "__main__":
    main()
