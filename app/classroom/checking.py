"""`python -m app check` for exercises: the reference solution must pass every goal, the starter must not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..msg import Msg, msg
from .exercises import Exercise
from .grading import grade

Events = list[dict[str, Any]]


def check_exercise(exercise: Exercise, run: Callable[[dict[str, str]], Events],
                   lesson_files: dict[str, str]) -> list[Msg]:
    """Problems found (empty when the exercise is sound). `run(files)` runs them in the real sandbox."""
    problems = []
    solved = grade(exercise, run(exercise.files(lesson_files, exercise.solution)))
    for g in solved:
        if not g.passed:
            problems.append(msg("solution_misses", goal=g.id, expect=g.expect))
    started = grade(exercise, run(exercise.files(lesson_files, exercise.starter)))
    if all(g.passed for g in started):
        problems.append(msg("starter_passes"))
    return problems
