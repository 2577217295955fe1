"""python -m app check: every lesson runs in the real sandbox and must show what its text claims."""

from __future__ import annotations

import functools
import sys
from typing import Any

from .classroom.checking import check_exercise
from .expectations import check
from .i18n import Lang
from .lessons import Lesson, LessonStore
from .msg import msg
from .outcome import stream_run
from .runspec import build_spec
from .sandbox.client import Launcher, LauncherError
from .settings import Settings


def run_lesson(settings: Settings, launcher: Launcher, lesson: Lesson) -> list[dict[str, Any]]:
    spec = build_spec(settings, launcher, lesson.files, lesson.main, lesson.id, lesson.limits, lesson.stdin,
                      stdio=lesson.stdio)
    return list(stream_run(launcher, spec, lesson.questions))


def run_files(settings: Settings, launcher: Launcher, lesson: Lesson, files: dict[str, str]) -> list[dict[str, Any]]:
    spec = build_spec(settings, launcher, files, lesson.main, lesson.id, lesson.limits, lesson.stdin,
                      stdio=lesson.stdio)
    return list(stream_run(launcher, spec))


def check_lessons(settings: Settings, ids: list[str], verbose: bool = False, lang: Lang = Lang.EN) -> int:
    """Print each lesson's result in lang (the catalogue's `lessonError.check.*`); 0 when every one passes."""

    def say(code: str, indent: str = "", **params: Any) -> None:
        print(indent + msg(f"check.{code}", **params).text(lang))

    store = LessonStore(settings.lessons_dir)
    failed = 0
    for err in store.errors:
        say("error", error=err.text(lang))
        failed += 1
    chosen = store.ordered()
    if ids:
        unknown = [i for i in ids if i not in store.lessons]
        if unknown:
            say("unknown", ids=", ".join(unknown), known=", ".join(sorted(store.lessons)))
            return 2
        chosen = [store.lessons[i] for i in ids]
    try:
        launcher = Launcher.create(settings.runtime_dir, settings.uid_base, 1, settings.run_python,
                                   settings.disabled)
        launcher.start()
    except LauncherError as e:
        say("no_sandbox", error=str(e))
        return 2
    total_ex = 0
    try:
        for lesson in chosen:
            events = run_lesson(settings, launcher, lesson)
            results = check(lesson.expect, events)
            bad = [r for r in results if not r["ok"]]
            fin = events[-1] if events else {}
            status = "ok" if not bad else "FAIL"
            say("lesson", status=f"{status:4}", id=lesson.id, passed=len(results) - len(bad), total=len(results),
                run=fin.get("status"), ms=fin.get("duration_ms"))
            for r in bad:
                say("not_seen", "       ", expect=r["expect"])
            if verbose:
                for qid, value in fin.get("answers", {}).items():
                    say("question", "       ", id=qid, value=repr(value))
            if bad:
                failed += 1
                if verbose:
                    out = "".join(e["text"] for e in events if e["type"] == "io.output")
                    say("output", "       ")
                    print("\n".join("         " + x for x in out.splitlines()[-20:]))
            for ex in lesson.exercises:
                problems = check_exercise(ex, functools.partial(run_files, settings, launcher, lesson), lesson.files)
                if problems:
                    say("exercise_fail", id=lesson.id, ex=ex.id, problems="; ".join(p.text(lang) for p in problems))
                else:
                    say("exercise_ok", id=lesson.id, ex=ex.id)
                failed += bool(problems)
                total_ex += 1
    finally:
        launcher.stop()
    total = len(chosen) + len(store.errors) + total_ex
    say("total", passed=total - failed, failed=failed)
    sys.stdout.flush()
    return 1 if failed else 0
