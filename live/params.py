"""Validation for every control surface, on the one parameter registry (`engine/params.py`, re-exported
here). A value from any surface goes through `Registry.coerce`, which checks its type, clamps it into range
(or refuses it) and counts every problem by kind, so bad input is never applied raw and never stops the
music. `markdown_table` writes the README's parameter table from the registry.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from ..engine.params import BY_NAME, MAX_TEXT, PARAMS, SCENES, SLOTS, STATUS, Param

__all__ = ["BY_NAME", "MAX_TEXT", "PARAMS", "SCENES", "SLOTS", "Param", "BadValue", "Registry", "markdown_table",
           "status_table"]

log = logging.getLogger("mg-live")


class BadValue(ValueError):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Registry:
    """Validation and bad-input accounting shared by every control surface (thread-safe)."""

    def __init__(self):
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, kind: str, message: str) -> None:
        with self._lock:
            self.errors[kind] += 1
            first = self.errors[kind] == 1
        if first:  # logged once per kind; the counter keeps the rest
            log.warning("ignored %s: %s (further ones are counted, not logged)", kind, message)

    def coerce(self, name: str, value):
        """A surface's raw value → the value the engine gets. Raises BadValue (already counted)."""
        param = BY_NAME.get(name)
        try:
            if param is None:
                raise BadValue("unknown parameter", f"no parameter {name!r}")
            return self._coerce(param, value)
        except BadValue as e:
            self.count(e.kind, str(e))
            raise

    def _coerce(self, param: Param, value):
        if param.kind == "action":  # an argument it takes is optional (record: a file name, or one made up)
            return None if not param.takes or value is None else self._text(param, value)
        if param.kind == "text":
            return self._text(param, value)
        if param.kind == "choice":
            try:
                return param.choose(value)
            except ValueError as e:
                raise BadValue("out of range", str(e)) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadValue("wrong type", f"{param.name} takes a number, got {value!r}")
        if value != value:  # NaN
            raise BadValue("wrong type", f"{param.name}: NaN")
        if not param.minimum <= value <= param.maximum:
            if not param.clamp:
                raise BadValue("out of range", f"{param.name}={value} outside {param.minimum}–{param.maximum}")
            self.count("out of range (clamped)", f"{param.name}={value} clamped to {param.minimum}–{param.maximum}")
            value = min(max(value, param.minimum), param.maximum)
        return int(round(value)) if param.kind == "int" else float(value)

    @staticmethod
    def _text(param: Param, value) -> str:
        if not isinstance(value, str):
            raise BadValue("wrong type", f"{param.name} takes text, got {value!r}")
        if len(value) > MAX_TEXT:
            raise BadValue("too long", f"{param.name}: {len(value)} characters (at most {MAX_TEXT})")
        return value


def markdown_table() -> str:
    """The README's parameter table (a test checks the README holds exactly this)."""
    rows = ["| OSC address | args | range | default | parameter | meaning |", "|---|---|---|---|---|---|"]
    for p in PARAMS:
        default = "" if p.default is None else f"{p.default:g}" if isinstance(p.default, (int, float)) else str(p.default)
        args = p.takes or p.osc_type
        rows.append(f"| `{p.osc}` | {args} | {p.range_text} | {default} | {p.name} | {p.doc} |")
    return "\n".join(rows)


def status_table() -> str:
    """The README's telemetry table (a test checks the README holds exactly this)."""
    rows = ["| address | unit | meaning |", "|---|---|---|"]
    rows += [f"| `/mg/status/{name}` | {unit} | {meaning} |" for name, (unit, meaning) in STATUS.items()]
    return "\n".join(rows)
