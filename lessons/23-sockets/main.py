import os
import socket
import time


def handle(conn, addr):
    """Runs in a process of its own: serve one client until it hangs up."""
    print("[handler %d] serving the client from port %d" % (os.getpid(), addr[1]))
    while True:
        data = conn.recv(1024)                # b"" when the client has closed the connection
        if not data:
            break
        conn.send(b"echo: " + data)
    conn.close()
    print("[handler %d] client left, I exit" % os.getpid())


def tcp_client(port, name, delay):
    time.sleep(delay)                         # the clients arrive one after the other
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))            # the three-way handshake happens here
    for word in ("hi", "bye"):
        s.send(("%s says %s" % (name, word)).encode())
        print("[%s %d] %s" % (name, os.getpid(), s.recv(1024).decode()))
        time.sleep(0.3)
    s.close()


def main():
    # ---------------- TCP: one process per client ----------------
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))           # port 0: the kernel chooses a free port
    listener.listen(5)
    port = listener.getsockname()[1]
    print("[server %d] TCP listening on 127.0.0.1:<port>" % os.getpid())

    for i, name in enumerate(("Tom", "Ann", "Bob")):   # three client processes
        if os.fork() == 0:
            listener.close()
            tcp_client(port, name, 0.3 + 0.2 * i)
            os._exit(0)

    for _ in range(3):
        conn, addr = listener.accept()        # blocks until a client connects
        if os.fork() == 0:                    # a new process just for this client
            listener.close()                  # the handler does not accept connections
            handle(conn, addr)
            os._exit(0)
        conn.close()                          # the server does not talk to this client itself
    listener.close()

    # ---------------- UDP: no connection, just datagrams ----------------
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    uport = udp.getsockname()[1]
    if os.fork() == 0:
        for _ in range(2):
            data, addr = udp.recvfrom(1024)   # one whole datagram, and who sent it
            udp.sendto(b"got " + data, addr)
        os._exit(0)
    udp.close()
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in (1, 2):
        c.sendto(b"ping %d" % i, ("127.0.0.1", uport))   # no connect(): every datagram carries an address
        data, addr = c.recvfrom(1024)
        print("[server %d] UDP reply: %s" % (os.getpid(), data.decode()))
    c.close()

    n = 0
    while True:                               # collect every child: clients, handlers, UDP server
        try:
            os.wait()
            n += 1
        except ChildProcessError:
            break
    print("[server %d] collected %d child processes" % (os.getpid(), n))


if __name__ == "__main__":
    main()
