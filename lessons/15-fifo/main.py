import os
import stat
import subprocess
import time

FIFO = "fifo_file"


def main():
    if not os.path.exists(FIFO):
        os.mkfifo(FIFO)                       # a named pipe: a special file in this directory
    st = os.stat(FIFO)
    print("[main %d] created %s: FIFO? %s, size %d bytes, mode %s"
          % (os.getpid(), FIFO, stat.S_ISFIFO(st.st_mode), st.st_size, stat.filemode(st.st_mode)))

    # two separate programs: they share nothing but the name of the FIFO
    reader = subprocess.Popen(["python", "reader.py"])
    time.sleep(0.8)                           # the reader waits in open() meanwhile
    try:
        writer = subprocess.Popen(["python", "writer.py"])
    except OSError:
        reader.kill()                         # otherwise the reader would wait in open() for ever
        raise

    writer.wait()
    reader.wait()
    print("[main %d] reader exit code %d, writer exit code %d" % (os.getpid(), reader.returncode, writer.returncode))
    print("[main %d] FIFO size after all that: %d bytes" % (os.getpid(), os.stat(FIFO).st_size))
    os.remove(FIFO)


if __name__ == "__main__":
    main()
