"""An imported event checked against docs/events.schema.json: the fields of its type, with the types the
schema gives them, so a recording of the wrong shape is a 422 naming the field rather than a replay page
fed garbage.

Only the part of JSON Schema that file uses (type, const, enum, minimum, required, properties, items, oneOf,
allOf, $ref into $defs, and the top-level `if type is X then …` per event type): the app does not depend on
a JSON Schema library, and a per-type table keeps 500 000 events within seconds.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,), "null": (type(None),),
    "integer": (int,), "number": (int, float),
}


class EventChecker:
    def __init__(self, schema: Schema) -> None:
        self.defs: dict[str, Schema] = schema.get("$defs", {})
        base = {k: v for k, v in schema.items() if k not in ("allOf", "$defs")}
        self.base = base
        self.by_type: dict[str, Schema] = {}
        for rule in schema.get("allOf", []):
            kind = rule.get("if", {}).get("properties", {}).get("type", {}).get("const")
            if isinstance(kind, str) and isinstance(rule.get("then"), dict):
                self.by_type[kind] = rule["then"]

    def problem(self, event: Any) -> tuple[str, str] | None:
        """(the field, what it must be) of the first thing wrong, or None."""
        found = self._check(event, self.base, "")
        if found is None and isinstance(event, dict) and event.get("type") in self.by_type:
            found = self._check(event, self.by_type[event["type"]], "")
        return found

    def _check(self, value: Any, schema: Schema, path: str) -> tuple[str, str] | None:
        if "$ref" in schema:
            return self._check(value, self.defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), path)
        where = path or "the event"
        kinds = schema.get("type")
        if kinds is not None:
            names = [kinds] if isinstance(kinds, str) else list(kinds)
            if not any(_is(value, k) for k in names):
                return where, " or ".join(names)
        if "const" in schema and value != schema["const"]:
            return where, repr(schema["const"])
        if "enum" in schema and value not in schema["enum"]:
            return where, "one of " + ", ".join(map(str, schema["enum"]))
        if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
            return where, f"at least {schema['minimum']}"
        if isinstance(value, dict):
            for key in schema.get("required", []):
                if key not in value:
                    return _join(path, key), "present"
            for key, sub in schema.get("properties", {}).items():
                if key in value and (found := self._check(value[key], sub, _join(path, key))):
                    return found
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                if found := self._check(item, schema["items"], f"{where}[{i}]"):
                    return found
        for sub in schema.get("allOf", []):
            if found := self._check(value, sub, path):
                return found
        if "oneOf" in schema:  # read as "any of": an export of this server must never be refused
            tries = [self._check(value, sub, path) for sub in schema["oneOf"]]
            if all(t is not None for t in tries):
                return where, "one of the shapes docs/events.md gives"
        return None


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
