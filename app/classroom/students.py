"""Student nicknames: what a valid one is, and the per-room cookie that identifies a student's browser."""

from __future__ import annotations

import unicodedata

MAX_NAME = 40


def cookie_name(room: str) -> str:
    """One cookie per room: a student is one identity across their tabs in that room."""
    return f"pl_student_{room.upper()}"


def check_name(name: str) -> str:
    """The nickname, trimmed; ValueError saying what is expected otherwise."""
    name = name.strip()
    if not name:
        raise ValueError("name must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"name must be at most {MAX_NAME} characters, got {len(name)}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise ValueError("name must not contain control characters")
    return name
