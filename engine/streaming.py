"""The streaming engine: frames from the decoder, each decoded once by the incremental EnCodec decoder,
straight into a sink's ring buffer. Parameter changes arrive on a thread-safe queue and take effect at
the next frame boundary; each applied change is reported with the frame and step it took effect at.
"""

from __future__ import annotations

import json
import logging
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
from .chroma import chord_chroma, melody_chroma
from .conditioning import Conditioner
from .generation import HORIZON_FRAMES, FrameGenerator, SamplingParams
from .loading import Loaded

log = logging.getLogger("mg-live")

# engine parameter → SamplingParams field
SAMPLING_FIELDS = {"cfg": "cfg_scale", "temperature": "temperature", "top_k": "top_k", "top_p": "top_p"}


@dataclass
class Change:
    param: str
    value: object
    source: str = "api"
    glide: float = 0.0  # seconds a sampling parameter takes to reach the value
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
                 model_name: str = "", codes_path: Path | None = None, morph_seconds: float = 0.0,
                 prompt_codes: np.ndarray | None = None, header: dict | None = None):
        self.loaded, self.sink = loaded, sink
        # "main": the recording asked for at start; "session": the one /mg/record starts and stops
        self.recorders: dict[str, Recorder] = {"main": recorder} if recorder else {}
        model, cfg = loaded.model, loaded.config
        self.fps, self.hop, self.channels = cfg.frames_per_second, cfg.codec.hop_length, cfg.audio_channels
        self.params, self.window_seconds, self.seed = params, window_seconds, seed
        self.morph_seconds = morph_seconds
        self.chunk_frames = chunk_frames
        self.conditioner = Conditioner(model, loaded.tokenizer, prompt)
        self.conditioner.morph_frames = round(morph_seconds * self.fps)
        # Always guided, so that guidance can be turned up live from 1.
        self.generator = FrameGenerator(model, *self.conditioner.current, params, seed, horizon=horizon,
                                        window_frames=self.window_frames(window_seconds),
                                        total_frames=total_frames, guided=True, prompt=prompt_codes)
        self.paused = False
        self.rejected = 0  # changes that could not be applied (e.g. an unreadable melody file)
        self.codes_path, self._codes = codes_path, []  # only kept when asked for (a few bytes per frame)
        self.replay: deque = deque()  # logged changes to apply at their decoder step (see load_replay)
        self._glides: dict[str, list] = {}  # sampling field → [start, target, frames, frames done]
        self.codec = StreamingDecoder(model.audio_encoder)  # stereo: left and right as a batch of two
        self.latency_samples = self.codec.latency_samples
        self.changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self.metrics = Metrics()
        self.stop_event = threading.Event()
        self._probes: deque = deque()  # (first sample generated with a change, its arrival time)
        self.log = None
        if log_path:
            self.log = EventLog(log_path, {
                "model": model_name, "dtype": loaded.dtype, "quantize": loaded.quantize, "seed": seed,
                "sample_rate": cfg.sample_rate, "channels": self.channels, "frames_per_second": self.fps,
                "total_frames": total_frames, "horizon": horizon, "settings": self.settings(), **(header or {}),
            })

    @property
    def prompt(self) -> str:
        return self.conditioner.slots[0][0]

    def settings(self) -> dict:
        return {"prompt": self.prompt, "negative": self.conditioner.negative, "cfg": self.params.cfg_scale,
                "temperature": self.params.temperature, "top_k": self.params.top_k, "top_p": self.params.top_p,
                "window": self.window_seconds, "morph": self.morph_seconds, "seed": self.seed,
                "slots": {str(n): list(v) for n, v in self.conditioner.slots.items() if n}}

    def window_frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))

    def submit(self, param: str, value, source: str = "api", glide: float = 0.0) -> None:
        """Thread-safe: queue a change; it takes effect at the next frame boundary."""
        self.changes.put(Change(param, value, source, glide))

    def _apply(self, change: Change) -> None:
        """At a frame boundary. Values: prompt/negative text; slot_prompt [n, text]; slot_weight [n, weight];
        window and morph in seconds; seed an int; the sampling fields; play/pause/reset none; record a file
        path (None stops recording); melody a recording's path or the held pitch classes (melody models)."""
        gen, cond, p, value = self.generator, self.conditioner, change.param, change.value
        frame, step = gen.emitted, gen.steps  # where it takes effect (before a reset restarts the context)
        if p in ("prompt", "slot_prompt", "slot_weight"):
            slot, new = (0, value) if p == "prompt" else (int(value[0]), value[1])
            text, weight = cond.slots.get(slot, ("", 0.0))  # a new slot is silent until given weight
            cond.slots[slot] = (text, float(new)) if p == "slot_weight" else (str(new), weight)
            cond.retarget()
        elif p == "negative":
            cond.negative = str(value)
        elif p == "melody":
            cond.chroma = self._melody(value)
        elif p == "morph":
            self.morph_seconds = float(value)
            cond.morph_frames = round(self.morph_seconds * self.fps)
        elif p in SAMPLING_FIELDS:
            frames = round(change.glide * self.fps)
            if frames > 0:
                self._glides[p] = [getattr(self.params, SAMPLING_FIELDS[p]), value, frames, 0]
            else:
                self._glides.pop(p, None)
                self._set_sampling(p, value)
        elif p == "window":
            self.window_seconds = float(value)
            gen.set_window(self.window_frames(self.window_seconds))
        elif p == "seed":
            self.seed = int(value)
            gen.stepper.key = mx.random.key(self.seed)
        elif p in ("play", "pause"):
            self.paused = p == "pause"
            self.sink.set_paused(self.paused)
        elif p == "reset":
            gen.restart()
        elif p == "record":
            if "session" in self.recorders:
                self.recorders.pop("session").close()
            if value:
                self.recorders["session"] = Recorder(Path(value), self.sink.sample_rate, self.channels)
        else:
            raise ValueError(f"unknown engine parameter {p!r}")
        if p in ("prompt", "slot_prompt", "slot_weight", "negative", "melody"):
            gen.stepper.set_condition(*cond.current, cond.negative_condition(), chroma=cond.chroma)
        # The first frame generated entirely after the change: codebook k of frame F comes delay[k]
        # steps after codebook 0, so frames before F + max_delay were partly generated before it.
        self._probes.append(((frame + gen.pattern.max_delay) * self.hop, change.arrived))
        if self.log:
            self.log.write({"frame": frame, "step": step, "t": round(frame / self.fps, 4),
                            "source": change.source, "param": p, "value": value}
                           | ({"glide": change.glide} if change.glide else {}))

    def _melody(self, value) -> mx.array | None:
        """A recording's path, or the pitch classes held on a keyboard, or nothing → the chroma to follow."""
        if not self.loaded.config.is_melody:
            raise ValueError("melody: this model has no melody conditioning")
        if isinstance(value, str) and value:
            import soundfile as sf

            audio, rate = sf.read(value, dtype="float32", always_2d=True)
            return mx.array(melody_chroma(audio.T, rate))
        chroma = chord_chroma(list(value or []), self.loaded.config.chroma_length)
        return None if chroma is None else mx.array(chroma)

    def _set_sampling(self, param: str, value) -> None:
        self.params = replace(self.params, **{SAMPLING_FIELDS[param]: value})
        self.generator.set_params(self.params)

    def _advance_glides(self) -> None:
        for param, glide in list(self._glides.items()):
            start, target, frames, done = glide
            glide[3] = done = done + 1
            value = start + (target - start) * min(1.0, done / frames)
            self._set_sampling(param, round(value) if isinstance(target, int) else value)
            if done >= frames:
                del self._glides[param]

    def _apply_pending(self) -> None:
        while self.replay and self.replay[0]["step"] <= self.generator.steps:
            record = self.replay.popleft()
            self._apply(Change(record["param"], record["value"], record.get("source", "replay"), record.get("glide", 0.0)))
        while True:
            try:
                change = self.changes.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply(change)
            except (ValueError, OSError, RuntimeError) as e:  # a change that cannot apply never stops the music
                self.rejected += 1
                log.warning("ignored %s from %s: %s", change.param, change.source, e)

    def _next_frame(self) -> mx.array:
        """One frame: replayed changes due at this step, then the morph's next condition, then the frame."""
        if self.replay:
            self._apply_pending()
        self._advance_glides()
        if self.conditioner.advance():
            self.generator.stepper.set_condition(*self.conditioner.current, self.conditioner.negative_condition(),
                                                 chroma=self.conditioner.chroma)
        return self.generator.next_frame()

    def load_replay(self, records: list[dict]) -> None:
        """Changes from an event log, applied at the decoder step each took effect at: with the same model
        and seed the tokens come out exactly as performed."""
        self.replay = deque(sorted((r for r in records if r["param"] != "record"), key=lambda r: r["step"]))

    def _decode(self, frames: list[mx.array]) -> mx.array:
        codes = mx.stack(frames, axis=-1)  # [1, K, n]; stereo interleaves the channels' codebooks
        channels = mx.concatenate([codes[:, c :: self.channels] for c in range(self.channels)])
        return self.codec(channels).T.astype(mx.float32)  # [samples, channels], not yet computed

    def _emit(self, audio: mx.array, frames: list[mx.array], target: int | None) -> None:
        audio = np.array(audio)
        if target is not None:
            audio = audio[: target - self.metrics.samples]
        if self.codes_path:
            self._codes.append(np.array(mx.stack(frames, axis=-1)))
        self.sink.write(audio)
        for recorder in self.recorders.values():
            recorder.write(audio)
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
                queued = self.metrics.samples + (pending[0].shape[0] if pending is not None else 0)
                if target is not None and queued >= target:
                    break
                self._apply_pending()
                if self.paused:
                    time.sleep(0.01)
                    continue
                self.sink.wait_for_room(self.stop_event)
                self._resolve_probes()
                start = time.perf_counter()
                frames = [self._next_frame() for _ in range(self.chunk_frames)]
                audio = self._decode(frames)
                mx.async_eval(audio)
                if pending is not None:
                    self._emit(*pending, target)  # one host sync per chunk
                pending = (audio, frames)
                self.metrics.generating_seconds += time.perf_counter() - start
                self.metrics.frames += len(frames)
                self.metrics.reprimes = self.generator.reprimes
                if on_chunk:
                    on_chunk(self)
            if pending is not None and not self.stop_event.is_set():
                self._emit(*pending, target)
            if self.sink.paced:
                self.sink.drain(self.stop_event)
                self._resolve_probes()
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.sink.close()
        for recorder in self.recorders.values():
            recorder.close()
        if self.codes_path:
            np.save(self.codes_path, np.concatenate(self._codes, axis=-1) if self._codes else np.zeros((1, 0, 0)))
        if self.log:
            gen = self.generator
            self.log.write({"end": True, "frame": gen.emitted, "step": gen.steps,
                            "seconds": self.metrics.samples / self.sink.sample_rate})
            self.log.close()


def frames_for(seconds: float, loaded: Loaded) -> int:
    """Frames to generate so that `seconds` of audio come out of the stream: the codec holds back its
    look-ahead, so a finite run generates that many frames more (and ends them like offline generation)."""
    latency = StreamingDecoder(loaded.model.audio_encoder).latency_samples
    return round(seconds * loaded.config.frames_per_second) + math.ceil(latency / loaded.config.codec.hop_length)
