import os
import signal
import time


def on_usr1(signum, frame):
    print("caught", signal.Signals(signum).name)


signal.signal(signal.SIGUSR1, on_usr1)
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.2)
print("still alive")
