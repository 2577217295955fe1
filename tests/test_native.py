"""Every process appears, however it was started; C calls are traced with their source line (real runs,
real kernel, real programs: the native shim is preloaded into them by the sandbox)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SCHEMA, Server, http_client, of, output

PID_FIELDS = ("pid", "ppid", "from", "to", "by", "result", "old_ppid", "new_ppid")


def assert_introduced(events: list[dict[str, Any]]) -> None:
    """No event names a pid that has had no proc.spawn before it (init excepted)."""
    started = of(events, "run.started")[0]
    known = {started["init_pid"], 0}
    for e in events:
        jsonschema.validate(e, SCHEMA)
        if e["type"].startswith("run."):
            continue
        if e["type"] == "proc.spawn":
            assert e["ppid"] in known, f"spawn of {e['pid']} names parent {e['ppid']} never spawned"
            known.add(e["pid"])
            continue
        for key in PID_FIELDS:
            v = e.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                assert abs(v) in known, f"{e} names pid {v} before its proc.spawn"


def spawned(events: list[dict[str, Any]], argv0: str) -> list[int]:
    return [e["pid"] for e in of(events, "proc.exec") if e["argv"] and e["argv"][0] == argv0]


def exits_and_reapers(events: list[dict[str, Any]], pid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    ex = [e for e in of(events, "proc.exit") if e["pid"] == pid]
    re = [e for e in of(events, "proc.reaped") if e["pid"] == pid]
    assert ex and re, f"pid {pid}: exit {ex}, reaped {re}"
    return ex[0], re[0]


def run_c(server: Server, c_source: str, main_py: str = "", timeout: float = 90) -> list[dict[str, Any]]:
    """Compile prog.c inside the run (gcc -g -O0) and run ./prog through os.system, as a student would."""
    src = ("import os, subprocess, sys\n"
           "subprocess.run(['gcc', '-g', '-O0', '-Wall', '-o', 'prog', 'prog.c'], check=True)\n"
           + (main_py or "sys.exit(os.waitstatus_to_exitcode(os.system('./prog')))\n"))
    return server.run({"files": {"main.py": src, "prog.c": c_source}}, timeout)


def test_os_system_children_that_live_10_ms_all_appear_with_exit_and_reaper(server: Server) -> None:
    src = """import os
for d in (0.01, 0.02, 0.05, 0.1):
    for _ in range(3):
        os.system("sleep %s" % d)
"""
    events = server.run({"files": {"main.py": src}})
    assert_introduced(events)
    sleeps = spawned(events, "sleep")
    assert len(sleeps) == 12, [e["argv"] for e in of(events, "proc.exec")]
    for pid in sleeps:
        ex, re = exits_and_reapers(events, pid)
        assert ex["code"] == 0
        sh = next(e for e in of(events, "proc.spawn") if e["pid"] == pid)["ppid"]
        assert re["by"] == sh  # the shell's own wait reaped it
    shells = spawned(events, "sh")
    assert len(shells) == 12
    root = of(events, "run.started")[0]["root_pid"]
    for pid in shells:
        ex, re = exits_and_reapers(events, pid)
        assert ex["code"] == 0 and re["by"] == root  # system() reaped it inside libc: seen by the supervisor


def test_output_of_a_program_started_by_os_system_is_its_own(server: Server) -> None:
    events = server.run({"files": {"main.py": "import os\nprint('parent', flush=True)\nos.system('ls; sleep 0.02')\n"}})
    assert_introduced(events)
    (ls,) = spawned(events, "ls")
    assert next(e for e in of(events, "proc.exec") if e["pid"] == ls)["argv"] == ["ls"]
    by_pid: dict[int, str] = {}
    for e in of(events, "io.output"):
        by_pid[e["pid"]] = by_pid.get(e["pid"], "") + e["text"]
    assert "main.py" in by_pid.get(ls, ""), by_pid
    root = of(events, "run.started")[0]["root_pid"]
    assert by_pid[root] == "parent\n"
    assert len(spawned(events, "sleep")) == 1


def test_ps_pstree_top_and_a_pipeline_show_every_process_and_keep_the_pipeline_pipe(server: Server) -> None:
    src = """import os
for cmd in ("ps -aux", "ps -ajx", "pstree", "top -b -n 1", "kill -l", "ps aux | grep -c python"):
    os.system(cmd)
