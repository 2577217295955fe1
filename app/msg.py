"""A lesson author's error as a code and its parameters; the words live in the catalogues (`lessonError.<code>`).

A parameter may itself be a Msg (an expectation's problem inside "expectation 'state': …"): it is put into
words in the same language. `to_dict()` is what the API sends; the pages translate it (static/js/api.js).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .i18n import Lang, translate

PREFIX = "lessonError."
MAX_SHOWN = 200


def shown(value: Any) -> str:
    """A value the author wrote, as it appears in a message (its repr, cut short)."""
    return repr(value)[:MAX_SHOWN]


@dataclass(frozen=True)
class Msg:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: Lang = Lang.EN) -> str:
        params = {k: v.text(lang) if isinstance(v, Msg) else v for k, v in self.params.items()}
        return translate(lang, PREFIX + self.code, **params)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code,
                "params": {k: v.to_dict() if isinstance(v, Msg) else v for k, v in self.params.items()}}


def msg(code: str, **params: Any) -> Msg:
    return Msg(code, params)


def not_utf8(e: UnicodeDecodeError) -> Msg:
    return msg("not_utf8", at=e.start)
