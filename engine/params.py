"""The one parameter registry: every control of a performance, its type, range, default, unit and doc,
and the engine method that applies it. OSC addresses, MIDI targets, the console's rows, the patches, the
command-line flags and the README table are all generated from `PARAMS`; nothing else lists parameters.

Pure data: both command lines and every control surface import it (the engine never imports live/).
"""

from __future__ import annotations

from dataclasses import dataclass

from .tempo import GRIDS

SLOTS = 8  # blend slots 1..8 (slot 0 is the main prompt)
SCENES = 64  # scenes 1..64
MAX_TEXT = 500  # characters of a prompt


@dataclass(frozen=True)
class Param:
    name: str  # the engine's name
    kind: str  # float | int | text | choice | action
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    default: object = None
    unit: str = ""
    smoothing: float = 0.0  # seconds a new value glides over (scalars)
    osc_name: str = ""  # address below /mg/ when it differs from the name
    clamp: bool = True  # out of range: clamp (and count) or refuse (and count)
    setter: str = ""  # the StreamingEngine method that applies it; "" for what the app handles (quit)
    prepared: bool = False  # its work (text encoding, a file) is done off the frame path; it applies when ready
    takes: str = ""  # an action's optional argument (record: a file name)
    choices: tuple = ()  # a choice's values (OSC sends the word or its index)
    numbered: tuple | None = None  # (first, last) N of an address with /N/ (slots, scenes)
    quantized: bool = False  # lands on the grid's next line when /mg/quantize is on

    @property
    def osc(self) -> str:
        return "/mg/" + (self.osc_name or self.name)

    @property
    def osc_type(self) -> str:
        return {"float": "f", "int": "i", "text": "s", "choice": "s", "action": "—"}[self.kind]

    @property
    def range_text(self) -> str:
        if self.choices:
            return "|".join(self.choices)
        if self.minimum is None:
            return ""
        text = f"{self.minimum:g}–{self.maximum:d}" if self.kind == "int" else f"{self.minimum:g}–{self.maximum:g}"
        return text + (f" {self.unit}" if self.unit else "")

    @property
    def midi_target(self) -> bool:
        """Scalars and choices take a CC; actions and texts a note."""
        return self.kind in ("float", "int", "choice")

    def choose(self, value) -> str:
        """A choice's value from its word (any case, spaces optional) or its index, or ValueError."""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value):
            if 0 <= value < len(self.choices):
                return self.choices[int(value)]
        elif isinstance(value, str):
            squeeze = lambda text: text.replace(" ", "").lower()
            for choice in self.choices:
                if squeeze(choice) == squeeze(value):
                    return choice
        raise ValueError(f"{self.name} is one of {', '.join(self.choices)} (or 0–{len(self.choices) - 1}), "
                         f"got {value!r}")

    def check(self, value):
        """A value for this parameter, or ValueError saying why not (the command lines' check)."""
        if self.choices:
            return self.choose(value)
        value = float(value) if self.kind == "float" else int(value)
        if value != value or not self.minimum <= value <= self.maximum:
            raise ValueError(f"{self.name} must be between {self.minimum:g} and {self.maximum:g}"
                             + (f" {self.unit}" if self.unit else ""))
        return value


