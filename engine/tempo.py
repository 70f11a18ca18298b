"""The musical timeline the rig shares: tempo, beat and bar as functions of time, and the grid that
quantized changes land on.

Time is `time.perf_counter()` (the engine maps it to the audio it has made through the sink's play
position, see `StreamingEngine.heard_at`). Whoever keeps time moves the timeline: a tempo set by hand
(`bpm`), a MIDI clock, Ableton Link (live/tempo.py). Each move replaces one immutable anchor in a single
assignment, so the frame thread reads a consistent tempo and beat without a lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

BEATS_PER_BAR = 4  # 4/4: bars, and Link's quantum
GRIDS = {"off": 0, "beat": 1, "bar": BEATS_PER_BAR, "2 bars": 2 * BEATS_PER_BAR, "4 bars": 4 * BEATS_PER_BAR,
         "8 bars": 8 * BEATS_PER_BAR}  # /mg/quantize → beats between boundaries


@dataclass(frozen=True)
class Anchor:
    """At time `t` the timeline was at `beat`, moving at `bpm` (or standing, when not running)."""

    t: float
    beat: float
    bpm: float
    running: bool = True


class Timeline:
    """`source` says who keeps time: "manual" (bpm set by hand), "midi clock", "link". `on_tempo`, when
    set (Link), is told of a tempo set by hand, so that the rest of the session follows it."""

    def __init__(self, bpm: float = 120.0):
        self.anchor = Anchor(time.perf_counter(), 0.0, float(bpm))
        self.source = "manual"
        self.started = False  # a manual timeline's beat 0 is the first sound heard
        self.on_tempo = None

    @property
    def bpm(self) -> float:
        return self.anchor.bpm

    @property
    def running(self) -> bool:
        return self.anchor.running

    def beat_at(self, t: float) -> float:
        a = self.anchor
        return a.beat + (t - a.t) * a.bpm / 60.0 if a.running else a.beat

    def time_at(self, beat: float) -> float:
        a = self.anchor
        return a.t + (beat - a.beat) * 60.0 / a.bpm

    def position(self, t: float | None = None) -> tuple[float, int, float]:
        """(beat since the timeline began, bar from 1, beat in the bar from 1) at `t` (default: now)."""
        beat = self.beat_at(time.perf_counter() if t is None else t)
        bar, within = divmod(beat, BEATS_PER_BAR)
        return beat, int(bar) + 1, within + 1

    def next_boundary(self, beat: float, grid_beats: float) -> float:
        """The first grid line at or after `beat` (the timeline's beat 0 is on every grid)."""
        lines = -(-beat // grid_beats)
        return lines * grid_beats

    # --- who keeps time ------------------------------------------------------------------------------

    def set_tempo(self, bpm: float, t: float | None = None) -> None:
        """By hand: the beat goes on from where it is, at the new tempo."""
        t = time.perf_counter() if t is None else t
        a = self.anchor
        self.anchor = Anchor(t, self.beat_at(t), float(bpm), a.running)
        if self.on_tempo is not None:
            self.on_tempo(float(bpm))

    def begin(self, t: float) -> None:
        """A manual timeline starts its beat 0 with the first sound (`t`: when it is heard)."""
        if self.source == "manual" and not self.started:
            self.anchor = Anchor(t, 0.0, self.anchor.bpm)
        self.started = True

    def sync(self, beat: float, t: float, bpm: float, source: str, running: bool = True) -> None:
        """From a clock: at `t` it was at `beat`, at `bpm`."""
        self.source, self.started = source, True
        self.anchor = Anchor(t, float(beat), float(bpm), running)
