"""The story the events tell must be the kernel's: states, reasons, tree, IPC, signals (real runs)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
from conftest import SCHEMA, of, output, run_source


def states(events: list[dict], pid: int) -> list[dict]:
    return [e for e in of(events, "proc.state") if e["pid"] == pid]


def child_pid(events: list[dict]) -> int:
    root = of(events, "run.started")[0]["root_pid"]
    return next(e["pid"] for e in of(events, "proc.spawn") if e["pid"] != root)


def test_blocked_reasons_pipe_wait_sleep(tmp_path: Path) -> None:
    src = """import os, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    data = os.read(r, 100)      # blocks until the parent writes
    print("child got", data)
    time.sleep(0.3)             # so the parent's wait lasts long enough to be seen
    os._exit(5)
os.close(r)
time.sleep(0.4)
os.write(w, b"hello pipe")
os.waitpid(pid, 0)
"""
    events = run_source(src, tmp_path)
    child = child_pid(events)
    root = of(events, "run.started")[0]["root_pid"]
    reasons = [e["reason"] or "" for e in states(events, child) if e["state"] == "blocked"]
    assert any(r.startswith("reading pipe #") for r in reasons), reasons
    root_reasons = [e["reason"] or "" for e in states(events, root) if e["state"] == "blocked"]
    assert "sleeping" in root_reasons
    assert any("waiting for" in r and "wait4" in r for r in root_reasons), root_reasons
    transfers = of(events, "ipc.transfer")
    assert {(t["direction"], t["bytes"]) for t in transfers} >= {("write", 10), ("read", 10)}
    assert all(t["channel"].startswith("pipe#") for t in transfers)
    assert transfers[0]["line"]["file"] == "main.py"
    exits = [e for e in of(events, "proc.exit") if e["pid"] == child]
    assert exits[0]["code"] == 5
    reaped = [e for e in of(events, "proc.reaped") if e["pid"] == child]
    assert reaped[0]["by"] == root and reaped[0]["call"] == "waitpid"
    for e in events:
        jsonschema.validate(e, SCHEMA)


def test_fifo_open_waits_for_a_writer(tmp_path: Path) -> None:
    src = """import os, time
os.mkfifo("fifo_file")
pid = os.fork()
if pid == 0:
    fd = os.open("fifo_file", os.O_RDONLY)   # blocks until a writer opens it
    print(os.read(fd, 100))
    os._exit(0)
time.sleep(0.4)
fd = os.open("fifo_file", os.O_WRONLY)
os.write(fd, b"via fifo")
os.close(fd)
os.wait()
"""
    events = run_source(src, tmp_path)
    child = child_pid(events)
    reasons = [e["reason"] or "" for e in states(events, child)]
    assert any("opening FIFO 'fifo_file', waiting for a writer" in r for r in reasons), reasons
    assert any(c["kind"] == "fifo" for c in of(events, "ipc.channel"))


def test_zombie_exit_code_and_stopped_state(tmp_path: Path) -> None:
    src = """import os, signal, time
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(42)
time.sleep(0.3)
os.kill(pid, signal.SIGCONT)
time.sleep(0.3)
os.waitpid(pid, 0)
"""
    events = run_source(src, tmp_path)
    child = child_pid(events)
    seen = [e["state"] for e in states(events, child)]
    assert "stopped" in seen and "zombie" in seen
    assert seen.index("stopped") < seen.index("zombie")
    zombie = next(e for e in states(events, child) if e["state"] == "zombie")
    assert zombie["stat"] == "Z"
    assert next(e for e in of(events, "proc.exit") if e["pid"] == child)["code"] == 42
    sent = [e for e in of(events, "signal.sent")]
    assert {e["signal"] for e in sent} >= {"SIGSTOP", "SIGCONT"}


def test_running_and_ready_from_schedstat(tmp_path: Path) -> None:
    # More CPU-bound processes than cores, pinned to one CPU: they must take turns (ready).
    src = """import os, time
os.sched_setaffinity(0, {0})
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 0.8
        while time.monotonic() < end:
            pass
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
"""
    events = run_source(src, tmp_path)
    seen = {e["state"] for e in of(events, "proc.state")}
    assert {"running", "ready"} <= seen, seen


def test_exec_argv_and_signal_handlers(tmp_path: Path) -> None:
    src = """import os, signal, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
pid = os.fork()
if pid == 0:
    os.execlp("ls", "ls", "-1", "/proc/self/")
os.waitpid(pid, 0)
print("handled", got)
"""
    events = run_source(src, tmp_path)
    execs = of(events, "proc.exec")
    assert execs and execs[0]["argv"][:2] == ["ls", "-1"]
    assert execs[0]["line"]["line"] == 7
    assert any(e["signal"] == "SIGUSR1" and e["action"] == "handler" for e in of(events, "signal.handled"))
    assert any(e["signal"] == "SIGUSR1" and e["handler"] == "<lambda>" for e in of(events, "signal.handler"))
    ls_pid = execs[0]["pid"]
    assert any(e["pid"] == ls_pid and "status" in e["text"] for e in of(events, "io.output"))
    assert "handled [10]" in output(events)


def test_threads_are_seen(tmp_path: Path) -> None:
    src = """import threading, time
def spin():
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=spin) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
"""
    events = run_source(src, tmp_path)
    assert len({e["tid"] for e in of(events, "proc.thread.spawn")}) == 3
    assert len({e["tid"] for e in of(events, "proc.thread.exit")}) == 3
    thread_states = {e["state"] for e in of(events, "proc.thread.state")}
    assert "running" in thread_states


def test_multiprocessing_queue_and_subprocess_python(tmp_path: Path) -> None:
    src = """import multiprocessing as mp, subprocess
def work(q):
    q.put("from child")
if __name__ == "__main__":
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=work, args=(q,))
    p.start()
    print(q.get())
    p.join()
    subprocess.run(["python", "child.py"], check=True)
"""
    events = run_source(src, tmp_path, ("child.py", "import os\nprint('child.py pid', os.getpid())\n"))
    ops = of(events, "ipc.op")
    assert any(e["op"] == "put" for e in ops) and any(e["op"] == "get" and "from child" in str(e["value"])
                                                     for e in ops)
    assert "child.py pid" in output(events)
    py = [e for e in of(events, "proc.exec") if "child.py" in " ".join(e["argv"])]
    assert py, of(events, "proc.exec")
    out_pid = next(e["pid"] for e in of(events, "io.output") if "child.py pid" in e["text"])
    assert out_pid == py[0]["pid"]
