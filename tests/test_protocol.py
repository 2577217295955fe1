"""The protocol between the web side and a run's supervisor (app/sandbox/protocol.py): every event type has
one constructor whose events the schema accepts, the run spec survives the wire, commands parse or are ignored."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.sandbox import protocol
from app.sandbox.limits import Limits
from app.sandbox.protocol import Command, Op, Pace, PaceMode, RunSpec, Stdio, UserSignal

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
LINE = {"file": "main.py", "line": 3}
WHY = {"code": "pipe_read", "fd": 4, "channel": "pipe#1", "text": "reading pipe #1 (fd 4)"}

# One event of each type, made the way the supervisor makes it.
SAMPLES: dict[str, Any] = {
    "run.queued": lambda: protocol.run_queued(2),
    "run.compile": lambda: protocol.run_compile(
        False, "c", ["gcc", "-o", "main", "main.c"], 120, 1, 0,
        [{"file": "main.c", "line": 3, "col": 5, "severity": "error", "message": "expected ';'"}], "main.c:3:5: …"),
    "run.started": lambda: protocol.run_started(10, 1, ["process", "rlimits"], Limits().to_dict(), "p1", True, 61000,
                                                False, 0),
    "run.pace": lambda: protocol.run_pace(PaceMode.SLOW, 300),
    "run.limit": lambda: protocol.run_limit("processes", "64 processes and threads", Limits().params("processes")),
    "run.error": lambda: protocol.run_error("cgroup not used: EACCES"),
    "run.finished": lambda: protocol.run_finished("ok", 0, None, 250, {"processes": 2}, {"code": "exit",
                                                                                         "exit_code": 0}),
    "proc.spawn": lambda: protocol.proc_spawn(11, 10, "fork", "python3", LINE),
    "proc.exec": lambda: protocol.proc_exec(11, ["ls", "-l"], LINE),
    "proc.state": lambda: protocol.proc_state(11, "blocked", "running", "S", "reading pipe #1 (fd 4)", WHY),
    "proc.exec.failed": lambda: protocol.proc_exec_failed(11, ["nosuch", "-x"], "nosuch", "ENOENT", 2, LINE),
    "proc.reparent": lambda: protocol.proc_reparent(12, 11, 1),
    "proc.exit": lambda: protocol.proc_exit(11, None, "SIGKILL", False),
    "proc.reaped": lambda: protocol.proc_reaped(11, 10, "waitpid", 9),
    "proc.wait": lambda: protocol.proc_wait(10, "waitpid", 11, 0, 11, 0, LINE),
    "proc.thread.spawn": lambda: protocol.proc_thread_spawn(10, 13, "Thread-1"),
    "proc.thread.state": lambda: protocol.proc_thread_state(10, 13, "ready", "R", None),
    "proc.thread.exit": lambda: protocol.proc_thread_exit(10, 13),
    "proc.line": lambda: protocol.proc_line(10, LINE),
    "io.output": lambda: protocol.io_output(10, "stdout", "hello\n"),
    "io.truncated": lambda: protocol.io_truncated(4096),
    "io.input": lambda: protocol.io_input("42\n"),
    "ipc.channel": lambda: protocol.ipc_channel("pipe#1", "pipe", None, LINE),
    "ipc.end": lambda: protocol.ipc_end("pipe#1", 10, 4, "read", "open"),
    "ipc.transfer": lambda: protocol.ipc_transfer("pipe#1", 10, "write", 6, "hello\n", LINE),
    "ipc.op": lambda: protocol.ipc_op("semaphore#1", 10, "acquire", 0, LINE),
    "signal.sent": lambda: protocol.signal_sent(None, 11, "SIGTERM", None),
    "signal.handler": lambda: protocol.signal_handler(11, "SIGUSR1", "on_usr1", LINE),
    "signal.handled": lambda: protocol.signal_handled(11, "SIGUSR1", "ignore"),
}


def test_every_event_type_in_the_schema_has_one_constructor() -> None:
    in_schema = set(SCHEMA["properties"]["type"]["enum"])
    assert set(protocol.EVENTS) == in_schema, (
        f"without a constructor: {sorted(in_schema - set(protocol.EVENTS))}; "
        f"not in the schema: {sorted(set(protocol.EVENTS) - in_schema)}")
    assert set(SAMPLES) == in_schema


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_constructor_makes_an_event_the_schema_accepts(kind: str) -> None:
    body = SAMPLES[kind]()
    assert body["type"] == kind
    assert protocol.EVENTS[kind].__name__ == kind.replace(".", "_")
    ev = {"v": protocol.EVENT_VERSION, "seq": 3, "t": 1000, **body}
    errors = [e.message for e in VALIDATOR.iter_errors(ev)]
    assert not errors, f"{kind}: {errors}"


def test_the_public_run_finished_is_made_by_the_same_constructor() -> None:
    """What the web process adds (answers, the recording's fate, an exercise's goals) goes through
    protocol.run_finished too, and the schema accepts it; without them it is the supervisor's report."""
    body = protocol.run_finished("limit", None, "memory", 900, {}, {"code": "limit", "limit": "memory_mb"},
                                 answers={"q1": "zombie"}, recording={"saved": False, "problem": "disk_full"},
                                 goals=[{"id": "g1", "passed": True, "evidence_seq": 4}])
    assert {"answers", "recording", "goals"} <= set(body)
    assert not list(VALIDATOR.iter_errors({"v": 1, "seq": 9, "t": 5, **body}))
    assert not {"answers", "recording", "goals"} & set(SAMPLES["run.finished"]())


