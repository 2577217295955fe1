"""Exercises in lesson front matter: the bundled ones load; malformed ones name the file and the line; grading
finds the evidence event in a real run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_source

from app.classroom.exercises import Exercise
from app.classroom.grading import evidence, grade
from app.expectations import RunFacts, check, stints
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
    ("  - id: three\n    goal: x\n    expect: [{nonsense: 1}]\n", "pass\n", "pass\n", "lesson.md:12",
     "unknown expectation 'nonsense'; expected one of"),
    # A malformed value names the expectation's own line, not only the exercise's.
    ("  - id: five\n    goal: x\n    expect:\n      - processes: 1\n      - state: {state: zombie, min_s: 0}\n",
     "pass\n", "pass\n", "lesson.md:14", "exercise 'five': expectation 'state': 'min_s' must be a number"),
    ("  - id: six\n    goal: x\n    expect:\n      - transfer: {kind: tube, bytes: 100}\n", "pass\n", "pass\n",
     "lesson.md:13", "the channel kind must be one of pipe, fifo"),
    ("  - id: seven\n    goal: x\n    expect:\n      - wait: {nohang: sometimes}\n", "pass\n", "pass\n",
     "lesson.md:13", "'nohang' must be true or false"),
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


def test_the_issues_example_exercises_are_in_the_course() -> None:
    """Issue 16's examples, each graded by what proves it (not only by the output it prints)."""
    store = LessonStore(ROOT / "lessons")
    by_id = {e.id: e for lesson in store.ordered() for e in lesson.exercises}
    assert {"state": {"state": "zombie", "min_s": 1}} in by_id["zombie-one-second"].expect
    assert {"reaped_by": "parent"} in by_id["zombie-one-second"].expect
    assert {"wait": {"call": "waitpid", "nohang": True, "result": "child", "count": 3}} in \
        by_id["reap-three-wnohang"].expect
    assert {"transfer": {"kind": "fifo", "bytes": 100}} in by_id["fifo-100-bytes"].expect
    assert {"threads": {"min": 3}} in by_id["gil-two-threads"].expect


def test_a_zombie_for_at_least_a_second_is_measured_from_the_real_events(tmp_path: Path) -> None:
    # Two children: one a zombie for about 0.3 s, the other for about 1.3 s; both reaped by the parent.
    src = ("import os, time\nkids = []\nfor _ in range(2):\n    pid = os.fork()\n    if pid == 0:\n"
           "        os._exit(0)\n    kids.append(pid)\ntime.sleep(0.3)\nos.waitpid(kids[0], 0)\ntime.sleep(1.0)\n"
           "os.waitpid(kids[1], 0)\nprint('both reaped', flush=True)\ntime.sleep(0.2)\n")
    events = run_source(src, tmp_path)
    for i, e in enumerate(events):
        e["seq"] = i
    # The children's stints: the root itself may be seen a zombie for a moment before init reaps it.
    root = next(e["root_pid"] for e in events if e["type"] == "run.started")
    zombies = sorted(stints(RunFacts([e for e in events if e.get("pid") != root]), "zombie"))
    assert len(zombies) == 2 and 0.2 < zombies[0] < 0.9 and 1.2 < zombies[1] < 2.5, zombies
    results = check([{"state": {"state": "zombie", "min_s": m}} for m in (0.2, 1, 3)], events)
    assert [r["ok"] for r in results] == [True, True, False]
    ex = Exercise(id="z", lesson="l", goal={"en": "", "zh": ""},
                  expect=[{"state": {"state": "zombie", "min_s": 1}}, {"reaped_by": "parent"}])
    long_goal, reaped = grade(ex, events)
    assert long_goal.passed and reaped.passed
    # The evidence is the event that ended the long stretch: the second child's reaping, after the first's.
    proof = events[long_goal.evidence_seq]
    first = events[reaped.evidence_seq]
    assert proof["type"] == first["type"] == "proc.reaped" and proof["pid"] != first["pid"]
    assert long_goal.evidence_seq > reaped.evidence_seq
    assert evidence({"state": {"state": "zombie", "min_s": 1}}, events[:long_goal.evidence_seq]) is None
