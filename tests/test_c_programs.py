"""C programs through a real server: gcc inside the sandbox, diagnostics, limits on the compiler, and the
programs of the books (OSTEP's cpu-api chapter, CS:APP's fork examples) showing what the chapters say.

The book programs are rewritten here faithfully (same calls, same output) from the published sources:
OSTEP's github.com/remzi-arpacidusseau/ostep-code cpu-api/p1.c … p4.c (no licence file, so not vendored)
and CS:APP 3e figures 8.15-8.17 (with plain fork() instead of the book's Fork() wrapper).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SCHEMA, Server, of, output

HEAD = "#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n#include <string.h>\n#include <fcntl.h>\n" \
       "#include <assert.h>\n#include <sys/wait.h>\n\n"

P1 = HEAD + """int
main(int argc, char *argv[])
{
    printf("hello world (pid:%d)\\n", (int) getpid());
    int rc = fork();
    if (rc < 0) {
        // fork failed; exit
        fprintf(stderr, "fork failed\\n");
        exit(1);
    } else if (rc == 0) {
        // child (new process)
        printf("hello, I am child (pid:%d)\\n", (int) getpid());
    } else {
        // parent goes down this path (original process)
        printf("hello, I am parent of %d (pid:%d)\\n", rc, (int) getpid());
    }
    return 0;
}
"""

P2 = HEAD + """int
main(int argc, char *argv[])
{
    printf("hello world (pid:%d)\\n", (int) getpid());
    int rc = fork();
    if (rc < 0) {
        fprintf(stderr, "fork failed\\n");
        exit(1);
    } else if (rc == 0) {
        printf("hello, I am child (pid:%d)\\n", (int) getpid());
        sleep(1);
    } else {
        int wc = wait(NULL);
        printf("hello, I am parent of %d (wc:%d) (pid:%d)\\n", rc, wc, (int) getpid());
    }
    return 0;
}
"""

P3 = HEAD + """int
main(int argc, char *argv[])
{
    printf("hello world (pid:%d)\\n", (int) getpid());
    int rc = fork();
    if (rc < 0) {
        fprintf(stderr, "fork failed\\n");
        exit(1);
    } else if (rc == 0) {
        printf("hello, I am child (pid:%d)\\n", (int) getpid());
        char *myargs[3];
        myargs[0] = strdup("wc");   // program: "wc" (word count)
        myargs[1] = strdup("p3.c"); // argument: file to count
        myargs[2] = NULL;           // marks end of array
        execvp(myargs[0], myargs);  // runs word count
        printf("this shouldn't print out");
    } else {
        int wc = wait(NULL);
        printf("hello, I am parent of %d (wc:%d) (pid:%d)\\n", rc, wc, (int) getpid());
    }
    return 0;
}
"""

P4_BODY = """int
main(int argc, char *argv[])
{
    int rc = fork();
    if (rc < 0) {
        fprintf(stderr, "fork failed\\n");
        exit(1);
    } else if (rc == 0) {
        // child: redirect standard output to a file
        close(STDOUT_FILENO);
        open("./p4.output", O_CREAT|O_WRONLY|O_TRUNC, S_IRWXU);
        // now exec "wc"...
        char *myargs[3];
        myargs[0] = strdup("wc");   // program: "wc" (word count)
        myargs[1] = strdup("p4.c"); // argument: file to count
        myargs[2] = NULL;           // marks end of array
        execvp(myargs[0], myargs);  // runs word count
    } else {
        int wc = wait(NULL);
        assert(wc >= 0);%s
    }
    return 0;
}
"""
P4 = HEAD + P4_BODY % ""
# The chapter's next command, `cat p4.output`, made part of the run (the run's directory goes with it).
P4_CAT = HEAD + P4_BODY % '\n        system("cat p4.output");'

FORK_ORDER = HEAD + """int main()
{
    pid_t pid;
    int x = 1;

    pid = fork();
    if (pid == 0) { /* Child */
        printf("child : x=%d\\n", ++x);
        exit(0);
    }

    /* Parent */
    printf("parent: x=%d\\n", --x);
    exit(0);
}
"""

FORK_TWICE = HEAD + """int main()
{
    fork();
    fork();
    printf("hello\\n");
    exit(0);
}
"""

FORK_LOOP = HEAD + """int main()
{
    int i;
    for (i = 0; i < 3; i++)
        fork();
    printf("hello\\n");
    exit(0);
}
"""


def run_c(server: Server, source: str, name: str = "main.c", **extra: object) -> list[dict]:
    body = {"files": {name: source}, **extra}
    if name != "main.c":
        body["main"] = name
    events = server.run(body, timeout=90)
    for e in events:
        jsonschema.validate(e, SCHEMA)
    return events


def wc_of(text: str, name: str) -> str:
    """What `wc name` prints for text, with its spacing made single (as `lines_of` does)."""
    out = subprocess.run(["wc", "-"], input=text, capture_output=True, text=True, check=True).stdout
    return " ".join(out.replace("-", name).split())


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def finished(events: list[dict]) -> dict:
    fin = events[-1]
    assert fin["type"] == "run.finished", fin
    return fin


def test_p1_fork_prints_hello_once_and_both_branches(server: Server) -> None:
    events = run_c(server, P1, "p1.c")
    comp = of(events, "run.compile")[0]
    assert comp["ok"] and comp["command"][:5] == ["gcc", "-g", "-O0", "-Wall", "-pthread"]
    root = of(events, "run.started")[0]["root_pid"]
    text = output(events)
    # stdout is line-buffered as on a terminal: the line printed before fork() appears once.
    assert text.count("hello world") == 1, text
    assert f"hello world (pid:{root})" in text
    child = re.search(r"hello, I am child \(pid:(\d+)\)", text)
    assert child, text
    assert f"hello, I am parent of {child[1]} (pid:{root})" in text
    spawns = {e["pid"]: e for e in of(events, "proc.spawn")}
    assert spawns[root]["how"] == "root" and spawns[root]["name"] == "p1"
    assert int(child[1]) in spawns, "the child forked from C is in the tree"
    assert finished(events)["status"] == "ok" and finished(events)["code"] == 0


def test_p2_parent_waits_for_the_child(server: Server) -> None:
    events = run_c(server, P2, "p2.c")
    text = output(events)
    child = re.search(r"hello, I am child \(pid:(\d+)\)", text)
    assert child, text
    parent = re.search(r"hello, I am parent of (\d+) \(wc:(\d+)\)", text)
    assert parent and parent[1] == parent[2] == child[1], text
    assert text.index("I am child") < text.index("I am parent"), "wait() makes the parent print last"
    root = of(events, "run.started")[0]["root_pid"]
    # The parent really was blocked in wait while the child slept (seen in /proc, not told by the program).
    waits = [e for e in of(events, "proc.state") if e["pid"] == root and e["state"] == "blocked"
             and (e.get("why") or {}).get("code") == "wait"]
    assert waits, [e for e in of(events, "proc.state") if e["pid"] == root]


def test_p3_exec_runs_wc_on_its_own_source(server: Server) -> None:
    events = run_c(server, P3, "p3.c")
    text = output(events)
    assert wc_of(P3, "p3.c") in lines_of(text), text
    assert "this shouldn't print out" not in text
    assert re.search(r"hello, I am parent of (\d+) \(wc:\1\)", text), text
    assert finished(events)["code"] == 0


def test_p4_redirects_the_child_output_to_a_file(server: Server) -> None:
    events = run_c(server, P4, "p4.c")
    assert output(events) == "", "wc wrote into p4.output, not to the screen"
    assert finished(events)["status"] == "ok" and finished(events)["code"] == 0
    events = run_c(server, P4_CAT, "p4.c")
    assert lines_of(output(events)) == [wc_of(P4_CAT, "p4.c")], output(events)


def test_csapp_fork_order_parent_and_child_own_copies(server: Server) -> None:
    text = output(run_c(server, FORK_ORDER))
    assert sorted(text.splitlines()) == ["child : x=2", "parent: x=0"], text


@pytest.mark.parametrize(("source", "count"), [(FORK_TWICE, 4), (FORK_LOOP, 8)])
def test_csapp_fork_in_sequence_and_loops(server: Server, source: str, count: int) -> None:
    events = run_c(server, source)
    assert output(events).splitlines() == ["hello"] * count
    assert len(of(events, "proc.exit")) == count, "every process of the tree is seen to exit"


def test_compile_errors_name_file_line_and_nothing_runs(server: Server) -> None:
    src = "#include <stdio.h>\nint main(void) {\n    int x\n    printf(\"%d\\n\", y);\n    return 0;\n}\n"
    events = run_c(server, src)
    comp = of(events, "run.compile")[0]
    assert comp["ok"] is False and comp["errors"] >= 2
    errs = [d for d in comp["diagnostics"] if d["severity"] == "error"]
    assert {"file": "main.c", "line": 4, "col": 5, "severity": "error"}.items() <= errs[0].items(), errs
    assert any("'y' undeclared" in d["message"] and d["line"] == 4 for d in errs), errs
    assert "main.c:4:5: error" in comp["output"]
    assert not of(events, "run.started") and not of(events, "proc.spawn")
    fin = finished(events)
    assert fin["status"] == "error" and fin["reason"] == "compile_failed"
    assert fin["outcome"] == {"code": "compile_failed", "errors": comp["errors"]} and comp["errors"] >= 1, fin


def test_warnings_are_reported_and_the_program_runs(server: Server) -> None:
    src = "#include <stdio.h>\nint main(void) {\n    int unused;\n    printf(\"ran\\n\");\n    return 3;\n}\n"
    events = run_c(server, src)
    comp = of(events, "run.compile")[0]
    assert comp["ok"] and comp["warnings"] == 1
    assert comp["diagnostics"][0]["line"] == 3 and comp["diagnostics"][0]["severity"] == "warning"
    assert "unused variable" in comp["diagnostics"][0]["message"]
    assert output(events) == "ran\n" and finished(events)["code"] == 3


def test_linker_errors_are_reported(server: Server) -> None:
    events = run_c(server, "void missing(void);\nint main(void) { missing(); return 0; }\n")
    comp = of(events, "run.compile")[0]
    assert not comp["ok"]
    assert [(d["file"], d["line"], d["severity"]) for d in comp["diagnostics"]
            if "undefined reference to `missing'" in d["message"]] == [("main.c", 2, "error")], comp["diagnostics"]
    assert finished(events)["reason"] == "compile_failed"


def test_several_files_make_one_program(server: Server) -> None:
    files = {"main.c": '#include <stdio.h>\n#include "greet.h"\nint main(void) { greet("C"); return 0; }\n',
             "greet.h": "void greet(const char *who);\n",
             "greet.c": '#include <stdio.h>\n#include "greet.h"\nvoid greet(const char *who) '
                        '{ printf("hello from %s\\n", who); }\n'}
    events = server.run({"files": files})
    assert output(events) == "hello from C\n", events[-3:]


def test_the_compiler_cannot_read_secrets(server: Server) -> None:
    shadow = Path("/etc/shadow").read_text()
    events = run_c(server, '#include "/etc/shadow"\nint main(void) { return 0; }\n')
    comp = of(events, "run.compile")[0]
    assert not comp["ok"]
    assert comp["diagnostics"][0]["line"] == 1 and "Permission denied" in comp["diagnostics"][0]["message"]
    text = comp["output"] + "".join(d["message"] for d in comp["diagnostics"])
    for line in shadow.splitlines():
        if ":" in line and line.split(":")[1] not in ("", "*", "!", "!*"):
            assert line.split(":")[1] not in text
    assert "root:" not in text


SLOW = "void f(void);\n#define A(x) x x x x\n#define B(x) A(A(x))\n#define C(x) B(B(x))\n#define D(x) C(C(x))\n" \
       "int main(void) { D(A(f();)) return 0; }\nvoid f(void) {}\n"


def test_a_compile_that_runs_too_long_is_stopped_by_the_wall_limit(server: Server) -> None:
    events = run_c(server, SLOW, limits={"wall_s": 1})
    fired = of(events, "run.limit")
    assert fired and fired[0]["limit"] == "wall", events[-3:]
    assert "compiling" in fired[0]["detail"] and fired[0]["params"] == {"wall_s": 1}, fired
    comp = of(events, "run.compile")[0]
    assert not comp["ok"] and comp["duration_ms"] < 3000
    assert finished(events)["status"] == "limit" and not of(events, "run.started")


def test_a_compiler_that_prints_too_much_is_stopped_by_the_output_limit(server: Server) -> None:
    src = "int main(void) {\n" + "".join(f"    int v{i};\n" for i in range(3000)) + "    return 0;\n}\n"
    events = run_c(server, src, limits={"output_kb": 64})
    fired = of(events, "run.limit")
    assert fired and fired[0]["limit"] == "output", events[-3:]
    assert len(of(events, "run.compile")[0]["output"].encode()) <= 16 * 1024
    assert finished(events)["status"] == "limit"


def test_free_run_picks_c_by_its_entry_file_and_stays_usable(server: Server) -> None:
    r = server.http.post("/api/runs", json={"files": {"prog.c": "int main(void){return 0;}\n"}, "main": "prog.c"})
    assert r.status_code == 201, r.text
    events = server.wait(r.json()["id"])
    assert of(events, "run.compile")[0]["command"][-3:] == ["-o", "prog", "prog.c"]
    assert finished(events)["status"] == "ok"


def test_p4_child_and_its_exec_are_in_the_tree(server: Server) -> None:
    events = run_c(server, P4, "p4.c")
    root = of(events, "run.started")[0]["root_pid"]
    assert [e for e in of(events, "proc.spawn") if e["pid"] != root and e["how"] == "fork"]
    assert [e["argv"] for e in of(events, "proc.exec")] == [["wc", "p4.c"]]


EXEC_FAILS = HEAD + """int main(void) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("no-such-program", "no-such-program", "-x", (char *)NULL);
        perror("execlp");
        execl("/etc/passwd", "passwd", (char *)NULL);
        perror("execl");
        exit(1);
    }
    waitpid(pid, NULL, 0);
    system("ls > /dev/null");
    printf("parent done\\n");
    return 0;
}
"""


def test_a_c_exec_that_fails_is_told_with_its_errno_and_line(server: Server) -> None:
    """execlp of a missing program (ENOENT) and execl of a file that is not executable (EACCES) return: each is
    a `proc.exec.failed` from the child at its line, beside the program's own perror(); the shell that
    system() starts finds ls before it calls exec, so it has no failed attempt."""
    events = run_c(server, EXEC_FAILS, "fails.c")
    assert finished(events)["status"] == "ok"
    child = next(e["pid"] for e in of(events, "proc.spawn") if e["how"] == "fork")
    line = {call: EXEC_FAILS.splitlines().index(f"        {call}(\"{path}\", \"{arg0}\"{rest}") + 1
            for call, path, arg0, rest in (("execlp", "no-such-program", "no-such-program", ', "-x", (char *)NULL);'),
                                           ("execl", "/etc/passwd", "passwd", ", (char *)NULL);"))}
    failed = [(e["pid"], e["argv"], e["path"], e["error"], e["line"]) for e in of(events, "proc.exec.failed")]
    assert failed == [(child, ["no-such-program", "-x"], "no-such-program", "ENOENT",
                       {"file": "fails.c", "line": line["execlp"]}),
                      (child, ["passwd"], "/etc/passwd", "EACCES", {"file": "fails.c", "line": line["execl"]})], failed
    assert {e["pid"] for e in of(events, "proc.exec.failed")} <= {e["pid"] for e in of(events, "proc.spawn")}
    assert [e["argv"] for e in of(events, "proc.exec") if e["argv"][0] == "ls"] == [["ls"]]
    stderr = "".join(e["text"] for e in of(events, "io.output") if e["stream"] == "stderr")
    assert stderr == "execlp: No such file or directory\nexecl: Permission denied\n", stderr


BUFFERED = HEAD + 'int main(void) { printf("before fork\\n"); if (fork() == 0) return 0; wait(NULL); return 0; }\n'


@pytest.mark.parametrize(("stdio", "times"), [(None, 1), ("terminal", 1), ("pipe", 2)])
def test_stdout_is_line_buffered_unless_the_run_asks_for_a_pipe(server: Server, stdio: str | None,
                                                                 times: int) -> None:
    events = run_c(server, BUFFERED, **({"stdio": stdio} if stdio else {}))
    assert output(events).count("before fork\n") == times, output(events)


def test_a_bad_stdio_mode_is_refused_naming_the_field(server: Server) -> None:
    r = server.http.post("/api/runs", json={"files": {"main.c": BUFFERED}, "stdio": "tty"})
    assert r.status_code == 422
    assert "stdio" in r.text and "terminal" in r.text and "pipe" in r.text


def test_cli_runs_a_c_file_and_a_c_lesson(tmp_path: Path) -> None:
    prog = tmp_path / "prog.c"
    prog.write_text('#include <stdio.h>\nint main(void) { printf("from the CLI\\n"); return 4; }\n')
    (tmp_path / "other.c").write_text("int main(void) { return 0; }\n")  # another program: not linked in
    for target, status in ((str(prog), 4), ("c-fork", 0)):
        r = subprocess.run([sys.executable, "-m", "app", "run", target, "--json"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == status, r.stderr  # the program's own exit status, as for ./prog
        events = [json.loads(line) for line in r.stdout.splitlines()]
        for e in events:
            jsonschema.validate(e, SCHEMA)
        assert [e["type"] for e in events[:2]] == ["run.compile", "run.started"]
        assert events[-1]["status"] == "ok"
    assert output(events) and events[0]["command"][-3:] == ["-o", "main", "main.c"]
    r = subprocess.run([sys.executable, "-m", "app", "run", str(prog)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert "from the CLI" in r.stdout and "compiled (gcc -g -O0 -Wall" in r.stdout and "exit code 4" in r.stdout


def test_stop_during_a_long_compile_ends_the_run_at_once(server: Server) -> None:
    r = server.http.post("/api/runs", json={"files": {"main.c": SLOW}, "limits": {"wall_s": 30}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    time.sleep(0.5)
    t0 = time.monotonic()
    assert server.http.post(f"/api/runs/{run_id}/stop").status_code == 200
    events = server.wait(run_id, 30)
    assert time.monotonic() - t0 < 5, "the compiler was not stopped"
    fin = finished(events)
    assert fin["status"] == "stopped" and not of(events, "run.started") and not of(events, "run.limit")
    comp = of(events, "run.compile")[0]
    assert comp["ok"] is False and comp["duration_ms"] < 5000


THREADS = """#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter = 0;

