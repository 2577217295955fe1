"""The progress matrix (students x exercises) and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from .exercises import Exercise


class Cell:
    PASSED = "passed"
    TRIED = "tried"
    NOT_TRIED = "not_tried"


def matrix(students: list[dict[str, Any]], exercises: list[Exercise],
           rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["student"], r["lesson"], r["exercise"]): r for r in rows}
    out_rows = []
    for s in students:
        cells = {}
        for ex in exercises:
            r = by.get((s["id"], ex.lesson, ex.id))
            if r is None:
                cells[f"{ex.lesson}/{ex.id}"] = {"state": Cell.NOT_TRIED, "attempts": 0, "time_s": None}
                continue
            took = round(r["passed_at"] - r["first_try"], 1) if r["passed_at"] else None
            cells[f"{ex.lesson}/{ex.id}"] = {"state": Cell.PASSED if r["passed"] else Cell.TRIED,
                                             "attempts": r["attempts"], "time_s": took, "run": r["last_run"]}
        out_rows.append({"student": s["id"], "name": s["name"], "cells": cells})
    return {"exercises": [{"key": f"{e.lesson}/{e.id}", "lesson": e.lesson, "id": e.id, "goal": e.goal}
                          for e in exercises], "students": out_rows}


MARK = {Cell.PASSED: "✓", Cell.TRIED: "✗", Cell.NOT_TRIED: ""}


def to_csv(m: dict[str, Any]) -> str:
    """One row per student, one column per exercise ("✓ 2" = passed in 2 attempts, "✗ 3" = 3 tries).

    Starts with a BOM so spreadsheets read the UTF-8 (Chinese nicknames) correctly.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    keys = [e["key"] for e in m["exercises"]]
    w.writerow(["student", *keys, "passed"])
    for row in m["students"]:
        cells = [row["cells"][k] for k in keys]
        w.writerow([_cell_text(row["name"]), *[f"{MARK[c['state']]} {c['attempts']}".strip() if c["attempts"] else ""
                                   for c in cells],
                    sum(1 for c in cells if c["state"] == Cell.PASSED)])
    return "\ufeff" + buf.getvalue()


def _cell_text(text: str) -> str:
    """A spreadsheet must not run a nickname as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
