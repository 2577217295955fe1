import os
import sys
import time


def main():
    read_fd, write_fd = os.pipe()
    me = os.getpid()

    i = 0
    while i < 2:
        pid = os.fork()
        if pid == 0:
            break
        i += 1

    if i == 0:
        # child 0 becomes `grep python`: its standard input will be the pipe
        print("[child0 %d] I will become: grep python" % os.getpid())
        os.close(write_fd)                       # I only read
        os.dup2(read_fd, sys.stdin.fileno())     # fd 0 now refers to the pipe's read end
        os.close(read_fd)
        os.execlp("grep", "grep", "python", "--color=auto")
        print("never printed: exec replaced this program")

    elif i == 1:
        # child 1 becomes `ps`: its standard output will be the pipe
        print("[child1 %d] I will become: ps" % os.getpid())
        os.close(read_fd)                        # I only write
        os.dup2(write_fd, sys.stdout.fileno())   # fd 1 now refers to the pipe's write end
        os.close(write_fd)
        # our own little family instead of `ps aux` (all processes of the machine)
        os.execlp("ps", "ps", "-o", "pid,ppid,stat,comm", "-p", str(me), "--ppid", str(me))
        print("never printed: exec replaced this program")

    else:
        print("[parent %d] ps | grep python, built by hand" % me)
        os.close(read_fd)                        # the parent neither reads nor writes
        os.close(write_fd)
        polls = 0
        done = 0
        while done < 2:
            pid, status = os.waitpid(-1, os.WNOHANG)   # collect without blocking
            if pid > 0:
                done += 1
                print("[parent %d] collected %d, exit code %d" % (me, pid, os.waitstatus_to_exitcode(status)))
            else:
                polls += 1                              # "doing other things..."
                time.sleep(0.005)
        print("[parent %d] done (%d polls while waiting)" % (me, polls))


if __name__ == "__main__":
    main()