"""
    events = server.run({"files": {"main.py": src}})
    assert_introduced(events)
    argvs = [e["argv"] for e in of(events, "proc.exec")]
    for want in (["ps", "-aux"], ["ps", "-ajx"], ["pstree"], ["top", "-b", "-n", "1"], ["ps", "aux"],
                 ["grep", "-c", "python"], ["sh", "-c", "kill -l"]):
        assert want in argvs, argvs
    assert len(of(events, "proc.spawn")) >= 10
    by_pid: dict[int, str] = {}
    for e in of(events, "io.output"):
        by_pid[e["pid"]] = by_pid.get(e["pid"], "") + e["text"]
    root = of(events, "run.started")[0]["root_pid"]
    assert root not in by_pid, "the children's output was credited to the Python parent"
    ps_aux = [e["pid"] for e in of(events, "proc.exec") if e["argv"] == ["ps", "aux"]][0]
    grep = spawned(events, "grep")[0]
    assert ps_aux not in by_pid  # its stdout is the pipeline's pipe, read by grep, not ProcLab's
    assert by_pid[grep].strip().isdigit()
    reads = [e for e in of(events, "ipc.transfer") if e["pid"] == grep and e["direction"] == "read"]
    assert reads and reads[0]["channel"].startswith("pipe#")
    pstree = spawned(events, "pstree")[0]
    assert "python3" in by_pid[pstree] and "pstree" in by_pid[pstree]


def test_true_argv_of_programs_started_from_python_and_through_wrappers(server: Server) -> None:
    src = """import subprocess
