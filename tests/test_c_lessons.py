"""C lessons in the store: the language follows the entry file, twins link both ways, bad front matter
names its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from app.lessons import LessonError, LessonStore, load_lesson
from app.sandbox.compile import Language, default_main

STORE = LessonStore(ROOT / "lessons")
C_LESSONS = sorted(i for i, lesson in STORE.lessons.items() if lesson.main.endswith(".c"))


def test_the_course_has_at_least_eight_c_lessons_on_the_required_topics() -> None:
    assert len(C_LESSONS) >= 8, C_LESSONS
    text = " ".join(STORE.lessons[i].files["main.c"] for i in C_LESSONS)
    for call in ("fork(", "waitpid(", "execvp(", "dup2(", "pipe(", "mkfifo(", "sigaction(", "SIGKILL", "SIGSTOP",
                 "SIGCONT", "SIGCHLD"):
        assert call in text, f"no C lesson uses {call}"
    topics = {STORE.lessons[i].topic for i in C_LESSONS}
    assert {"fork", "wait", "exec", "pipe", "zombie", "orphan", "signal", "fifo"} <= topics, topics


def test_language_is_decided_by_the_entry_file() -> None:
    assert default_main({"main.c": ""}) == "main.c"
    assert default_main({"main.py": "", "main.c": ""}) == "main.py"
    assert default_main({"notes.txt": ""}) == "main.py"
    assert Language.of("prog.c") is Language.C and Language.of("main.py") is Language.PYTHON
    for i in C_LESSONS:
        assert STORE.lessons[i].summary_dict()["language"] == "c"
    assert STORE.lessons["fork-basics"].summary_dict()["language"] == "python"


def test_twins_link_both_ways() -> None:
    assert STORE.lessons["c-fork"].twin == "fork-basics"
    assert STORE.lessons["fork-basics"].twin == "c-fork"
    for i in C_LESSONS:
        twin = STORE.lessons[i].twin
        if twin is not None:
            assert STORE.lessons[twin].main == "main.py", (i, twin)


@pytest.mark.parametrize(("line", "expected"), [("twin: no-such-lesson", "'twin' 'no-such-lesson' is not the id"),
                                                ("stdio: tty", "'stdio' must be one of terminal, pipe")])
def test_bad_front_matter_names_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    dest = tmp_path / "lessons" / "27-c-fork"
    shutil.copytree(ROOT / "lessons" / "27-c-fork", dest)
    md = dest / "lesson.md"
    text = md.read_text().replace("twin: fork-basics\n", line + "\n")
    md.write_text(text)
    want_line = text.splitlines().index(line) + 1
    store = LessonStore(tmp_path / "lessons")
    if line.startswith("stdio"):
        with pytest.raises(LessonError) as err:
            load_lesson(dest)
        errors = [err.value]
    else:
        errors = store.errors
    assert [(e.path, e.line) for e in errors] == [(str(md), want_line)], errors
    assert expected in errors[0].message
