import os
import select
import socket
import time


def client(port, i):
    """A child process: connect, wait a little, send one line, read the echo, hang up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))
    time.sleep(0.2 + 0.2 * i)                 # the clients speak one after the other
    s.send(b"hello from client %d" % i)
    reply = s.recv(1024)
    print("[client %d, pid %d] got back: %s" % (i, os.getpid(), reply.decode()))
    s.close()


def serve_select(listener, n):
    rlist = [listener]                        # the sockets we want to read from
    closed = 0
    while closed < n:
        readable, _, _ = select.select(rlist, [], [])   # block until at least one is ready
        for s in readable:
            if s is listener:                 # a new connection is waiting: accept cannot block now
                conn, addr = listener.accept()
                rlist.append(conn)
            else:
                data = s.recv(1024)           # data is there: recv cannot block now
                if data:
                    s.send(data.upper())
                    print("[server] select: echoed %d bytes" % len(data))
                else:                         # b"": the client closed the connection
                    rlist.remove(s)
                    s.close()
                    closed += 1


def serve_poll(listener, n):
    p = select.poll()
    p.register(listener, select.POLLIN)
    sockets = {listener.fileno(): listener}   # poll returns fd numbers: map them back to sockets
    closed = 0
    while closed < n:
        for fd, event in p.poll():            # block until events: [(fd, event), ...]
            s = sockets[fd]
            if s is listener:
                conn, addr = listener.accept()
                sockets[conn.fileno()] = conn
                p.register(conn, select.POLLIN)
            else:
                data = s.recv(1024)
                if data:
                    s.send(data.upper())
                    print("[server] poll: echoed %d bytes" % len(data))
                else:
                    p.unregister(fd)
                    del sockets[fd]
                    s.close()
                    closed += 1


def serve_epoll(listener, n):
    ep = select.epoll()                       # same use as poll, EPOLL* constants
    ep.register(listener.fileno(), select.EPOLLIN)
    sockets = {listener.fileno(): listener}
    closed = 0
    while closed < n:
        for fd, event in ep.poll():
            s = sockets[fd]
            if s is listener:
                conn, addr = listener.accept()
                sockets[conn.fileno()] = conn
                ep.register(conn.fileno(), select.EPOLLIN)
            else:
                data = s.recv(1024)
                if data:
                    s.send(data.upper())
                    print("[server] epoll: echoed %d bytes" % len(data))
                else:
                    ep.unregister(fd)
                    del sockets[fd]
                    s.close()
                    closed += 1
    ep.close()


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))           # port 0: the kernel picks a free port
    listener.listen(5)
    port = listener.getsockname()[1]
    print("[server %d] listening on 127.0.0.1, one process, many clients" % os.getpid())

    for name, serve in (("select", serve_select), ("poll", serve_poll), ("epoll", serve_epoll)):
        pids = []
        for i in range(3):
            pid = os.fork()
            if pid == 0:
                listener.close()
                client(port, i)
                os._exit(0)
            pids.append(pid)
        serve(listener, 3)
        for pid in pids:
            os.waitpid(pid, 0)
        print("[server] %s: all 3 clients served by one process" % name)
    listener.close()


if __name__ == "__main__":
    main()