subprocess.run(["python3", "-c", "print('child says hi')"])
subprocess.run("nice -n 9 ./while.py", shell=True)
subprocess.run(["env", "X=1", "timeout", "5", "true"])
"""
    files = {"main.py": src, "while.py": "#!/usr/bin/env python3\nimport os\nprint('nice', os.nice(0))\n"}
    r = server.http.post("/api/runs", json={"files": files})
    assert r.status_code == 201, r.text
    events = server.wait(r.json()["id"])
    assert_introduced(events)
    argvs = [e["argv"] for e in of(events, "proc.exec")]
    assert ["python3", "-c", "print('child says hi')"] in argvs
    assert ["nice", "-n", "9", "./while.py"] in argvs
    assert ["env", "X=1", "timeout", "5", "true"] in argvs
    assert ["timeout", "5", "true"] in argvs and ["true"] in argvs
    assert not any(a[:1] == ["python"] for a in argvs), argvs  # never a rebuilt argv
    child = next(e["pid"] for e in of(events, "proc.exec") if e["argv"][:2] == ["python3", "-c"])
    assert any(e["pid"] == child and "child says hi" in e["text"] for e in of(events, "io.output"))
    # Told once: by the native shim's hello, not again by the Python shim's.
    assert len([e for e in of(events, "proc.exec") if e["pid"] == child]) == 1
    assert len([e for e in of(events, "proc.spawn") if e["pid"] == child]) == 1


def test_a_python_exec_of_python_is_one_exec_with_its_line(server: Server) -> None:
    src = "import os, sys\nprint('before', flush=True)\nos.execv(sys.executable, ['python3', 'child.py', 'x'])\n"
    events = server.run({"files": {"main.py": src, "child.py": "import sys\nprint('child', sys.argv[1:])\n"}})
    assert_introduced(events)
    root = of(events, "run.started")[0]["root_pid"]
    execs = [e for e in of(events, "proc.exec") if e["pid"] == root]
    assert len(execs) == 1 and execs[0]["argv"] == ["python3", "child.py", "x"], execs
    assert execs[0]["line"] == {"file": "main.py", "line": 3}
    assert "child ['x']" in output(events)


def test_a_shell_kill_is_a_signal_from_the_shell(server: Server) -> None:
    events = server.run({"files": {"main.py": "import os\nos.system('sleep 5 & kill -9 $!; wait')\n"}})
    assert_introduced(events)
    (sh,) = spawned(events, "sh")
    sent = [e for e in of(events, "signal.sent") if e["signal"] == "SIGKILL"]
    assert sent and sent[0]["from"] == sh
    victim = sent[0]["to"]
    ex, re = exits_and_reapers(events, victim)
    assert ex["signal"] == "SIGKILL" and re["by"] == sh


C_FORK = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile int got;
static void on_usr1(int sig) { got = sig; }

int main(void) {
    int fd[2];
    pipe(fd);
    printf("pipe %d %d\n", fd[0], fd[1]);
    signal(SIGUSR1, on_usr1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        write(fd[1], "ping", 4);
        _exit(7);
    }
    close(fd[1]);
    char buf[8];
    ssize_t n = read(fd[0], buf, sizeof buf);
    int st;
    waitpid(pid, &st, 0);
    printf("read %zd, child %d\n", n, WEXITSTATUS(st));
    pid_t v = vfork();
    if (v == 0) {
        execlp("true", "true", (char *)NULL);
        _exit(127);
    }
    wait(NULL);
    kill(getpid(), SIGUSR1);
    pid_t k = fork();
    if (k == 0) { pause(); _exit(0); }
    usleep(20000);
    kill(k, SIGKILL);
    wait(NULL);
    return 3;
}
"""


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def test_c_calls_are_traced_with_their_source_line(server: Server) -> None:
    events = run_c(server, C_FORK)
    assert_introduced(events)
    assert of(events, "run.finished")[0]["code"] == 3
    (prog,) = spawned(events, "./prog")
    mine = [e for e in events if e.get("pid") == prog or e.get("from") == prog]

    def at(text: str) -> dict[str, Any]:
        return {"file": "prog.c", "line": line_of(C_FORK, text)}

    out = "".join(e["text"] for e in of(events, "io.output") if e["pid"] == prog)
    assert out.startswith("pipe 3 4\n"), out  # ProcLab's socket sits on a high fd, not 3
    assert "read 4, child 7\n" in out
    chan = [e for e in of(events, "ipc.channel") if e["line"] == at("pipe(fd)")]
    assert chan and chan[0]["kind"] == "pipe"
    children = [e for e in of(events, "proc.spawn") if e["ppid"] == prog]
    assert [c["how"] for c in children] == ["fork", "vfork", "fork"], children
    assert children[0]["line"] == at("pid_t pid = fork()")
    assert children[1]["line"] == at("vfork()")
    assert ["true"] in [e["argv"] for e in of(events, "proc.exec") if e["pid"] == children[1]["pid"]]
    writes = [e for e in of(events, "ipc.transfer") if e["direction"] == "write" and e["pid"] == children[0]["pid"]]
    assert writes[0]["bytes"] == 4 and writes[0]["preview"] == "ping" and writes[0]["line"] == at("write(fd[1]")
    reads = [e for e in mine if e["type"] == "ipc.transfer" and e["direction"] == "read"]
    assert reads[0]["channel"] == writes[0]["channel"] and reads[0]["line"] == at("read(fd[0]")
    waits = [e for e in mine if e["type"] == "proc.wait"]
    assert waits[0]["call"] == "waitpid" and waits[0]["result"] == children[0]["pid"]
    assert waits[0]["line"] == at("waitpid(pid")
    ex, re = exits_and_reapers(events, children[0]["pid"])
    assert ex["code"] == 7 and re["by"] == prog and re["call"] == "waitpid"
    handler = [e for e in mine if e["type"] == "signal.handler"]
    assert handler and handler[0]["signal"] == "SIGUSR1" and handler[0]["line"] == at("signal(SIGUSR1")
    assert handler[0]["handler"] == "on_usr1"  # a static function: named from the debug info
    assert any(e["type"] == "signal.handled" and e["signal"] == "SIGUSR1" for e in mine)
    kills = [e for e in of(events, "signal.sent") if e["from"] == prog and e["signal"] == "SIGKILL"]
    assert kills and kills[0]["to"] == children[2]["pid"] and kills[0]["line"] == at("kill(k, SIGKILL)")
    ex, _ = exits_and_reapers(events, children[2]["pid"])
    assert ex["signal"] == "SIGKILL"
    ex, _ = exits_and_reapers(events, prog)
    assert ex["code"] == 3


def test_c_stdout_is_line_buffered_so_a_line_printed_before_fork_appears_once(server: Server) -> None:
    src = r"""#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    printf("before fork\n");
    if (fork() == 0) { printf("child\n"); return 0; }
    wait(NULL);
    printf("parent\n");
    return 0;
}
"""
    events = run_c(server, src)
    text = output(events)
    assert text.count("before fork") == 1, text
    assert "child\n" in text and "parent\n" in text


