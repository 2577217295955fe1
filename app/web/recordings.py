"""Reading a recording someone uploads (POST /api/runs/import): any shape of bad input is a 422 that
says which line and what was expected, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from ..settings import ROOT
from .eventcheck import EventChecker
from .submission import check_files, invalid

MAX_DEPTH = 16  # events nest a few levels (stats, why, line); a recording nested deeper is not ours
MAX_EVENTS = 500_000


def _schema() -> dict[str, Any]:
    try:
        schema = json.loads((ROOT / "docs" / "events.schema.json").read_text())
        return schema if isinstance(schema, dict) else {}
    except (OSError, ValueError):  # a deployment without docs/: accept any type name and shape
        return {}


SCHEMA = _schema()
TYPES = frozenset(SCHEMA.get("properties", {}).get("type", {}).get("enum", []))
CHECKER = EventChecker(SCHEMA)


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


# A \uD800-\uDFFF escape: JSON allows it alone, but a lone surrogate is not text (no UTF-8 for it), so the
# recording could be read but never stored or sent again. Only a line with such an escape is checked whole.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _not_a_number(word: str) -> NoReturn:
    raise ValueError(f"{word} is not a JSON number")


def _line(text: str, n: int) -> Any:
    try:
        value = json.loads(text, parse_constant=_not_a_number)  # NaN and Infinity: Python's JSON, not JSON
    except RecursionError:
        invalid(["body", f"line {n}"], f"line {n} is nested too deeply (at most {MAX_DEPTH} levels)",
                code="recording_too_deep", line=n, max=MAX_DEPTH)
    except ValueError as e:
        invalid(["body", f"line {n}"], f"line {n} is not JSON: {e}", code="recording_not_json", line=n, error=str(e))
    if _too_deep(value, MAX_DEPTH):
        invalid(["body", f"line {n}"], f"line {n} is nested too deeply (at most {MAX_DEPTH} levels)",
                code="recording_too_deep", line=n, max=MAX_DEPTH)
    if SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            invalid(["body", f"line {n}"], f"line {n} holds a lone surrogate (\\ud800 to \\udfff), which is not text",
                    code="recording_surrogate", line=n)
    return value


def _type_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def parse_recording(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the header's run, the events), checked."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        invalid(["body"], f"a recording is UTF-8 text (byte {e.start} is not)", code="recording_not_utf8", byte=e.start)
    # Lines end at \n only: str.splitlines() also splits at U+2028, U+0085 …, which an export holds as they are
    # (json.dumps with ensure_ascii=False), so a program that printed one could not be imported back.
    lines = [(i + 1, line) for i, line in enumerate(text.split("\n")) if line.strip()]
    if not lines:
        invalid(["body"], "the recording is empty: expected the header line, then one event per line",
                code="recording_empty")
    if len(lines) > MAX_EVENTS + 1:
        invalid(["body"], f"a recording has at most {MAX_EVENTS} events", code="recording_too_long", max=MAX_EVENTS)
    n, first = lines[0]
    header = _line(first, n)
    if not isinstance(header, dict) or header.get("proclab_recording") != 1 or not isinstance(header.get("run"), dict):
        invalid(["body", "line 1"], 'line 1 must be the recording header {"proclab_recording": 1, "run": {...}}',
                code="recording_header")
    meta: dict[str, Any] = header["run"]
    for key, kinds, what in (("lesson", (str, type(None)), "a string or null"),
                             ("files", (dict, type(None)), "an object of file name -> content"),
                             ("result", (dict, type(None)), "an object or null"),
                             ("answers", (dict, type(None)), "an object or null"),
                             ("id", (str, type(None)), "a string or null")):
        if key in meta and not isinstance(meta[key], kinds):
            invalid(["body", "line 1", "run", key], f"run.{key} must be {what}, not {_type_of(meta[key])}",
                    code="recording_field", field=f"run.{key}")
    check_files(meta.get("files") or {}, ["body", "line 1", "run", "files"])
    events: list[dict[str, Any]] = []
    for i, (n, line) in enumerate(lines[1:]):
        ev = _line(line, n)
        if not isinstance(ev, dict):
            invalid(["body", f"line {n}"], f"line {n}: an event is an object, not {_type_of(ev)}",
                    code="recording_event", line=n)
        if ev.get("seq") != i or isinstance(ev.get("seq"), bool):
            invalid(["body", f"line {n}", "seq"], f"line {n}: expected the event with seq {i}", code="recording_seq",
                    line=n, seq=i)
        kind = ev.get("type")
        if not isinstance(kind, str) or (TYPES and kind not in TYPES):
            invalid(["body", f"line {n}", "type"], f"line {n}: type must be one of the event types of "
                    "docs/events.md", code="recording_type", line=n)
        if not isinstance(ev.get("t", 0), int) or isinstance(ev.get("t"), bool) or ev.get("t", 0) < 0:
            invalid(["body", f"line {n}", "t"], f"line {n}: t must be a whole number of nanoseconds >= 0",
                    code="recording_t", line=n)
        wrong = CHECKER.problem(ev) if SCHEMA else None
        if wrong is not None:
            field, expected = wrong
            invalid(["body", f"line {n}", field], f"line {n}: {field} of a {kind} event must be {expected}"[:300],
                    code="recording_event_field", line=n, field=field[:80], type=kind, expected=expected[:200])
        events.append(ev)
    return meta, events
