"""Exercises in lesson front matter: the bundled ones load; malformed ones name the file and the line; grading
finds the evidence event in a real run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_source

from app.classroom.exercises import Exercise
from app.classroom.grading import evidence, grade
from app.lessons import LessonError, LessonStore, load_lesson
from app.settings import ROOT

HEAD = """---
id: demo
order: 5
title: {en: "Demo", zh: "演示"}
exercises:
  - id: two
    goal: {en: "Two processes", zh: "两个进程"}
    expect:
      - processes: 2
"""
BODY = """---
<!-- lang: en -->
x
<!-- lang: zh -->
x
"""


def folder(tmp: Path, extra: str = "", starter: str | None = "pass\n", solution: str | None = "pass\n") -> Path:
    d = tmp / "demo"
    (d / "exercises" / "two").mkdir(parents=True, exist_ok=True)
    (d / "lesson.md").write_text(HEAD + extra + BODY, encoding="utf-8")
    (d / "main.py").write_text("print('hi')\n")
    for name, text in (("starter.py", starter), ("solution.py", solution)):
        if text is not None:
            (d / "exercises" / "two" / name).write_text(text)
    return d


def test_the_course_has_at_least_ten_exercises_each_with_both_languages() -> None:
    store = LessonStore(ROOT / "lessons")
    assert not store.errors
    exercises = [e for lesson in store.ordered() for e in lesson.exercises]
    assert len(exercises) >= 10
    assert len({lesson.id for lesson in store.ordered() if lesson.exercises}) >= 10
    for e in exercises:
        assert e.goal["en"] and e.goal["zh"] and e.goal["en"] != e.goal["zh"]
        assert e.starter != e.solution


def test_an_exercise_loads_with_its_files(tmp_path: Path) -> None:
    ex = load_lesson(folder(tmp_path)).exercises[0]
    assert ex.id == "two" and ex.expect == [{"processes": 2}] and ex.starter == "pass\n"
    assert "solution" not in ex.public() and ex.public(instructor=True)["solution"] == {"main.py": "pass\n"}


@pytest.mark.parametrize(("extra", "starter", "solution", "where", "words"), [
    ("  - id: two\n    goal: x\n    expect: [{processes: 1}]\n", "pass\n", "pass\n", "lesson.md:10", "two exercises"),
    ("  - id: Bad Id\n    goal: x\n    expect: [{processes: 1}]\n", "pass\n", "pass\n", "lesson.md:10", "'id'"),
    ("  - id: three\n    goal: x\n    expect: [{nonsense: 1}]\n", "pass\n", "pass\n", "lesson.md:10",
     "expectation must be one of"),
    ("  - id: four\n    goal: x\n    expect: []\n", "pass\n", "pass\n", "lesson.md:10", "non-empty"),
    ("", None, "pass\n", "lesson.md:6", "starter.py is missing"),
    ("", "pass\n", "def (:\n", "solution.py:1", "syntax error"),
])
def test_malformed_exercises_name_file_and_line(tmp_path: Path, extra: str, starter: str | None,
                                                solution: str | None, where: str, words: str) -> None:
    with pytest.raises(LessonError) as e:
        load_lesson(folder(tmp_path, extra, starter, solution))
    assert where in str(e.value) and words in str(e.value)


def test_evidence_is_the_first_event_from_which_a_goal_holds(tmp_path: Path) -> None:
    src = ("import os, time\nprint('one', flush=True)\ntime.sleep(0.2)\npid = os.fork()\n"
           "if pid == 0:\n    os._exit(3)\nos.waitpid(pid, 0)\nprint('two')\n")
    events = run_source(src, tmp_path)
    for i, e in enumerate(events):
        e["seq"] = i  # the CLI stream is numbered by the supervisor; the web process renumbers the same way
    ex = Exercise(id="e", lesson="l", goal={"en": "", "zh": ""},
                  expect=[{"output_contains": "one"}, {"processes": 2}, {"exit": {"code": 3}}, {"finished": "ok"},
                          {"output_contains": "three"}])
    goals = grade(ex, events)
    assert [g.passed for g in goals] == [True, True, True, True, False]
    first_out = events[goals[0].evidence_seq]
    assert first_out["type"] == "io.output" and "one" in first_out["text"]
    spawn = events[goals[1].evidence_seq]
    assert spawn["type"] == "proc.spawn"
    assert events[goals[2].evidence_seq]["type"] == "proc.exit"
    assert events[goals[3].evidence_seq]["type"] == "run.finished"
    assert goals[4].evidence_seq is None
    # the evidence is the first: nothing before it satisfies the goal
    assert evidence({"processes": 2}, events[:goals[1].evidence_seq]) is None
