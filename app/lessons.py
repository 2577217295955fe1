"""Lessons: folders in lessons/ with lesson.md (YAML front matter + bilingual Markdown) and scenario files.

Errors name the file and the line, because instructors write these by hand.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from .classroom.exercises import Exercise, ExerciseError, parse_exercises
from .expectations import METRICS, problem
from .i18n import Lang
from .msg import MAX_SHOWN, Msg, msg, not_utf8, shown
from .sandbox.compile import Language, default_main
from .sandbox.limits import LimitError, Limits
from .sandbox.protocol import Stdio

LANGS = ("en", "zh")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LANG_RE = re.compile(r"^<!--\s*lang:\s*([a-z]{2})\s*-->\s*$")
SCENARIO_EXT = (".py", ".c", ".h", ".txt", ".csv", ".json")
MAX_FILE = 256 * 1024

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


class LessonError(ValueError):
    """A lesson that cannot be loaded: says which file, which line, what was expected.

    `msg` is a code and its parameters (the words: `lessonError.<code>` of the catalogues); `message` is its
    English, for logs and API users.
    """

    def __init__(self, path: Path | str, line: int | None, what: Msg) -> None:
        self.path = str(path)
        self.line = line
        self.msg = what
        self.message = what.text(Lang.EN)
        super().__init__(f"{self.where}: {self.message}")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def text(self, lang: Lang) -> str:
        """file:line: the message, in lang."""
        return f"{self.where}: {self.msg.text(lang)}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "message": self.message, **self.msg.to_dict()}


@dataclass
class Lesson:
    id: str
    order: int
    title: dict[str, str]
    dir: Path
    topic: str = ""
    summary: dict[str, str] = field(default_factory=dict)
    objectives: dict[str, list[str]] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    expect: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    main: str = "main.py"
    stdin: str | None = None
    exercises: list[Exercise] = field(default_factory=list)
    stdio: str | None = None  # protocol.Stdio value: how stdout is buffered (default: as on a terminal)
    twin: str | None = None  # the same lesson in the other language (a lesson id), linked from both pages
    twin_line: int | None = None

    def summary_dict(self) -> dict[str, Any]:
        return {"id": self.id, "order": self.order, "topic": self.topic, "title": self.title,
                "summary": self.summary, "language": Language.of(self.main).value, "twin": self.twin}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary_dict(), "objectives": self.objectives, "limits": self.limits,
                "body_md": self.body, "body_html": {k: _md.render(v) for k, v in self.body.items()},
                "files": self.files, "main": self.main, "questions": self.questions, "expect": self.expect,
                "stdin": self.stdin, "stdio": self.stdio, "exercises": [e.public() for e in self.exercises]}


def _split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """(front matter, body, line number where the body starts)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise LessonError(path, 1, msg("fm_start"))
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise LessonError(path, 1, msg("fm_unclosed"))


def _line_of(node: yaml.Node | None, key: str | None = None) -> int | None:
    """1-based line of a mapping key (or of the node) in lesson.md."""
    if node is None:
        return None
    if key is not None and isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if getattr(k, "value", None) == key:
                return k.start_mark.line + 2  # +1 for 1-based, +1 for the opening '---'
    return node.start_mark.line + 2


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    return None


def _item_lines(seq: yaml.Node | None, n: int) -> list[int | None]:
    """The line of each item of a YAML list (None where unknown), at least n of them."""
    lines: list[int | None] = [_line_of(v) for v in seq.value] if isinstance(seq, yaml.SequenceNode) else []
    return lines + [_line_of(seq)] * (n - len(lines))


def _langs(value: Any, path: Path, line: int | None, name: str, required: bool = True) -> dict[str, str]:
    if value is None and not required:
        return {}
    if isinstance(value, str):
        return {lang: value for lang in LANGS}
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) for lang in LANGS):
        raise LessonError(path, line, msg("langs", name=name, got=shown(value)))
    return {lang: value[lang] for lang in LANGS}


def _body(text: str, path: Path, first_line: int) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for offset, line in enumerate(text.split("\n")):
        m = LANG_RE.match(line.strip())
        if m:
            current = m.group(1)
            if current not in LANGS:
                raise LessonError(path, first_line + offset, msg("body_lang_unknown", lang=shown(current)))
            if current in sections:
                raise LessonError(path, first_line + offset, msg("body_lang_twice", lang=current))
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
        elif line.strip():
            raise LessonError(path, first_line + offset,
                              msg("body_text_before"))
    for lang in LANGS:
        if lang not in sections:
            raise LessonError(path, first_line, msg("body_lang_missing", lang=lang))
    return {lang: "\n".join(lines).strip() + "\n" for lang, lines in sections.items()}


