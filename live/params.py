"""The one parameter registry. OSC addresses, MIDI targets, the console's fields and the README table are
all generated from `PARAMS`; nothing else lists parameters.

A value from any surface goes through `Registry.coerce`, which checks its type, clamps it into range (or
refuses it) and counts every problem by kind, so bad input is never applied raw and never stops the music.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger("mg-live")

SLOTS = 8  # blend slots 1..8 (slot 0 is the main prompt)
MAX_TEXT = 500


@dataclass(frozen=True)
class Param:
    name: str  # the engine's name
    kind: str  # float | int | text | action
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    default: object = None
    unit: str = ""
    smoothing: float = 0.0  # seconds a new value glides over (scalars)
    osc_name: str = ""  # address below /mg/ when it differs from the name
    clamp: bool = True  # out of range: clamp (and count) or refuse (and count)
    engine: bool = True  # False: handled by the app (quit, recording), not the engine

    @property
    def osc(self) -> str:
        return "/mg/" + (self.osc_name or self.name)

    @property
    def osc_type(self) -> str:
        return {"float": "f", "int": "i", "text": "s", "action": "—"}[self.kind]

    @property
    def range_text(self) -> str:
        if self.minimum is None:
            return ""
        text = f"{self.minimum:g}–{self.maximum:d}" if self.kind == "int" else f"{self.minimum:g}–{self.maximum:g}"
        return text + (f" {self.unit}" if self.unit else "")

    @property
    def midi_target(self) -> bool:
        """Scalars take a CC; actions and texts a note."""
        return self.kind in ("float", "int")


PARAMS: list[Param] = [
    Param("prompt", "text", "new prompt; morphs in over `morph` seconds"),
    Param("negative", "text", "negative prompt, used in the guidance branch (\"\" clears)"),
    Param("cfg", "float", "guidance scale: how strongly the prompt steers", 0.0, 15.0, 3.0, smoothing=0.1),
    Param("temperature", "float", "sampling temperature: higher is wilder", 0.05, 3.0, 1.0, smoothing=0.1),
    Param("top_k", "int", "sample among the k most likely tokens (0 off, 1 greedy)", 0, 2048, 250, osc_name="topk"),
    Param("top_p", "float", "nucleus sampling mass (0 off)", 0.0, 1.0, 0.0, osc_name="topp"),
    Param("window", "float", "seconds of past music kept when the decoder re-primes", 2.0, 30.0, 10.0, "s"),
    Param("morph", "float", "seconds a new prompt takes to morph in", 0.0, 30.0, 2.0, "s"),
    Param("seed", "int", "reseed the sampler", 0, 2**31 - 1, 0, clamp=False),
    Param("slot_prompt", "text", "prompt of blend slot N (1–8)", osc_name="slot/N/prompt"),
    Param("slot_weight", "float", "weight of blend slot N (a new slot is silent until weighted; morphs)", 0.0, 1.0,
          0.0, osc_name="slot/N/weight"),
    Param("melody", "text", "melody models: follow a recording's melody (a file in the session folder; \"\" clears)"),
    Param("play", "action", "resume after pause"),
    Param("pause", "action", "stop generating; the buffer plays out into silence"),
    Param("reset", "action", "start the music over from nothing (the stream goes on)"),
    Param("record", "action", "start recording to a file name in the session folder (s)", engine=False),
    Param("record_stop", "action", "stop recording", osc_name="record/stop", engine=False),
    Param("quit", "action", "stop mg-live cleanly", engine=False),
]
BY_NAME = {p.name: p for p in PARAMS}


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
        if param.kind == "action":
            return None if param.name != "record" else self._text(param, value)
        if param.kind == "text":
            return self._text(param, value)
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
        args = "s" if p.name == "record" else p.osc_type
        rows.append(f"| `{p.osc}` | {args} | {p.range_text} | {default} | {p.name} | {p.doc} |")
    return "\n".join(rows)
