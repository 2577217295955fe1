"""Lesson loading: the bundled course loads; malformed lessons name the file and the line."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import ROOT

from app import expectations
from app.lessons import LessonError, LessonStore, load_lesson

GOOD = """---
id: demo-fork
order: 5
title: {en: "Demo", zh: "演示"}
expect:
  - processes: {min: 1}
questions:
  - id: q
    prompt: {en: "How many?", zh: "几个？"}
    answer: {metric: process_count}
---
<!-- lang: en -->
# Demo
Hello <script>alert(1)</script>

<!-- lang: zh -->
# 演示
你好
"""


def write(tmp: Path, text: str, main: str = "print('hi')\n") -> Path:
    folder = tmp / "lesson"
    folder.mkdir(exist_ok=True)
    (folder / "lesson.md").write_text(text, encoding="utf-8")
    (folder / "main.py").write_text(main, encoding="utf-8")
    return folder


def test_bundled_lessons_all_load() -> None:
    store = LessonStore(ROOT / "lessons")
    assert not store.errors, [str(e) for e in store.errors]
    assert len(store.lessons) >= 3
    for lesson in store.lessons.values():
        assert lesson.body["en"].strip() and lesson.body["zh"].strip()
        assert lesson.title["en"] and lesson.title["zh"]


def test_good_lesson_renders_without_raw_html(tmp_path: Path) -> None:
    lesson = load_lesson(write(tmp_path, GOOD))
    html = lesson.to_dict()["body_html"]["en"]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert lesson.files == {"main.py": "print('hi')\n"}


@pytest.mark.parametrize("broken, line, words", [
    (GOOD.replace("order: 5", "order: five"), 3, "'order' must be an integer"),
    (GOOD.replace("id: demo-fork", "id: Demo Fork"), 2, "'id' must be lowercase"),
    (GOOD.replace("  - processes: {min: 1}", "  - zombies: yes"), 6, "unknown expectation 'zombies'"),
    (GOOD.replace('title: {en: "Demo", zh: "演示"}', 'title: {en: "Demo"}'), 4, "en and zh"),
    (GOOD.replace("expect:\n", "expect:\n  - [oops\n"), None, "not valid YAML"),
    (GOOD.replace("<!-- lang: zh -->", "<!-- lang: fr -->"), 16, "unknown language 'fr'"),
    (GOOD.replace("{metric: process_count}", "{metric: guess}"), 8, "metric"),
    # Values the event stream never carries, or that no run can meet, are refused at load, on their line.
    *[(GOOD.replace("  - processes: {min: 1}", "  - processes: {min: 1}\n  - " + bad), 7, words) for bad, words in [
        ("state: sleeping", "the state must be one of new, ready, running, blocked, stopped, zombie, got 'sleeping'"),
        ("state: {state: zombie, min_s: -1}", "'min_s' must be a number of seconds above 0"),
        ("state: {state: zombie, for: 1}", "unknown key 'for'"),
        ("state: {min_s: 1}", "'state' is missing"),
        ("signal: SIGFOO", "the signal must be one of"),
        ("signal: {signal: SIGUSR1, handled: caught}", "'handled' must be one of handler, ignore, default"),
        ("processes: {min: 3, max: 2}", "'min' (3) is above 'max' (2)"),
        ("processes: two", "a count (e.g. 2) or {min: N, max: N} is expected"),
        ("threads: -1", "a count of 0 or more"),
        ("transfer: {kind: tube, bytes: 100}", "the channel kind must be one of"),
        ("transfer: {kind: fifo, bytes: 100, min_bytes: 1}", "not both"),
        ("output_matches: '(['", "not a valid regular expression"),
        ("output_contains: ''", "a non-empty text"),
        ("exit: {code: 300}", "an exit code from 0 to 255"),
        ("exit: {code: 1, signal: SIGKILL}", "{code: N} or {signal: NAME}"),
        ("exit_code: true", "an exit code from 0 to 255"),
        ("event: proc.explode", "the event type must be one of"),
        ("finished: done", "the status must be one of ok, error, limit, stopped"),
        ("limit: time", "the limit must be one of"),
        ("reaped_by: grandparent", "the reaper must be one of init, parent"),
        ("wait: {call: waitpid, count: {min: 4, max: 3}}", "'count': 'min' (4) is above 'max' (3)"),
        ("channel: tube", "the channel kind must be one of"),
        ("op: {kind: lock, op: ''}", "'op': a non-empty text"),
    ]],
])
def test_malformed_lessons_name_file_and_line(tmp_path: Path, broken: str, line: int | None, words: str) -> None:
    with pytest.raises(LessonError) as err:
        load_lesson(write(tmp_path, broken))
    assert str(tmp_path / "lesson" / "lesson.md") in str(err.value)
    assert words in str(err.value)
    if line is not None:
        assert err.value.line == line, str(err.value)


def test_the_vocabularys_values_are_the_event_schemas() -> None:
    schema = json.loads((ROOT / "docs" / "events.schema.json").read_text())
    then = {a["if"]["properties"]["type"]["const"]: a["then"]["properties"] for a in schema["allOf"]}
    assert list(expectations.EVENT_TYPES) == schema["properties"]["type"]["enum"]
    assert list(expectations.STATES) == then["proc.state"]["state"]["enum"]
    assert list(expectations.STATUSES) == then["run.finished"]["status"]["enum"]
    assert list(expectations.LIMITS) == then["run.limit"]["limit"]["enum"]
    assert list(expectations.CHANNEL_KINDS) == then["ipc.channel"]["kind"]["enum"]
    assert list(expectations.HANDLED) == then["signal.handled"]["action"]["enum"]
    assert set(expectations.VALUE_RULES) == set(expectations.EXPECTATION_KINDS)


def test_syntax_error_in_scenario_names_main_py_and_line(tmp_path: Path) -> None:
    with pytest.raises(LessonError) as err:
        load_lesson(write(tmp_path, GOOD, main="x = 1\nif True\n    pass\n"))
    assert err.value.path.endswith("main.py") and err.value.line == 2


def test_store_reloads_when_files_change(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    store = LessonStore(tmp_path)
    assert "demo-fork" in store.lessons
    path = tmp_path / "lesson" / "lesson.md"
    path.write_text(GOOD.replace("id: demo-fork", "id: demo-fork-two"), encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert store.refresh(force=True) is True
    assert "demo-fork-two" in store.lessons and "demo-fork" not in store.lessons
    path.write_text("no front matter", encoding="utf-8")
    os.utime(path, (time.time() + 10, time.time() + 10))
    store.refresh(force=True)
    assert not store.lessons and store.errors and store.errors[0].line == 1