static void *work(void *arg)
{
    usleep(300 * 1000);
    pthread_mutex_lock(&lock);
    counter += *(int *) arg;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t t[2];
    int add[2] = {1, 2};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, work, &add[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("counter = %d\\n", counter);
    return 0;
}
"""


def test_pthreads_compile_with_pthread_and_are_seen_as_threads(server: Server) -> None:
    events = run_c(server, THREADS)
    assert output(events) == "counter = 3\n"
    root = of(events, "run.started")[0]["root_pid"]
    threads = {e["tid"] for e in of(events, "proc.thread.spawn") if e["pid"] == root}
    assert len(threads) >= 2, of(events, "proc.thread.spawn")
    assert finished(events)["stats"]["threads"] >= 3


def test_a_lesson_that_did_not_compile_gives_no_answers(server: Server) -> None:
    r = server.http.post("/api/runs", json={"lesson": "c-fork", "files": {"main.c": "int main(void) { return 0 }\n"}})
    assert r.status_code == 201, r.text
    events = server.wait(r.json()["id"])
    assert finished(events)["reason"] == "compile_failed"
    answers = server.http.get(f"/api/runs/{r.json()['id']}").json()["answers"]
    assert answers == {"lines": None, "procs": None}, answers


# Each lives 0.3 s: a program whose whole life falls between two samples of a busy supervisor (P1 exits
# within a millisecond) shows no state after `new` but its exit, which is true, and says nothing here.
LIVES_A_WHILE_C = "#include <unistd.h>\nint main(void) {\n    usleep(300000);\n    return 0;\n}\n"


@pytest.mark.parametrize("name,source", [("main.c", LIVES_A_WHILE_C), ("main.py", "import time\ntime.sleep(0.3)\n")])
def test_the_roots_first_state_is_new_without_the_set_ups_letter(server: Server, name: str, source: str) -> None:
    """Before the program runs, the root is the sandbox's set-up (joining its cgroup, waiting in vfork for gcc):
    it is `new`, with no STAT letter of that set-up (it was shown as 'new [D]')."""
    events = run_c(server, source, name)
    root = of(events, "run.started")[0]["root_pid"]
    states = [(e["state"], e["stat"]) for e in of(events, "proc.state") if e["pid"] == root]
    assert states[0] == ("new", ""), states
    assert len(states) > 1 and all(st != "new" for st, _ in states[1:]), states  # then what the program did
    assert finished(events)["status"] == "ok", finished(events)
