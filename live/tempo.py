"""Who keeps time: a MIDI clock from `--midi-in`, or Ableton Link with `--link`. Each moves the engine's
`Timeline` (engine/tempo.py); without either, the tempo is the one set by hand (`--bpm`, /mg/bpm)."""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

from ..engine.tempo import BEATS_PER_BAR, Timeline
from .worker import Worker

log = logging.getLogger("mg-live")

TICKS_PER_BEAT = 24  # MIDI clock
CLOCK_MESSAGES = ("clock", "start", "stop", "continue", "songpos")


class MidiClock:
    """MIDI clock onto the timeline: Start (the next tick is beat 0), Stop, Continue, Song Position
    (in sixteenths), and 24 ticks a beat. Tempo and phase are a least-squares line through the last
    `fit` ticks' arrival times, so that a port's jitter (a JACK period, a USB frame) averages out."""

    def __init__(self, timeline: Timeline, fit: int = 2 * TICKS_PER_BEAT):
        self.timeline = timeline
        self.tick = 0  # the position, in ticks, of the next clock message
        self.running = True  # a clock heard without a Start (joined mid-song) runs from where it is heard
        self.arrivals: deque[tuple[int, float]] = deque(maxlen=fit)

    def handle(self, msg, t: float | None = None) -> None:
        t = time.perf_counter() if t is None else t
        if msg.type == "start":
            self.tick, self.running = 0, True
            self.arrivals.clear()
        elif msg.type == "continue":
            self.running = True
            self.arrivals.clear()
        elif msg.type == "songpos":
            self.tick = msg.pos * TICKS_PER_BEAT // 4
            self.arrivals.clear()
        elif msg.type == "stop":
            self.running = False
            self.timeline.sync(self.tick / TICKS_PER_BEAT, t, self.timeline.bpm, "midi clock", running=False)
        elif msg.type == "clock":
            self.arrivals.append((self.tick, t))
            if self.running:
                self.tick += 1
            self._follow(t)

    def _follow(self, t: float) -> None:
        bpm = self.timeline.bpm
        ticks, times = np.array(self.arrivals, np.float64).T
        if len(ticks) >= 2 and ticks[-1] > ticks[0]:
            slope, intercept = np.polyfit(ticks, times, 1)  # seconds per tick
            bpm = 60.0 / (slope * TICKS_PER_BEAT)
            t = slope * ticks[-1] + intercept  # the last tick's time, on the line
        self.timeline.sync(ticks[-1] / TICKS_PER_BEAT, t, bpm, "midi clock", running=self.running)


class LinkClock(Worker):
    """Ableton Link (aalink): the session's tempo and beat (bars aligned: quantum = beats per bar) read
    every few milliseconds onto the timeline; a tempo set by hand (/mg/bpm) goes to the session."""

    thread_name = "mg-link"

    def __init__(self, timeline: Timeline, poll_s: float = 0.005):
        try:
            import asyncio

            from aalink import Link
        except ImportError:
            raise RuntimeError("--link needs the aalink package (pip install aalink)") from None
        super().__init__()
        self.timeline, self.poll_s = timeline, poll_s
        self.loop = asyncio.new_event_loop()  # aalink wants one; reading the session needs no running loop
        self.link = Link(timeline.bpm, self.loop)
        self.link.quantum = BEATS_PER_BAR
        self.link.enabled = True
        timeline.on_tempo = self._set_tempo
        self.read()

    @property
    def peers(self) -> int:
        return self.link.num_peers

    def _set_tempo(self, bpm: float) -> None:
        self.link.tempo = bpm

    def read(self) -> None:
        before = time.perf_counter()
        beat, tempo = self.link.beat, self.link.tempo
        self.timeline.sync(beat, (before + time.perf_counter()) / 2, tempo, "link")

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.read()

    def close(self) -> None:
        super().close()
        self.timeline.on_tempo = None
        self.link.enabled = False
        self.loop.close()
