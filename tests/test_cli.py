"""python -m app run … --json: NDJSON on stdout, ending with run.finished."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
from conftest import ROOT, SCHEMA


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_run_lesson_prints_ndjson(tmp_path) -> None:  # noqa: ANN001
    lessons = json.loads(subprocess.run([sys.executable, "-c", "import json; from app.lessons import LessonStore; "
                                         "from app.settings import get_settings; "
                                         "print(json.dumps(sorted(LessonStore(get_settings().lessons_dir).lessons)))"],
                                        cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    fork = next(i for i in lessons if "fork" in i and not i.startswith("c-"))  # a C lesson starts with run.compile
    r = run_cli("run", fork, "--json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[0]["type"] == "run.started"
    assert events[-1]["type"] == "run.finished"
    for e in events:
        jsonschema.validate(e, SCHEMA)


def test_run_any_py_file_exits_with_the_programs_status(tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "prog.py"
    f.write_text("import sys\nprint('hi')\nsys.exit(7)\n")
    r = run_cli("run", str(f), "--json")
    assert r.returncode == 7, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[-1]["status"] == "ok" and events[-1]["code"] == 7, r.stdout[-3000:]
    assert any(e["type"] == "io.output" and e["text"] == "hi\n" for e in events)


def test_run_missing_target_fails_clearly(tmp_path) -> None:  # noqa: ANN001
    r = run_cli("run", str(tmp_path / "missing.py"), "--json")
    assert r.returncode != 0 and "missing.py" in r.stderr
    r = run_cli("run", "no-such-lesson-id")
    assert r.returncode != 0 and "no-such-lesson-id" in r.stderr