MAX_YAML_NODES = 10_000


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values the YAML document becomes once every alias is expanded (each node counted
    once per place it appears, computed per distinct node so the count itself stays cheap)."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in memo:
            return memo[id(node)]
        memo[id(node)] = MAX_YAML_NODES + 1  # a recursive alias counts as too big
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        memo[id(node)] = n = min(n, MAX_YAML_NODES + 1)
        return n

    return size(root) if root is not None else 0


def load_lesson(folder: Path) -> Lesson:
    path = folder / "lesson.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise LessonError(path, None, msg("missing_lesson_md")) from e
    except UnicodeDecodeError as e:
        raise LessonError(path, None, not_utf8(e)) from e
    fm, body_text, body_line = _split_front_matter(text, path)
    try:
        node = yaml.compose(fm, Loader=yaml.SafeLoader)
        expanded = _expanded_size(node)
        if expanded > MAX_YAML_NODES:  # aliases of aliases: 392 bytes grew into a 175 MiB page
            raise LessonError(path, 2, msg("yaml_bomb", max=MAX_YAML_NODES))
        data = yaml.safe_load(fm)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        raise LessonError(path, line, msg("yaml_invalid", problem=str(getattr(e, "problem", e)))) from e
    except LessonError:
        raise
    except RecursionError as e:  # [[[[… or a block nested thousands deep: PyYAML's composer recurses
        raise LessonError(path, 2, msg("yaml_too_deep")) from e
    except (ValueError, TypeError, OverflowError) as e:  # a value PyYAML reads but cannot build: 2024-13-45
        raise LessonError(path, 2, msg("yaml_invalid", problem=str(e)[:MAX_SHOWN])) from e
    if not isinstance(data, dict):
        raise LessonError(path, 2, msg("fm_mapping"))

    def need(key: str) -> Any:
        if key not in data:
            raise LessonError(path, 2, msg("field_missing", key=key))
        return data[key]

    lid = need("id")
    if not isinstance(lid, str) or not ID_RE.match(lid):
        raise LessonError(path, _line_of(node, "id"), msg("id_shape", got=shown(lid)))
    order = need("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise LessonError(path, _line_of(node, "order"), msg("order_int", got=shown(order)))
    title = _langs(need("title"), path, _line_of(node, "title"), "title")
    summary = _langs(data.get("summary"), path, _line_of(node, "summary"), "summary", required=False)
    objectives_raw = data.get("objectives") or {}
    if not isinstance(objectives_raw, dict) or not all(
            isinstance(objectives_raw.get(lang, []), list) for lang in LANGS):
        raise LessonError(path, _line_of(node, "objectives"), msg("objectives"))
    objectives = {lang: [str(x) for x in objectives_raw.get(lang, [])] for lang in LANGS}
    limits = data.get("limits") or {}
    if not isinstance(limits, dict):
        raise LessonError(path, _line_of(node, "limits"), msg("limits_mapping"))
    try:
        Limits().with_overrides(limits, Limits(**{k: 10**9 for k in Limits().to_dict()}))
    except LimitError as e:
        raise LessonError(path, _line_of(node, "limits"), msg(e.code, **e.params)) from e
    expect = data.get("expect") or []
    if not isinstance(expect, list):
        raise LessonError(path, _line_of(node, "expect"), msg("list_expected", key="expect"))
    expect_node = None
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "expect":
                expect_node = v
    for item, item_line in zip(expect, _item_lines(expect_node, len(expect)), strict=True):
        bad = problem(item)
        if bad:
            raise LessonError(path, item_line, bad)
    questions = data.get("questions") or []
    if not isinstance(questions, list):
        raise LessonError(path, _line_of(node, "questions"), msg("list_expected", key="questions"))
    seen_q: set[str] = set()
    q_node = next((v for k, v in node.value if k.value == "questions"), None) \
        if isinstance(node, yaml.MappingNode) else None
    for qi, q in enumerate(questions):
        qline = _line_of(q_node.value[qi]) if isinstance(q_node, yaml.SequenceNode) else _line_of(node, "questions")
        if not isinstance(q, dict) or not isinstance(q.get("id"), str):
            raise LessonError(path, qline, msg("question_id", got=shown(q)))
        if q["id"] in seen_q:
            raise LessonError(path, qline, msg("question_twice", id=shown(q["id"])))
        seen_q.add(q["id"])
        q["prompt"] = _langs(q.get("prompt"), path, qline, f"questions[{q['id']}].prompt")
        ans = q.get("answer")
        if not isinstance(ans, dict) or ans.get("metric") not in METRICS:
            raise LessonError(path, qline, msg("question_answer", id=shown(q["id"]),
                                                      metrics=", ".join(sorted(METRICS))))
    files: dict[str, str] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in SCENARIO_EXT and not f.name.startswith("."):
            if f.stat().st_size > MAX_FILE:
                raise LessonError(f, None, msg("file_too_big", kib=MAX_FILE // 1024))
            try:
                files[f.name] = f.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise LessonError(f, None, not_utf8(e)) from e
    main = data.get("main") or default_main(files)  # the language follows the entry file: main.py or main.c
    if main not in files:
        raise LessonError(path, _line_of(node, "main"), msg("main_missing", main=shown(main), folder=str(folder)))
    for fname, text in files.items():
        if fname.endswith(".py"):  # any of them may run (child.py, writer.py …): all must compile
            try:
                compile(text, str(folder / fname), "exec")
            except SyntaxError as e:
                raise LessonError(folder / fname, e.lineno, msg("syntax", error=e.msg)) from e
    stdin = data.get("stdin")
    ex_node = next((v for k, v in node.value if k.value == "exercises"), None) \
        if isinstance(node, yaml.MappingNode) else None
    ex_lines = [_line_of(n) for n in ex_node.value] if isinstance(ex_node, yaml.SequenceNode) else \
        [_line_of(node, "exercises")]
    ex_expect_lines = [_item_lines(_value_node(n, "expect"), 0) for n in ex_node.value] \
        if isinstance(ex_node, yaml.SequenceNode) else []
    try:
        exercises = parse_exercises(data.get("exercises"), ex_lines, lid, main, path, ex_expect_lines)
    except ExerciseError as e:
        raise LessonError(e.path, e.line, e.msg) from e
    twin = data.get("twin")
    if twin is not None and not (isinstance(twin, str) and ID_RE.match(twin)):
        raise LessonError(path, _line_of(node, "twin"), msg("twin_shape", got=shown(twin)))
    stdio = data.get("stdio")
    if stdio is not None and stdio not in {s.value for s in Stdio}:
        raise LessonError(path, _line_of(node, "stdio"),
                          msg("stdio", choices=", ".join(s.value for s in Stdio), got=shown(stdio)))
    return Lesson(id=lid, order=order, title=title, dir=folder, topic=str(data.get("topic", "")), summary=summary,
                  objectives=objectives, body=_body(body_text, path, body_line), limits=limits, expect=expect,
                  questions=questions, files=files, main=main, stdin=stdin if isinstance(stdin, str) else None,
                  stdio=stdio, twin=twin, twin_line=_line_of(node, "twin") if twin else None,
                  exercises=exercises)


def _link_twins(lessons: dict[str, Lesson], errors: list[LessonError]) -> None:
    """A twin names a lesson that exists; the link goes both ways (the Python lesson points to its C twin)."""
    for lesson in lessons.values():
        if lesson.twin is None:
            continue
        other = lessons.get(lesson.twin)
        if other is None or other is lesson:
            errors.append(LessonError(lesson.dir / "lesson.md", lesson.twin_line,
                                      msg("twin_unknown", twin=shown(lesson.twin))))
            lesson.twin = None
    for lesson in list(lessons.values()):
        if lesson.twin is not None and lessons[lesson.twin].twin is None:
            lessons[lesson.twin].twin = lesson.id


class LessonStore:
    """All lessons of a directory, reloaded when their files change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lessons: dict[str, Lesson] = {}
        self.errors: list[LessonError] = []
        self._stamp: tuple[tuple[str, float, int], ...] = ()
        self._lock = threading.Lock()
        self._checked = 0.0
        self.reload()

    def _snapshot(self) -> tuple[tuple[str, float, int], ...]:
        out = []
        if self.root.is_dir():
            for dirpath, _dirs, names in os.walk(self.root):
                for n in names:
                    p = os.path.join(dirpath, n)
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    out.append((p, st.st_mtime, st.st_size))
        return tuple(sorted(out))

    def reload(self) -> None:
        with self._lock:
            stamp = self._snapshot()
            lessons: dict[str, Lesson] = {}
            errors: list[LessonError] = []
            if self.root.is_dir():
                for folder in sorted(self.root.iterdir()):
                    if not folder.is_dir() or folder.name.startswith((".", "_")):
                        continue
                    try:
                        lesson = load_lesson(folder)
                    except LessonError as e:
                        errors.append(e)
                        continue
                    if lesson.id in lessons:
                        errors.append(LessonError(folder / "lesson.md", 2,
                                                  msg("id_used", id=shown(lesson.id), dir=str(lessons[lesson.id].dir))))
                        continue
                    lessons[lesson.id] = lesson
            _link_twins(lessons, errors)
            self.lessons, self.errors, self._stamp = lessons, errors, stamp

    def refresh(self, force: bool = False) -> bool:
        """Reload if any file changed; the folder is looked at most once a second, so every request may ask."""
        now = time.monotonic()
        if not force and now - self._checked < 1.0:
            return False
        self._checked = now
        if self._snapshot() != self._stamp:
            self.reload()
            return True
        return False

    def ordered(self) -> list[Lesson]:
        return sorted(self.lessons.values(), key=lambda x: (x.order, x.id))

    def get(self, lesson_id: str) -> Lesson | None:
        return self.lessons.get(lesson_id)
