"""The streaming engine: frames from the decoder, each decoded once by the incremental EnCodec decoder,
straight into a sink's ring buffer. Parameter changes arrive on a thread-safe queue and take effect at
the next frame boundary; each applied change is reported with the frame and step it took effect at.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlx.core as mx
import numpy as np

from .audio import Recorder, Sink
from .encodec import StreamingDecoder
from .generation import HORIZON_FRAMES, FrameGenerator, SamplingParams, encode_prompt
from .loading import Loaded

# engine parameter → SamplingParams field (the rest: prompt, window, seed)
SAMPLING_FIELDS = {"cfg": "cfg_scale", "temperature": "temperature", "top_k": "top_k", "top_p": "top_p"}


@dataclass
class Change:
    param: str
    value: object
    source: str = "api"
    arrived: float = field(default_factory=time.perf_counter)


@dataclass
class Metrics:
    frames: int = 0
    samples: int = 0
    generating_seconds: float = 0.0  # wall time spent generating and decoding (not waiting for room)
    reprimes: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=256))

    def rtf(self, sample_rate: int) -> float:
        """Audio seconds made per wall second of work; > 1 is faster than real time."""
        return self.samples / sample_rate / self.generating_seconds if self.generating_seconds else 0.0


class EventLog:
    """JSON Lines: a header, then one line per applied change (see README: event log)."""

    def __init__(self, path: Path, header: dict):
        self.file = open(path, "w", buffering=1)
        self.write({"mg_live_log": 1, **header})

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        self.file.close()


class StreamingEngine:
    def __init__(self, loaded: Loaded, prompt: str, params: SamplingParams, sink: Sink, seed: int = 0,
                 window_seconds: float = 10.0, recorder: Recorder | None = None, log_path: Path | None = None,
                 total_frames: int | None = None, horizon: int = HORIZON_FRAMES, chunk_frames: int = 1,
                 model_name: str = ""):
        self.loaded, self.sink, self.recorder = loaded, sink, recorder
        model, cfg = loaded.model, loaded.config
        self.fps, self.hop, self.channels = cfg.frames_per_second, cfg.codec.hop_length, cfg.audio_channels
        self.prompt, self.params, self.window_seconds, self.seed = prompt, params, window_seconds, seed
        self.chunk_frames = chunk_frames
        condition, mask = encode_prompt(model, loaded.tokenizer, prompt)
        # Always guided, so that guidance can be turned up live from 1.
        self.generator = FrameGenerator(model, condition, mask, params, seed, horizon=horizon,
                                        window_frames=self.window_frames(window_seconds),
                                        total_frames=total_frames, guided=True)
        self.codecs = [StreamingDecoder(model.audio_encoder) for _ in range(self.channels)]
        self.latency_samples = self.codecs[0].latency_samples
        self.changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self.metrics = Metrics()
        self.stop_event = threading.Event()
        self._probes: deque = deque()  # (first sample generated with a change, its arrival time)
        self.log = None
        if log_path:
            self.log = EventLog(log_path, {
                "model": model_name, "dtype": loaded.dtype, "quantize": loaded.quantize, "seed": seed,
                "sample_rate": cfg.sample_rate, "channels": self.channels, "frames_per_second": self.fps,
                "settings": self.settings(),
            })

    def settings(self) -> dict:
        return {"prompt": self.prompt, "cfg": self.params.cfg_scale, "temperature": self.params.temperature,
                "top_k": self.params.top_k, "top_p": self.params.top_p, "window": self.window_seconds}

    def window_frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))

    def submit(self, param: str, value, source: str = "api") -> None:
        """Thread-safe: queue a change; it takes effect at the next frame boundary."""
        self.changes.put(Change(param, value, source))

    def _apply(self, change: Change) -> None:
        gen = self.generator
        if change.param == "prompt":
            self.prompt = str(change.value)
            gen.stepper.set_condition(*encode_prompt(self.loaded.model, self.loaded.tokenizer, self.prompt))
        elif change.param in SAMPLING_FIELDS:
            self.params = replace(self.params, **{SAMPLING_FIELDS[change.param]: change.value})
            gen.set_params(self.params)
        elif change.param == "window":
            self.window_seconds = float(change.value)
            gen.set_window(self.window_frames(self.window_seconds))
        elif change.param == "seed":
            gen.stepper.key = mx.random.key(int(change.value))
        else:
            raise ValueError(f"unknown engine parameter {change.param!r}")
        # The first frame generated entirely after the change: codebook k of frame F comes delay[k]
        # steps after codebook 0, so frames before F + max_delay were partly generated before it.
        first_frame = gen.emitted + gen.pattern.max_delay
        self._probes.append((first_frame * self.hop, change.arrived))
        if self.log:
            self.log.write({"frame": gen.emitted, "step": gen.steps, "t": round(gen.emitted / self.fps, 4),
                            "source": change.source, "param": change.param, "value": change.value})

    def _apply_pending(self) -> None:
        while True:
            try:
                change = self.changes.get_nowait()
            except queue.Empty:
                return
            self._apply(change)

    def _decode(self, frames: list[mx.array]) -> mx.array:
        codes = mx.stack(frames, axis=-1)  # [1, K, n]
        parts = [codec(codes[:, c :: self.channels]) for c, codec in enumerate(self.codecs)]
        return mx.stack(parts, axis=-1)[0].astype(mx.float32)  # [samples, channels], not yet computed

    def _emit(self, audio: np.ndarray, target: int | None) -> None:
        if target is not None:
            audio = audio[: target - self.metrics.samples]
        self.sink.write(audio)
        if self.recorder:
            self.recorder.write(audio)
        self.metrics.samples += len(audio)

    def _resolve_probes(self) -> None:
        played, now = self.sink.played, time.perf_counter()
        while self._probes and self._probes[0][0] < played:
            self.metrics.latencies_ms.append((now - self._probes.popleft()[1]) * 1000)

    def run(self, seconds: float | None = None, on_chunk=None) -> None:
        """Play until `seconds` of audio have been written (None: until stop()), then drain the sink."""
        target = None if seconds is None else round(seconds * self.sink.sample_rate)
        pending = None  # the chunk in flight: computed while the previous one is read back and written
        self.sink.start()
        try:
            while not self.stop_event.is_set():
                queued = self.metrics.samples + (pending.shape[0] if pending is not None else 0)
                if target is not None and queued >= target:
                    break
                self._apply_pending()
                self.sink.wait_for_room(self.stop_event)
                self._resolve_probes()
                start = time.perf_counter()
                frames = [self.generator.next_frame() for _ in range(self.chunk_frames)]
                audio = self._decode(frames)
                mx.async_eval(audio)
                if pending is not None:
                    self._emit(np.array(pending), target)  # one host sync per chunk
                pending = audio
                self.metrics.generating_seconds += time.perf_counter() - start
                self.metrics.frames += len(frames)
                self.metrics.reprimes = self.generator.reprimes
                if on_chunk:
                    on_chunk(self)
            if pending is not None and not self.stop_event.is_set():
                self._emit(np.array(pending), target)
            if self.sink.paced:
                self.sink.drain(self.stop_event)
                self._resolve_probes()
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.sink.close()
        if self.recorder:
            self.recorder.close()
        if self.log:
            self.log.close()


def frames_for(seconds: float, loaded: Loaded) -> int:
    """Frames to generate so that `seconds` of audio come out of the stream: the codec holds back its
    look-ahead, so a finite run generates that many frames more (and ends them like offline generation)."""
    latency = StreamingDecoder(loaded.model.audio_encoder).latency_samples
    return round(seconds * loaded.config.frames_per_second) + math.ceil(latency / loaded.config.codec.hop_length)
