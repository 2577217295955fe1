"""The UI's words on the server side: the same catalogues as the scripts (static/i18n/<lang>.json).

Templates call `t(key, **params)` in the page's language (the `lang` of the template context); the
scripts re-translate `data-i18n` elements when the user switches language, from the same files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from .settings import ROOT

CATALOGUES = ROOT / "static" / "i18n"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Lang(StrEnum):
    EN = "en"
    ZH = "zh"


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    """The catalogue of one language; raises ValueError naming the file when it is not a flat JSON object."""
    path = CATALOGUES / f"{lang.value}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a JSON object of key → string")
    return data


def to_lang(value: object) -> Lang:
    """The page language for a context value ("zh", "zh-CN", None …); English unless it is Chinese."""
    return Lang.ZH if isinstance(value, str) and value.lower().startswith("zh") else Lang.EN


def from_environment(environ: Mapping[str, str]) -> Lang:
    """The terminal's language, as POSIX picks it: LC_ALL, then LC_MESSAGES, then LANG (zh_CN.UTF-8 → Chinese)."""
    return to_lang(next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), None))


def translate(lang: Lang, key: str, /, **params: Any) -> str:
    """The text of key in lang (English, then the key itself, when missing), with {name} filled in."""
    text = catalogue(lang).get(key) or catalogue(Lang.EN).get(key) or key
    if not params:
        return text
    return _PLACEHOLDER.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], text)


@pass_context
def _t(context: Context, key: str, **params: Any) -> str:
    return translate(to_lang(context.get("lang")), key, **params)


def has(key: str) -> bool:
    """Whether the catalogues have key (e.g. a lesson's topic, which may be one no catalogue names)."""
    return key in catalogue(Lang.EN)


def install(env: Environment) -> None:
    """Give every template `t()` and `has()`."""
    env.globals["t"] = _t
    env.globals["has"] = has