# The code that makes events: the supervisor's side and the web process's (runs, outcome, cluster …). The
# shim's messages to the supervisor are another protocol (app/sandbox/shimlink.py), not events.
EVENT_MAKERS = [p for p in sorted((ROOT / "app").rglob("*.py"))
                if p.name not in ("protocol.py", "shim.py") and "native" not in p.parts]


def event_literals(path: Path) -> list[str]:
    """Dict literals of a module whose "type" is an event type: events made without their constructor."""
    kinds = set(SCHEMA["properties"]["type"]["enum"])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if (isinstance(k, ast.Constant) and k.value == "type" and isinstance(v, ast.Constant)
                        and v.value in kinds):
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                    found.append(f"{where}:{node.lineno} {v.value}")
    return found


def test_every_event_of_the_web_process_and_the_supervisor_comes_from_a_constructor() -> None:
    """run.queued, run.error and the public run.finished of the web process included: so the check above
    (one constructor per type, each accepted by the schema) covers every event a client receives."""
    assert any(p.name == "outcome.py" for p in EVENT_MAKERS) and any(p.name == "runs.py" for p in EVENT_MAKERS)
    literals = [hit for p in EVENT_MAKERS for hit in event_literals(p)]
    assert not literals, f"events built as plain dicts (use app/sandbox/protocol.py's EVENTS): {literals}"


def test_the_literal_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "queue.py"
    bad.write_text('EV = {"type": "run.queued", "position": 1}\nOK = {"type": "class.changed"}\n')
    assert event_literals(bad) == ["queue.py:1 run.queued"]


def test_a_wrong_field_is_refused_by_the_schema() -> None:
    """The check above can fail: the same constructor with a state the schema does not know."""
    ev = {"v": 1, "seq": 0, "t": 0, **protocol.proc_state(1, "sleeping", None, "S", None)}
    assert list(VALIDATOR.iter_errors(ev))


def test_run_spec_survives_the_wire() -> None:
    spec = RunSpec(run_id="abc123", files={"main.py": "print(1)\n"}, lesson="p1", limits=Limits(wall_s=5.0),
                   uid=61000, layers=["process", "seccomp"], nice=7, stdin="x\n", stdio=Stdio.PIPE,
                   pace=Pace(PaceMode.STEP, 200), seq_base=2, runtime_dir="/run/proclab/i-1")
    line = spec.to_json()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = RunSpec.from_json(line)
    assert back == spec
    assert back.gid == 61000 and back.close_stdin  # stdin given and no stdin_eof: closed after the text
    assert not RunSpec(run_id="a", files={}, stdin="x", stdin_eof=False).close_stdin


@pytest.mark.parametrize(("data", "named"), [
    ({"run_id": "a", "files": {}, "colour": "red"}, "colour"),
    ({"files": {}}, "run_id"),
    ({"run_id": "a", "files": {}, "uid": "root"}, "uid"),
    ({"run_id": "a", "files": {}, "stdio": "tty"}, "terminal, pipe"),
    ({"run_id": "a", "files": {}, "pace": {"mode": "fast"}}, "normal, paused, step, slow"),
])
def test_a_bad_run_spec_is_refused_naming_what_was_expected(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        RunSpec.from_dict(data)


def test_commands_built_by_the_web_side_parse_back() -> None:
    made = [protocol.stop(), protocol.send_signal(5, UserSignal.SIGTERM), protocol.interrupt(),
            protocol.send_input("hi\n"), protocol.eof(), protocol.pace(PaceMode.SLOW, 500), protocol.step()]
    parsed = [protocol.parse_command(json.loads(json.dumps(c))) for c in made]
    assert [c.op if c else None for c in parsed] == list(Op)
    assert parsed[1] == Command(Op.SIGNAL, pid=5, signal=UserSignal.SIGTERM)
    assert parsed[3] is not None and parsed[3].text == "hi\n"
    assert parsed[5] == Command(Op.PACE, mode=PaceMode.SLOW, delay_ms=500)


@pytest.mark.parametrize("data", [
    {"cmd": "reboot"}, {"cmd": "signal", "pid": 5, "signal": "SIGSEGV"}, {"cmd": "signal", "pid": "5",
                                                                         "signal": "SIGTERM"},
    {"cmd": "pace", "mode": "fast"}, ["stop"], None,
])
def test_commands_the_supervisor_does_not_take_are_ignored(data: Any) -> None:
    assert protocol.parse_command(data) is None


def test_a_delay_out_of_range_keeps_the_current_one() -> None:
    cmd = protocol.parse_command({"cmd": "pace", "mode": "slow", "delay_ms": 10 ** 9})
    assert cmd is not None and cmd.mode is PaceMode.SLOW and cmd.delay_ms is None


def test_the_protocol_is_stdlib_only() -> None:
    """The launcher and supervisor import it on an interpreter without the web dependencies."""
    tree = ast.parse((ROOT / "app" / "sandbox" / "protocol.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_the_web_models_use_the_protocol_enums() -> None:
    from app.web import models

    assert models.PaceRequest.model_fields["mode"].annotation is PaceMode
    assert models.SignalRequest.model_fields["signal"].annotation is UserSignal