PARAMS: list[Param] = [
    Param("prompt", "text", "new prompt; morphs in over `morph` seconds", setter="set_prompt", prepared=True,
          quantized=True),
    Param("negative", "text", "negative prompt, used in the guidance branch (\"\" clears)", setter="set_negative",
          prepared=True, quantized=True),
    Param("cfg", "float", "guidance scale: how strongly the prompt steers", 0.0, 15.0, 3.0, smoothing=0.1,
          setter="set_sampling"),
    Param("temperature", "float", "sampling temperature: higher is wilder", 0.05, 3.0, 1.0, smoothing=0.1,
          setter="set_sampling"),
    Param("top_k", "int", "sample among the k most likely tokens (0 off, 1 greedy)", 0, 2048, 250, osc_name="topk",
          setter="set_sampling"),
    Param("top_p", "float", "nucleus sampling mass (0 off)", 0.0, 1.0, 0.0, osc_name="topp", setter="set_sampling"),
    Param("window", "float", "seconds of past music kept when the decoder re-primes (the rest of its 30 s is new)",
          2.0, 25.0, 10.0, "s", setter="set_window"),
    Param("morph", "float", "seconds a new prompt takes to morph in", 0.0, 30.0, 2.0, "s", setter="set_morph"),
    Param("seed", "int", "reseed the sampler", 0, 2**31 - 1, 0, clamp=False, setter="set_seed"),
    Param("slot_prompt", "text", "prompt of blend slot N (1–8)", osc_name="slot/N/prompt", setter="set_slot_prompt",
          prepared=True, numbered=(0, SLOTS), quantized=True),
    Param("slot_weight", "float", "weight of blend slot N (a new slot is silent until weighted; morphs)", 0.0, 1.0,
          0.0, osc_name="slot/N/weight", setter="set_slot_weight", prepared=True, numbered=(0, SLOTS), quantized=True),
    Param("bpm", "float", "tempo of the timeline (a MIDI clock or Ableton Link, while it runs, sets it instead)",
          20.0, 300.0, 120.0, "bpm", setter="set_bpm"),
    Param("grid", "choice", "quantized changes: prompt, slot, scene and melody changes land on the next line of "
          "this grid, as heard", default="off", choices=tuple(GRIDS), osc_name="quantize", setter="set_grid"),
    Param("tempo_prompt", "int", "append the tempo to every prompt (\", 124 bpm\"): nudges the feel, not a lock",
          0, 1, 0, setter="set_tempo_prompt", prepared=True),
    Param("melody", "text", "melody models: follow a recording's melody (a file in the session folder; \"\" clears)",
          setter="set_melody", prepared=True, quantized=True),
    Param("scene_save", "action", "keep what plays now as scene N (prompts, slots, negative, sampling, melody, "
          "window; saved with the session)", osc_name="scene/N/save", numbered=(1, SCENES)),
    Param("scene_recall", "action", "morph to scene N over `morph` seconds", osc_name="scene/N/recall",
          setter="recall_scene", prepared=True, numbered=(1, SCENES), quantized=True),
    Param("play", "action", "resume after pause", setter="set_play"),
    Param("pause", "action", "stop generating; the buffer plays out into silence", setter="set_pause"),
    Param("reset", "action", "start the music over from nothing (the stream goes on)", setter="reset"),
    Param("record", "action", "start recording to a file name in the session folder", setter="set_record",
          takes="s"),
    Param("record_stop", "action", "stop recording", osc_name="record/stop", setter="stop_recording"),
    Param("quit", "action", "stop mg-live cleanly"),
]
BY_NAME = {p.name: p for p in PARAMS}
SAMPLING_FIELDS = {"cfg": "cfg_scale", "temperature": "temperature", "top_k": "top_k", "top_p": "top_p"}

# What the engine reports about itself (OSC telemetry /mg/status/<name>, the status line, the console):
# name → (unit, meaning).
STATUS = {
    "rtf": ("", "real-time factor: audio seconds made per second of work (> 1 keeps up)"),
    "buffer": ("s", "audio waiting to be played"),
    "underruns": ("", "gaps heard since the start"),
    "frame": ("", "frames made so far"),
    "latency": ("ms", "control to ear, to the first sound made entirely after a change (median)"),
    "onset": ("ms", "control to ear, to the first sound a change touched (median)"),
    "worst_frame": ("ms", "the slowest frame of the last 5 seconds (a frame lasts 20 ms)"),
    "reprimes": ("", "decoder contexts started"),
    "ignored": ("", "bad input ignored and faults the show survived (each counted, never fatal)"),
    "prompt": ("", "the main prompt"),
    "bpm": ("bpm", "tempo of the timeline"),
    "beat": ("", "beats heard since the timeline began (fractional)"),
    "bar": ("", "the bar heard now, from 1 (4 beats a bar)"),
}