def test_pthreads_and_mutexes_in_c_are_reported(server: Server) -> None:
    src = r"""#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int counter;
static void *work(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
    return NULL;
}
int main(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("counter %d\n", counter);
    return 0;
}
"""
    events = run_c(server, src)
    assert_introduced(events)
    assert "counter 2" in output(events)
    ops = [e for e in of(events, "ipc.op") if e["channel"].startswith("lock#")]
    assert [o["op"] for o in ops].count("acquire") == 2 and [o["op"] for o in ops].count("release") == 2
    assert ops[0]["line"] == {"file": "prog.c", "line": line_of(src, "pthread_mutex_lock")}


def test_slow_pacing_spaces_traced_c_calls(server: Server) -> None:
    src = r"""#include <unistd.h>
int main(void) {
    int p[2];
    pipe(p);
    usleep(700000); /* the test switches to slow pacing meanwhile */
    write(p[1], "a", 1); write(p[1], "b", 1); write(p[1], "c", 1);
    return 0;
}
"""
    main_py = "import os\nos.system('./prog')\n"
    body = {"files": {"main.py": "import subprocess\nsubprocess.run(['gcc', '-g', '-o', 'prog', 'prog.c'], check=True)\n"
                      + main_py, "prog.c": src}}
    c = http_client(server.base, timeout=30)
    c.get("/healthz")  # the client cookie: controls are for the run's own browser
    run_id = c.post("/api/runs", json=body).json()["id"]
    deadline = time.monotonic() + 60
    while not any(e["type"] == "proc.exec" and e["argv"] == ["./prog"]
                  for e in c.get(f"/api/runs/{run_id}/events").json()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert c.post(f"/api/runs/{run_id}/pace", json={"mode": "slow", "delay_ms": 250}).status_code == 200
    events = server.wait(run_id)
    writes = [e for e in of(events, "ipc.transfer") if e["line"] == {"file": "prog.c", "line": line_of(src, "write(")}]
    assert [w["preview"] for w in writes] == ["a", "b", "c"], writes
    gaps = [(b["t"] - a["t"]) / 1e6 for a, b in zip(writes, writes[1:], strict=False)]
    assert all(g >= 150 for g in gaps), gaps  # unpaced, three write() calls in a row take microseconds


def test_a_static_program_still_has_every_process_introduced(server: Server) -> None:
    src = r"""#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void) {
    for (int i = 0; i < 3; i++) if (fork() == 0) { usleep(200000); _exit(i); }
    while (wait(NULL) > 0) {}
    puts("done");
    return 0;
}
"""
    main_py = ("import subprocess, os\nsubprocess.run(['gcc', '-static', '-O0', '-o', 'prog', 'prog.c'], check=True)\n"
               "os.system('./prog')\n")
    events = server.run({"files": {"main.py": main_py, "prog.c": src}})
    assert_introduced(events)
    if "done" not in output(events):
        pytest.fail(f"static program did not run: {output(events)[-500:]}")
    (prog,) = [e["pid"] for e in of(events, "proc.spawn") if e["name"] == "prog" and e["how"] != "observed"][:1] or [
        next(e["pid"] for e in of(events, "proc.spawn") if e["name"] == "prog")]
    kids = [e for e in of(events, "proc.spawn") if e["ppid"] == prog]
    assert len(kids) == 3 and all(k["how"] == "observed" for k in kids)  # found by /proc scans


def test_healthz_says_how_processes_are_found(server: Server) -> None:
    h = server.http.get("/healthz").json()
    d = h["discovery"]
    assert d["active"] == "preload" and "scan" in d["modes"] and d["native"].endswith("proclab_native.so")


def test_the_shim_changes_no_fd_number_and_no_errno_a_c_program_sees(server: Server) -> None:
    src = r"""#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int p[2];
    pipe(p);
    int devnull = open("/dev/null", O_RDONLY);
    int lowest = dup(0);
    errno = EDOM;
    write(p[1], "x", 1);
    char c;
    read(p[0], &c, 1);
    close(lowest);
    int kept = errno == EDOM;
    errno = 0;
    open("fifo_that_does_not_exist", O_RDONLY);
    int enoent = errno == ENOENT;
    ssize_t bad = read(-1, &c, 1);
    printf("fds %d %d %d %d errno kept %d enoent %d ebadf %d\n", p[0], p[1], devnull, lowest, kept, enoent,
           bad == -1 && errno == EBADF);
    return 0;
}
"""
    events = run_c(server, src)
    assert "fds 3 4 5 6 errno kept 1 enoent 1 ebadf 1\n" in output(events), output(events)


def test_the_native_shim_is_built_once_per_source_and_never_preloaded_when_the_loader_refuses_it(
        tmp_path: Path) -> None:
    from app.sandbox.native import build

    cache, shim = tmp_path / "cache", tmp_path / "shim"
    shim.mkdir()
    first = build.install(str(cache), str(shim))
    assert first.path == str(shim / build.LIB_NAME) and not first.cached, first
    again = build.install(str(cache), str(shim))
    assert again.cached and again.path == first.path
    # A library ld.so cannot map (here: not an ELF file) would put its complaint in every program's stderr.
    (cached,) = cache.iterdir()
    cached.write_bytes(b"not a shared object")
    broken = build.install(str(cache), str(shim))
    assert broken.path is None and "cannot be preloaded" in broken.detail
    assert not (shim / build.LIB_NAME).exists()


def test_without_the_native_shim_processes_are_still_found_by_proc_scans(tmp_path: Path) -> None:
    from conftest import start_server, stop_server

    plain = start_server(tmp_path, {"PROCLAB_DISABLE_LAYERS": "native"})
    try:
        d = plain.http.get("/healthz").json()["discovery"]
        assert d["active"] == "scan" and d["native"] is None and "native" in d["detail"]
        events = plain.run({"files": {"main.py": "import os\nos.system('sleep 0.3')\nprint('done')\n"}})
        assert_introduced(events)
        assert "done" in output(events)
        names = {e["name"] for e in of(events, "proc.spawn") if e["how"] == "observed"}
        assert {"sleep"} & names or {"sh"} & names, of(events, "proc.spawn")
    finally:
        stop_server(plain)


HELLO_STORM = r"""
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    for (int i = 0; i < 24; i++) {
        if (fork() == 0) {
            execl("/bin/sleep", "sleep", "0.3", (char *) NULL);
            _exit(127);
        }
    }
    while (wait(NULL) > 0)
        ;
    printf("done\n");
    return 0;
}
"""


def test_no_state_shows_the_shims_own_wait_for_its_hello(server: Server) -> None:
    """24 programs exec'd at once each wait in the native shim's constructor for the supervisor's answer
    to their hello (a poll on the shim's socket): that wait is ProcLab's, never a state of the program
    (`sleep` is shown running, then sleeping — not blocked in poll())."""
    events = server.run({"files": {"main.c": HELLO_STORM}}, 90)
    assert output(events) == "done\n", events[-1]
    sleeps = set(spawned(events, "sleep"))
    assert len(sleeps) == 24
    polls = [e for e in of(events, "proc.state") if e.get("why", {}).get("code") == "poll"]
    assert not polls, [(e["pid"], e["why"], e["stat"]) for e in polls[:3]]
    asleep = {e["pid"] for e in of(events, "proc.state") if e["pid"] in sleeps and e.get("why", {}).get("code") == "sleep"}
    assert asleep == sleeps, f"{len(asleep)} of 24 shown sleeping"


FILE_IPC_C = r"""#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fd = open("data.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fork() == 0) {
        write(fd, "hello from child", 16);
        _exit(0);
    }
    wait(NULL);
    lseek(fd, 0, SEEK_SET);
    char buf[64] = {0};
    read(fd, buf, sizeof buf - 1);
    printf("%s\n", buf);
    close(fd);
    return 0;
}
"""


def test_file_ipc_in_c_is_a_file_channel_with_transfers(server: Server) -> None:
    """The notes' file IPC in C: open() in the run directory, a child's write(), the parent's read()."""
    events = server.run({"files": {"main.c": FILE_IPC_C}}, 90)
    assert output(events) == "hello from child\n", events[-1]
    files = [e for e in of(events, "ipc.channel") if e["kind"] == "file"]
    assert [(f["name"], f["line"]) for f in files] == [("data.txt", {"file": "main.c", "line": 9})]
    t = [(e["direction"], e["bytes"], e["preview"], e["line"]["line"]) for e in of(events, "ipc.transfer")
         if e["channel"] == files[0]["channel"]]
    assert t == [("write", 16, "hello from child", 11), ("read", 16, "hello from child", 17)]
    assert_introduced(events)
