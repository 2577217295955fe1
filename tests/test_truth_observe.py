"""Issue 13, points 4-8: what the notes teach is what the events show (real runs, real kernel)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SCHEMA, Server, of, output, run_source


def channels(events: list[dict], kind: str) -> list[dict]:
    return [e for e in of(events, "ipc.channel") if e["kind"] == kind]


def whys(events: list[dict], pid: int | None = None) -> list[dict]:
    return [e["why"] for e in of(events, "proc.state") if e.get("why") and (pid is None or e["pid"] == pid)]


def test_value_and_array_from_the_package_are_channels_and_library_pipes_are_not(tmp_path: Path) -> None:
    src = """from multiprocessing import Process, Value, Array
def f(n, a):
    n.value = 3.14
    for i in range(len(a)):
        a[i] = -a[i]
num = Value('d', 0.0)
arr = Array('i', range(10))
p = Process(target=f, args=(num, arr))
p.start()
p.join()
print(num.value, arr[:])
"""
    events = run_source(src, tmp_path)
    assert "3.14 [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]" in output(events)
    assert [c["line"]["line"] for c in channels(events, "value")] == [6]
    assert [c["line"]["line"] for c in channels(events, "array")] == [7]
    assert channels(events, "pipe") == [], "a Process's own sentinel pipes are not the lesson's IPC"


def test_threading_objects_are_channels_and_a_semaphore_wait_says_so(tmp_path: Path) -> None:
    src = """import threading, time
from multiprocessing import Process, Semaphore
lock = threading.Lock()
ev = threading.Event()
cond = threading.Condition()
def worker():
    with lock:
        time.sleep(0.05)
    ev.set()
t = threading.Thread(target=worker)
t.start()
ev.wait()
with cond:
    cond.notify_all()
t.join()
sem = Semaphore(1)
def holder(s):
    with s:
        time.sleep(0.8)
p = Process(target=holder, args=(sem,))
p.start()
time.sleep(0.3)
sem.acquire()
sem.release()
p.join()
ts = threading.Semaphore(0)
threading.Timer(0.6, ts.release).start()
ts.acquire()
"""
    events = run_source(src, tmp_path)
    ops = {(c["kind"], e["op"]) for e in of(events, "ipc.op")
           for c in of(events, "ipc.channel") if c["channel"] == e["channel"]}
    assert {("lock", "acquire"), ("lock", "release"), ("event", "set"), ("event", "wait"),
            ("condition", "notify_all"), ("semaphore", "acquire"), ("semaphore", "release")} <= ops, ops
    root = of(events, "run.started")[0]["root_pid"]
    sem_waits = [w for w in whys(events, root) if w["code"] == "semaphore"]
    assert sem_waits, whys(events, root)
    sems = [c["channel"] for c in channels(events, "semaphore")]
    assert {w["channel"] for w in sem_waits} <= set(sems) and len(sems) == 2, (sem_waits, sems)
    assert all(w["text"] == f"waiting on semaphore #{w['channel'].split('#')[1]}" for w in sem_waits)
    for e in events:
        jsonschema.validate(e, SCHEMA)


def test_sigchld_ignored_keeps_the_exit_code(tmp_path: Path) -> None:
    src = """import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    time.sleep(0.1)
    os._exit(3)
time.sleep(0.5)
"""
    events = run_source(src, tmp_path)
    root = of(events, "run.started")[0]["root_pid"]
    kid = next(e["pid"] for e in of(events, "proc.spawn") if e["pid"] != root)
    assert not [e for e in of(events, "proc.state") if e["pid"] == kid and e["state"] == "zombie"]
    assert [(e["code"], e["signal"]) for e in of(events, "proc.exit") if e["pid"] == kid] == [(3, None)]


def test_a_zombie_adopted_by_init_is_reparented_before_it_is_reaped(tmp_path: Path) -> None:
    src = """import os, time
if os.fork() == 0:
    os._exit(7)
time.sleep(0.4)   # the child is a zombie; the parent never waits and exits
"""
    events = run_source(src, tmp_path)
    started = of(events, "run.started")[0]
    root, init = started["root_pid"], started["init_pid"]
    kid = next(e["pid"] for e in of(events, "proc.spawn") if e["pid"] != root)
    mine = [e for e in events if e.get("pid") == kid and e["type"] in ("proc.reparent", "proc.reaped", "proc.exit")]
    assert [e["type"] for e in mine] == ["proc.exit", "proc.reparent", "proc.reaped"], mine
    assert mine[1]["new_ppid"] == init and mine[2]["by"] == init and mine[0]["code"] == 7


def test_fifos_and_unix_sockets_are_named_as_the_program_named_them(tmp_path: Path) -> None:
    src = """import os, socket, time
