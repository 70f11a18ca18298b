"""What a performance measures about itself: how long each frame took to make (a histogram, and the
worst of the last seconds), underruns with when they happened, control-to-ear latency, and the event log.
Cheap by design: a few additions per frame, nothing that allocates on the audio callback's side."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Frame-time histogram bins (ms): fine below the 20 ms a frame lasts, coarse above.
EDGES_MS = (0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12.5, 15, 20, 25, 30, 40, 50, 75, 100, 200, 500, 1000)
RECENT_SECONDS = 5.0


class FrameTimes:
    """How long each frame took to produce (ms), as a histogram over the whole run and the frames of the
    last `RECENT_SECONDS` (wall time) for the worst and p99."""

    def __init__(self):
        self.counts = np.zeros(len(EDGES_MS) + 1, np.int64)
        self.recent: deque[tuple[float, float]] = deque()  # (when, ms)
        # the recent frames that no later frame outdoes, slowest first: worst_recent without a scan per frame
        self._contenders: deque[tuple[float, float]] = deque()
        self.worst_ever = 0.0

    def add(self, ms: float, frames: int = 1) -> None:
        now = time.monotonic()
        self.counts[np.searchsorted(EDGES_MS, ms)] += frames
        self.worst_ever = max(self.worst_ever, ms)
        self.recent.append((now, ms))
        while self._contenders and self._contenders[-1][1] <= ms:
            self._contenders.pop()
        self._contenders.append((now, ms))
        for window in (self.recent, self._contenders):
            while window and now - window[0][0] > RECENT_SECONDS:
                window.popleft()

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def worst_recent(self) -> float:
        return self._contenders[0][1] if self._contenders else 0.0

    def percentile(self, q: float) -> float:
        """From the histogram: the upper edge of the bin holding the q-th percentile (ms)."""
        if not self.count:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self.counts), q / 100 * self.count))
        return float(EDGES_MS[min(index, len(EDGES_MS) - 1)])

    def recent_percentile(self, q: float) -> float:
        values = [ms for _, ms in self.recent]
        return float(np.percentile(values, q)) if values else 0.0

    def table(self) -> str:
        rows, low = [], 0.0
        for high, n in zip(EDGES_MS + (float("inf"),), self.counts):
            if n:
                rows.append(f"{low:g}–{high:g} ms: {n}")
            low = high
        return ", ".join(rows)


@dataclass
class Metrics:
    frames: int = 0
    samples: int = 0
    generating_seconds: float = 0.0  # wall time spent generating and decoding (not waiting for room)
    reprimes: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=256))  # control to ear: all of it new
    onsets_ms: deque = field(default_factory=lambda: deque(maxlen=256))  # control to ear: the first of it
    frame_times: FrameTimes = field(default_factory=FrameTimes)
    underrun_events: list = field(default_factory=list)  # (played frame, seconds) of each underrun
    faults: int = 0  # changes that could not apply (an unreadable file, …), counted, never fatal

    def rtf(self, sample_rate: int) -> float:
        """Audio seconds made per wall second of work; > 1 is faster than real time."""
        return self.samples / sample_rate / self.generating_seconds if self.generating_seconds else 0.0

    @staticmethod
    def median(values) -> float:
        return float(np.median(values)) if len(values) else 0.0


class EventLog:
    """JSON Lines: a header, then one line per applied change and per underrun (see README: event log)."""

    def __init__(self, path: Path, header: dict):
        self.path, self.file = path, open(path, "w", buffering=1)
        self.write({"mg_live_log": 1, **header})

    def write(self, record: dict) -> None:
        if self.file is None:
            return
        try:
            self.file.write(json.dumps(record) + "\n")
        except OSError as e:  # a full disk: the log stops, the music does not
            logging.getLogger("mg-live").warning("event log %s stopped: %s", self.path, e)
            self.file = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
