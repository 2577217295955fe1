"""run.finished is built in one place (app/outcome.py) for the web process and the CLI: outcome codes,
answers computed once, the web process's own events numbered with the supervisor's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from conftest import ROOT, SCHEMA, Server, of


def test_cli_run_finishes_with_an_outcome(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text("import sys\nprint('bye')\nsys.exit(3)\n")
    r = subprocess.run([sys.executable, "-m", "app", "run", str(main), "--json"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    fin = events[-1]
    assert fin["type"] == "run.finished" and fin["outcome"] == {"code": "exit", "exit_code": 3}
    assert [e["seq"] for e in events] == list(range(len(events)))
    jsonschema.validate(fin, SCHEMA)


def test_web_run_finished_has_outcome_answers_and_recording(server: Server) -> None:
    lesson = server.http.get("/api/lessons/fork-basics").json()
    assert lesson["questions"]
    created = server.http.post("/api/runs", json={"lesson": lesson["id"]}).json()
    events = server.wait(created["id"], 90)
    fin = events[-1]
    assert fin["outcome"]["code"] == "exit" and fin["recording"] == {"saved": True}
    assert set(fin["answers"]) == {q["id"] for q in lesson["questions"]}
    info = server.http.get(f"/api/runs/{created['id']}").json()
    assert info["answers"] == fin["answers"] and info["result"]["seq"] == fin["seq"]
    for e in events:
        jsonschema.validate(e, SCHEMA)
    assert len(of(events, "run.finished")) == 1


def test_outcome_names_the_signal_and_the_limit(server: Server) -> None:
    killed = server.run({"files": {"main.py": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"}})
    assert killed[-1]["outcome"] == {"code": "signal", "signal": "SIGKILL"}
    limited = server.run({"files": {"main.py": "import time\ntime.sleep(10)\n"}, "limits": {"wall_s": 0.5}})
    assert limited[-1]["outcome"] == {"code": "limit", "limit": "wall"}
