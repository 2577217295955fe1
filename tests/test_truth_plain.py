"""Issue 13, points 3 and 4: inside a run, the numbers and names are those of a plain Linux, and
nothing of ProcLab shows (real runs through `python -m app run`, real kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import of, output, run_source


def test_fds_nice_argv_and_user_are_plain(tmp_path: Path) -> None:
    src = """import os, sys, socket, pwd, grp
print("pipe", os.pipe())
s = socket.socket()
print("socket", s.fileno())
print("nice", os.nice(0))
print("argv", sys.argv)
print("file", os.path.basename(__file__), os.path.isabs(__file__))
print("user", pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
"""
    events = run_source(src, tmp_path)
    started = of(events, "run.started")[0]
    out = output(events)
    assert "pipe (3, 4)\n" in out, out
    assert "socket 5\n" in out, out  # 3 and 4 are still the pipe's, as on a plain Linux
    assert "argv ['main.py']\n" in out and "file main.py True\n" in out, out
    assert started["nice"] == int(out.split("nice ")[1].split()[0]), (started, out)
    if "cgroup" in started["layers"]:
        assert "nice 0\n" in out, out  # the runs' cgroup carries the low CPU weight instead
    if started["pid_ns"]:
        assert "user student student\n" in out, out


def test_nice_wrapper_shows_its_value(tmp_path: Path) -> None:
    events = run_source("import os\nos.system('nice -n 9 nice')\n", tmp_path)
    started = of(events, "run.started")[0]
    assert output(events).strip() == str(min(19, started["nice"] + 9)), output(events)


def test_ps_shows_init_and_a_named_user(tmp_path: Path) -> None:
    events = run_source("import os\nopen('f.txt', 'w').close()\nos.system('ps aux; ls -l f.txt')\n", tmp_path)
    started = of(events, "run.started")[0]
    out = output(events)
    assert "sys.path.insert" not in out and "app.sandbox" not in out and "/run/proclab" not in out, out
    if started["pid_ns"]:
        pid1 = next(line for line in out.splitlines() if line.split()[1:2] == ["1"])
        assert pid1.split()[0] == "root" and pid1.split()[10:] == ["init"], pid1
        main = next(line for line in out.splitlines() if line.endswith("python3 main.py"))
        assert main.split()[0] == "student", main
        assert " student student " in out.splitlines()[-1], out


def test_tracebacks_show_only_the_programs_frames(tmp_path: Path) -> None:
    src = """import os, threading, traceback
def worker():
    raise ValueError("in a thread")
t = threading.Thread(target=worker)
t.start(); t.join()
try:
    os.wait()
except ChildProcessError:
    traceback.print_exc()
r, w = os.pipe()
if os.fork() == 0:
    os.read(r, 1)
os.write(w, b"x")
os.wait()
"""
    events = run_source(src, tmp_path)
    out = output(events)
    assert "ValueError: in a thread" in out and "ChildProcessError" in out, out
    assert "shim" not in out and "sandbox" not in out and "runner" not in out and "runpy" not in out, out
    files = [line.split('"')[1] for line in out.splitlines() if line.startswith('  File "')]
    assert files and all(f.endswith("main.py") or f.endswith("threading.py") for f in files), files


def test_keyboard_interrupt_in_read_shows_no_shim_frame(tmp_path: Path) -> None:
    src = """import os, signal
r, w = os.pipe()
signal.setitimer(signal.ITIMER_REAL, 0.2)
signal.signal(signal.SIGALRM, lambda s, f: os.kill(os.getpid(), signal.SIGINT))
os.read(r, 10)
"""
    events = run_source(src, tmp_path)
    out = output(events)
    assert "KeyboardInterrupt" in out, out
    files = [line.split('"')[1] for line in out.splitlines() if line.startswith('  File "')]
    assert files and all(f.endswith("main.py") for f in files), out
    root = of(events, "run.started")[0]["root_pid"]
    assert [e["signal"] for e in of(events, "proc.exit") if e["pid"] == root] == ["SIGINT"]


def test_healthz_says_what_keeps_the_server_responsive(server) -> None:  # noqa: ANN001
    cg = server.http.get("/healthz").json()["layers"].get("cgroup") or {}
    events = server.run({"files": {"main.py": "import os\nprint(os.nice(0))\n"}, "main": "main.py"})
    started = of(events, "run.started")[0]
    if cg.get("ok") and cg.get("cpu_weight"):
        assert "runs start at nice 0" in cg["detail"] and started["nice"] == 0, (cg, started)
    else:
        assert started["nice"] > 0  # no weight: the configured nice does the job, and the run says so
    assert output(events) == f"{started['nice']}\n"


def test_the_run_lives_in_a_home_and_tracebacks_say_so(tmp_path: Path) -> None:
    """With a mount namespace the run's directory is /home/student: its cwd, HOME, the passwd entry's home and
    the traceback's path, as for a student's `python3 main.py` in a terminal; `sys.argv[0]` stays as typed."""
    src = """import os, sys, pwd
print("cwd", os.getcwd(), os.environ["HOME"], pwd.getpwuid(os.getuid()).pw_dir)
print("argv", sys.argv[0], __file__)
os.mkfifo("fifo_file")
print("listed", sorted(os.listdir(os.getcwd())))
raise SystemExit(os.system("ls -l main.py | cut -d' ' -f3") or 1 / 0)
"""
    events = run_source(src, tmp_path)
    started = of(events, "run.started")[0]
    out = output(events)
    if not started["pid_ns"]:
        pytest.skip("no mount namespace here: the run stays in its sandbox directory (docs/deploy.md)")
    assert "cwd /home/student /home/student /home/student\n" in out, out
    assert "argv main.py /home/student/main.py\n" in out, out
    assert "listed ['fifo_file', 'main.py']\n" in out and "student\n" in out, out
    assert '  File "/home/student/main.py", line 6, in <module>\n' in out, out
    assert [c["name"] for c in of(events, "ipc.channel") if c["kind"] == "fifo"] == ["fifo_file"]
    assert not of(events, "run.error"), of(events, "run.error")
