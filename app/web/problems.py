"""ProcLab's own error answers (403, 404, 409, 413, 429, 503 …) as a code and its parameters.

The body is `{"detail": "<English>", "code": "<code>", "params": {...}}`: `detail` for API users and logs,
the code for the pages, which show `error.<code>` of static/i18n/ in the reader's language (static/js/api.js).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

from ..i18n import Lang, translate

MAX_ECHO = 200


def english(code: str, **params: Any) -> str:
    """The English of an error code (the catalogue's `error.<code>`)."""
    return translate(Lang.EN, f"error.{code}", **params)


class Problem(HTTPException):
    """An HTTPException whose words live in the catalogues: raise Problem(404, "no_run", run=run_id)."""

    def __init__(self, status: int, code: str, headers: dict[str, str] | None = None, **params: Any) -> None:
        # What the caller sent comes back at most MAX_ECHO characters long (a 5000-character run id did in full).
        params = {k: v[:MAX_ECHO] + "…" if isinstance(v, str) and len(v) > MAX_ECHO else v for k, v in params.items()}
        super().__init__(status, english(code, **params), headers=headers)
        self.code = code
        self.params = params

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, "params": self.params}


def problem_bytes(code: str, **params: Any) -> bytes:
    """The body of a Problem for code that answers below FastAPI (the ASGI guards)."""
    return json.dumps({"detail": english(code, **params), "code": code, "params": params}).encode()
