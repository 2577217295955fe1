"""Exercises in a lesson's front matter: a goal, expectations (app/expectations.py), hints, starter, solution.

    exercises:
      - id: reap-the-zombie
        goal: {en: "...", zh: "..."}
        expect: [{state: zombie}, {reaped_by: parent}]
        hints: {en: ["..."], zh: ["..."]}

The student's starting point is `exercises/<id>/starter.py` and the reference solution
`exercises/<id>/solution.py`, both in the lesson folder; either replaces the lesson's main file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..expectations import problem
from ..msg import Msg, msg, not_utf8, shown

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LANGS = ("en", "zh")


class ExerciseError(ValueError):
    """A malformed exercise: the loader turns it into a LessonError with the file and line."""

    def __init__(self, path: Path, line: int | None, what: Msg) -> None:
        super().__init__(what.text())
        self.path = path
        self.line = line
        self.msg = what


@dataclass
class Exercise:
    id: str
    lesson: str
    goal: dict[str, str]
    expect: list[dict[str, Any]]
    hints: dict[str, list[str]] = field(default_factory=dict)
    starter: str = ""
    solution: str = ""
    main: str = "main.py"

    def files(self, lesson_files: dict[str, str], code: str) -> dict[str, str]:
        """The lesson's files with `code` as the main file."""
        return {**lesson_files, self.main: code}

    def public(self, instructor: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "lesson": self.lesson, "goal": self.goal, "expect": self.expect,
                               "hints": self.hints, "starter": {self.main: self.starter}, "main": self.main}
        if instructor:
            out["solution"] = {self.main: self.solution}
        return out


def _text(value: Any, path: Path, line: int | None, name: str) -> dict[str, str]:
    if isinstance(value, str):
        return {lang: value for lang in LANGS}
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) for lang in LANGS):
        raise ExerciseError(path, line, msg("langs", name=name, got=shown(value)))
    return {lang: value[lang] for lang in LANGS}


def _read(path: Path, lesson_md: Path, line: int | None) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ExerciseError(lesson_md, line, msg("ex_file_missing", path=str(path))) from e
    except UnicodeDecodeError as e:
        raise ExerciseError(path, None, not_utf8(e)) from e
    try:
        compile(text, str(path), "exec")
    except SyntaxError as e:
        raise ExerciseError(path, e.lineno, msg("syntax", error=e.msg)) from e
    return text


def parse_exercises(raw: Any, lines: list[int | None], lesson_id: str, main: str, lesson_md: Path,
                    expect_lines: list[list[int | None]] | None = None) -> list[Exercise]:
    """`lines[i]`: the line of exercise i in lesson.md, `expect_lines[i][j]` of its expectation j (for errors)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ExerciseError(lesson_md, lines[0] if lines else None, msg("list_expected", key="exercises"))
    out: list[Exercise] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        line = lines[i] if i < len(lines) else None
        if not isinstance(item, dict):
            raise ExerciseError(lesson_md, line, msg("ex_shape", got=shown(item)))
        eid = item.get("id")
        if not isinstance(eid, str) or not ID_RE.match(eid):
            raise ExerciseError(lesson_md, line, msg("ex_id", got=shown(eid)))
        if eid in seen:
            raise ExerciseError(lesson_md, line, msg("ex_twice", id=shown(eid)))
        seen.add(eid)
        expect = item.get("expect")
        if not isinstance(expect, list) or not expect:
            raise ExerciseError(lesson_md, line, msg("ex_expect", id=shown(eid)))
        item_lines = (expect_lines[i] if expect_lines and i < len(expect_lines) else [])
        for j, e in enumerate(expect):
            bad = problem(e)
            if bad:
                raise ExerciseError(lesson_md, item_lines[j] if j < len(item_lines) else line,
                                    msg("ex_bad", id=shown(eid), problem=bad))
        hints_raw = item.get("hints") or {}
        if not isinstance(hints_raw, dict) or not all(isinstance(hints_raw.get(lang, []), list) for lang in LANGS):
            raise ExerciseError(lesson_md, line, msg("ex_hints", id=shown(eid)))
        folder = lesson_md.parent / "exercises" / eid
        out.append(Exercise(id=eid, lesson=lesson_id, goal=_text(item.get("goal"), lesson_md, line, f"{eid}.goal"),
                            expect=expect, hints={lang: [str(h) for h in hints_raw.get(lang, [])] for lang in LANGS},
                            starter=_read(folder / "starter.py", lesson_md, line),
                            solution=_read(folder / "solution.py", lesson_md, line), main=main))
    return out
