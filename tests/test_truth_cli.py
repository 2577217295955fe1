"""Issue 13, point 7: `python -m app run FILE` behaves like `python3 FILE`: the run reads the CLI's
own stdin (a pipe, /dev/null, a terminal) and the CLI exits with the program's status."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import ROOT

from app.cli import EXIT_LIMIT

ASK = """name = input("name? ")
print("hello", name)
try:
    input()
except EOFError:
    print("end of input")
"""


def cli(main: Path, stdin: Any, timeout: float = 90) -> tuple[int, list[dict[str, Any]]]:
    r = subprocess.run([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT, stdin=stdin,
                       capture_output=True, timeout=timeout)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines()]


def text(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "io.output")


def test_piped_stdin_reaches_input_then_eof(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text(ASK)
    r = subprocess.run([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT, input=b"bob\n",
                       capture_output=True, timeout=90)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0, r.stderr
    assert text(events) == "name? hello bob\nend of input\n"
    assert [e["text"] for e in events if e["type"] == "io.input"] == ["bob\n"]


def test_dev_null_gives_eof_at_once(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text(ASK)
    code, events = cli(main, subprocess.DEVNULL)
    assert code == 1  # the uncaught EOFError, as python3 main.py </dev/null
    assert "EOFError" in text(events)
    finished = events[-1]
    assert finished["type"] == "run.finished" and finished["status"] == "ok", finished


def test_terminal_stdin(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text(ASK)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT, stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        time.sleep(1.0)  # typed while the program waits in input(), as a user would
        os.write(master, b"ada\n")
        os.write(master, b"\x04")  # Ctrl+D at the start of a line: end of input
        out, err = proc.communicate(timeout=90)
    finally:
        os.close(master)
    events = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 0, err
    assert text(events) == "name? hello ada\nend of input\n"


def test_exit_status_is_the_programs(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text("import sys\nsys.exit(3)\n")
    assert cli(main, subprocess.DEVNULL)[0] == 3
    main.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    assert cli(main, subprocess.DEVNULL)[0] == 128 + 15


def test_a_limit_ends_with_the_documented_status(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text("import os\nwhile True:\n    os.fork()\n")  # more processes than the limit allows
    code, events = cli(main, subprocess.DEVNULL)
    finished = events[-1]
    assert finished["status"] == "limit", finished
    assert code == EXIT_LIMIT


def test_ctrl_c_reaches_the_program(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text("import time\nprint('ready')\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "io.output" and events[-1]["text"] == "ready\n":
            break
    proc.send_signal(signal.SIGINT)  # what Ctrl+C in the terminal does to the command
    out, _ = proc.communicate(timeout=60)
    events += [json.loads(line) for line in out.splitlines()]
    assert "KeyboardInterrupt" in text(events)
    assert proc.returncode == 128 + signal.SIGINT