os.mkfifo("fifo_file")
if os.fork() == 0:
    fd = os.open("fifo_file", os.O_RDONLY)
    os.read(fd, 10)
    time.sleep(0.2)
    s = socket.socket(socket.AF_UNIX)
    s.connect("./sock")
    s.sendall(b"hi")
    os._exit(0)
srv = socket.socket(socket.AF_UNIX)
srv.bind("./sock")
srv.listen()
time.sleep(0.3)
fd = os.open("fifo_file", os.O_WRONLY)
os.write(fd, b"x")
conn, _ = srv.accept()
print(conn.recv(10))
os.wait()
"""
    events = run_source(src, tmp_path)
    assert [c["name"] for c in channels(events, "fifo")] == ["fifo_file"]
    assert "./sock" in [c["name"] for c in channels(events, "socket")]
    assert {e["value"] for e in of(events, "ipc.op") if e["op"] in ("bind", "connect")} == {"./sock"}
    for w in whys(events):
        for key in ("name", "path"):
            assert "/run/" not in str(w.get(key, "")), w


def test_a_reused_fd_is_never_named_in_a_wait(tmp_path: Path) -> None:
    # The parent blocks reading a pipe on fd 3, then makes fd 3 a regular file for a moment, 200
    # times: a sample that reads /proc/PID/syscall during one and /proc/PID/fd/3 during the other
    # must not say "reading FIFO 'main.py'". There is no FIFO in this program at all.
    src = """import os, time
r, w = os.pipe()
if os.fork() == 0:
    os.close(r)
    for i in range(200):
        time.sleep(0.004)
        os.write(w, b"x")
    os._exit(0)
os.close(w)
for i in range(200):
    os.read(r, 1)
    keep = os.dup(r)
    os.close(r)
    fd = os.open(__file__, os.O_RDONLY)   # fd 3 again, now a regular file
    os.read(fd, 100)
    os.close(fd)
    r = os.dup(keep)                       # and the pipe again
    os.close(keep)
os.wait()
"""
    events = run_source(src, tmp_path)
    root = of(events, "run.started")[0]["root_pid"]
    reads = [w for w in whys(events, root) if w.get("syscall") == "read"]
    assert reads, whys(events, root)
    assert all(w["code"] == "pipe_read" for w in reads), [w for w in reads if w["code"] != "pipe_read"]


def test_stdin_given_up_front_is_recorded_as_input(server: Server) -> None:
    events = server.run({"files": {"main.py": "print('hello', input())\n"}, "main": "main.py", "stdin": "ada\n"})
    assert [e["text"] for e in of(events, "io.input")] == ["ada\n"]
    started = next(i for i, e in enumerate(events) if e["type"] == "run.started")
    inp = next(i for i, e in enumerate(events) if e["type"] == "io.input")
    assert started < inp
    assert output(events) == "hello ada\n"


def test_one_exec_is_reported_once(tmp_path: Path) -> None:
    # os.execlp calls os.execvp, which calls os.execve: each is wrapped, and each report used to be a
    # pending exec of its own, so a fast exec could be shown twice.
    src = """import os
kids = []
for i in range(8):
    pid = os.fork()
    if pid == 0:
        os.execlp("true", "true")
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""
    events = run_source(src, tmp_path)
    execs = [e["pid"] for e in of(events, "proc.exec")]
    assert len(execs) == 8 and len(set(execs)) == 8, of(events, "proc.exec")
    assert all(e["argv"] == ["true"] for e in of(events, "proc.exec"))


def test_a_failed_exec_is_told_with_its_errno_and_the_process_goes_on(tmp_path: Path) -> None:
    """os.execvp of a program that does not exist returns (ENOENT): the student sees the attempt, its errno and
    its line, and the child keeps running its old program; subprocess.run of one is told the same way. Searches along PATH are not failures of their own:
    subprocess's child tries each PATH directory with execve, and the shell looks a command up before its exec."""
    src = """import os, subprocess, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp("no-such-program", ["no-such-program", "-x"])
    except OSError as e:
        print("exec failed:", e.strerror)
        os._exit(127)
os.waitpid(pid, 0)
subprocess.run(["true"])
os.system("no-such-command 2>/dev/null; true")
try:
    subprocess.run(["no-such-program"])
except FileNotFoundError:
    print("not found")
try:
    subprocess.run(["true"], cwd="/no-such-dir")  # chdir failed: no exec was tried
except FileNotFoundError:
    print("no dir")
print("parent done")
"""
    events = run_source(src, tmp_path)
    for e in events:
        jsonschema.validate(e, SCHEMA)
    failed = of(events, "proc.exec.failed")
    child = next(e["pid"] for e in of(events, "proc.spawn") if e["line"] and e["line"]["line"] == 2)
    # subprocess's own child failed its exec in C code (_posixsubprocess); its parent tells of it.
    root = of(events, "run.started")[0]["root_pid"]
    died_255 = [e["pid"] for e in of(events, "proc.exit") if e["code"] == 255]
    sp_child = next(e["pid"] for e in of(events, "proc.spawn") if e["ppid"] == root and e["pid"] in died_255)
    assert [(e["pid"], e["argv"], e["path"], e["error"], e["errno"], e["line"]["line"]) for e in failed] == \
        [(child, ["no-such-program", "-x"], "no-such-program", "ENOENT", 2, 5),
         (sp_child, ["no-such-program"], "no-such-program", "ENOENT", 2, 13)], failed
    # Told after the child's end (the parent learns it then), never before its spawn.
    seq = {(e["type"], e["pid"]): e["seq"] for e in events if "pid" in e}
    assert seq[("proc.spawn", sp_child)] < seq[("proc.exit", sp_child)] < seq[("proc.exec.failed", sp_child)]
    assert not [e for e in of(events, "proc.exec") if e["pid"] == child]  # it never became another program
    assert [e["code"] for e in of(events, "proc.exit") if e["pid"] == child] == [127]
    assert ["true"] in [e["argv"] for e in of(events, "proc.exec")]
    assert output(events) == "exec failed: No such file or directory\nnot found\nno dir\nparent done\n"
    # subprocess's child whose exec failed lived about a millisecond: it is in the tree, with a name (its
    # parent's program, which it ran until it died), and reaped.
    assert all(e["name"] for e in of(events, "proc.spawn")), of(events, "proc.spawn")
    reaped = {e["pid"] for e in of(events, "proc.reaped")}
    assert {e["pid"] for e in of(events, "proc.spawn")} <= reaped


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine to build the vfork program")
def test_a_parent_in_vfork_is_starting_its_child(tmp_path: Path) -> None:
    # What subprocess does (vfork, then exec in the child), with a child that takes a second
    # before its exec: its parent is "starting child N", not in an uninterruptible disk wait.
    src = '''import subprocess
open("vf.c", "w").write(r"""
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    pid_t pid = vfork();
    if (pid == 0) {
        sleep(1);
        execl("/bin/true", "true", (char *)0);
        _exit(127);
    }
    waitpid(pid, 0, 0);
    return 0;
}
""")
subprocess.run(["cc", "-o", "vf", "vf.c"], check=True)
subprocess.run(["./vf"], check=True)
'''
    events = run_source(src, tmp_path)
    assert of(events, "run.finished")[0]["status"] == "ok"
    starting = [w for w in whys(events) if w["code"] == "child_start"]
    assert starting and starting[0]["syscall"] in ("vfork", "clone", "clone3"), whys(events)
    assert all(w["text"] == f"starting child {w['pid']}" for w in starting), starting
    # The vf child lives a second, so it is known; cc's own short-lived helpers may not be (processes
    # started from C are the native branch's part).
    spawned = {e["pid"] for e in of(events, "proc.spawn")}
    assert any(w["pid"] in spawned for w in starting), (starting, spawned)


def test_a_unix_socket_seen_before_its_bind_gets_its_path(tmp_path: Path) -> None:
    src = """import os, socket, time
srv = socket.socket(socket.AF_UNIX)
time.sleep(0.3)   # long enough for the /proc fd scan to find the socket before it has a path
srv.bind("./sock")
srv.listen()
if os.fork() == 0:
    c = socket.socket(socket.AF_UNIX)
    c.connect("./sock")
    c.sendall(b"x")
    os._exit(0)
conn, _ = srv.accept()
print(conn.recv(5))
os.wait()
"""
    events = run_source(src, tmp_path)
    first = channels(events, "socket")[0]["channel"]
    names = [c["name"] for c in channels(events, "socket") if c["channel"] == first]
    assert names[-1] == "./sock", names


def test_file_ipc_through_os_open_is_a_file_channel_with_transfers(tmp_path: Path) -> None:
    """The notes' 文件通信 also in its os-level form: os.open, a child's os.write, the parent's os.read."""
    src = """import os
fd = os.open("data.txt", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
pid = os.fork()
if pid == 0:
    os.write(fd, b"hello from child")
    os._exit(0)
os.waitpid(pid, 0)
os.lseek(fd, 0, os.SEEK_SET)
print(os.read(fd, 100).decode())
os.close(fd)
tmp = os.open("/tmp/other.bin", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(tmp, b"x")
"""
    events = run_source(src, tmp_path)
    for e in events:
        jsonschema.validate(e, SCHEMA)
    assert output(events) == "hello from child\n"
    files = channels(events, "file")
    assert [(f["name"], f["line"]["line"]) for f in files] == [("data.txt", 2), ("/tmp/other.bin", 11)]
    # Two processes' reports travel on two shim connections: compared without their order.
    child, root = of(events, "proc.spawn")[1]["pid"], of(events, "run.started")[0]["root_pid"]
    t = sorted((e["pid"], e["direction"], e["bytes"], e["preview"], e["line"]["line"])
               for e in of(events, "ipc.transfer") if e["channel"] == files[0]["channel"])
    assert t == sorted([(child, "write", 16, "hello from child", 5), (root, "read", 16, "hello from child", 9)]), t


def _every_short_exec_is_whole(events: list[dict], n: int, argv0: str) -> None:
    """Each of the run's n children: spawned by its real parent, exec'd exactly once with its true argv, exited
    with status 0 and reaped; and no event names a pid without a proc.spawn."""
    for e in events:
        jsonschema.validate(e, SCHEMA)
    root = of(events, "run.started")[0]["root_pid"]
    spawned = {e["pid"]: e for e in of(events, "proc.spawn")}
    for e in events:
        if e["type"].startswith("proc.") and "pid" in e:
            assert e["pid"] in spawned, f"{e['type']} names pid {e['pid']} that has no proc.spawn"
    kids = [p for p, e in spawned.items() if p != root]
    assert len(kids) == n, sorted(spawned)
    execs: dict[int, list[list[str]]] = {}
    for e in of(events, "proc.exec"):
        execs.setdefault(e["pid"], []).append(e["argv"])
    exits = {e["pid"]: e for e in of(events, "proc.exit")}
    reaped = {e["pid"] for e in of(events, "proc.reaped")}
    for i, k in enumerate(sorted(kids)):
        assert spawned[k]["ppid"] == root, spawned[k]
        assert execs.get(k) == [[argv0, f"x{i}"]], (k, execs.get(k))
        assert (exits[k]["code"], exits[k]["signal"]) == (0, None), exits.get(k)
        assert k in reaped, k


def test_children_that_exec_and_exit_at_once_are_each_seen_whole(tmp_path: Path) -> None:
    # A child that execs a program living well under 1 ms: its exec is told twice over (the Python shim before
    # the exec, on the old image's connection; the native shim's hello of the new image, on a new one), and the
    # supervisor may read either first. Half the children are orphans: their parent does not wait, as in the
    # notes' execl example, so the run may end as soon as the last one is gone.
    src = """import os
kids = []
for i in range(20):
    pid = os.fork()
    if pid == 0:
        os.execl("/bin/true", "true", "x%d" % i)
    kids.append(pid)
for pid in kids[:10]:
    os.waitpid(pid, 0)
"""
    _every_short_exec_is_whole(run_source(src, tmp_path), 20, "true")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_c_children_that_exec_and_exit_at_once_are_each_seen_whole(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text("""#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    pid_t kids[20];
    for (int i = 0; i < 20; i++) {
        char arg[8];
        snprintf(arg, sizeof arg, "x%d", i);
        if ((kids[i] = fork()) == 0) { execl("/bin/true", "true", arg, (char *)0); _exit(127); }
    }
    for (int i = 0; i < 10; i++) waitpid(kids[i], 0, 0);
    return 0;
}
""")
    r = subprocess.run([sys.executable, "-m", "app", "run", str(tmp_path / "main.c"), "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    _every_short_exec_is_whole([json.loads(x) for x in r.stdout.splitlines()], 20, "true")
