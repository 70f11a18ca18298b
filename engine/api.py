"""mg-live as a library, for scripts and notebooks: load a model, render a clip, or run a stream whose audio
blocks come to a callback while parameters change (the same engine and registry `mg-live` plays with).

    from mg_live.engine import api

    model = api.load("tiny")                              # a hub id, a local folder, or `tiny`
    clip = api.generate(model, "lofi beat", seconds=5)    # float32 [channels, samples] at model.sample_rate
    blocks = []
    with api.Stream(model, "lofi beat", on_audio=blocks.append) as stream:
        stream.play(2)                                    # two seconds, as fast as they are made
        stream.set("cfg", 6.0)
        stream.set("prompt", "soft jazz piano")           # morphs in over `morph` seconds
        stream.play(2)
"""

from __future__ import annotations

import threading

import numpy as np

from .audio import ClockSink, UnpacedSink
from .chroma import Melody
from .generation import codes_from_audio, decode_audio, generate_codes
from .loading import Loaded
from .loading import load as _load
from .params import BY_NAME, MAX_TEXT, SAMPLING_FIELDS, SLOTS
from .prepare import mlx_thread
from .sampling import SamplingParams
from .streaming import StreamingEngine

__all__ = ["load", "generate", "Stream"]


def load(model: str = "tiny", dtype: str = "float32", quantize: int | None = None) -> Loaded:
    """A model by hub id (downloaded once), local folder or `tiny`; `.sample_rate`, `.channels` on it."""
    return _load(model, dtype, quantize)


def _sampling(settings: dict) -> SamplingParams:
    values = {field: check(name, settings.pop(name)) for name, field in SAMPLING_FIELDS.items() if name in settings}
    return SamplingParams(**values)


def check(name: str, value):
    """A parameter's value as the engine takes it, or ValueError saying why not (the registry's ranges)."""
    param = BY_NAME.get(name)
    if param is None:
        raise ValueError(f"no parameter {name!r} (one of: {', '.join(BY_NAME)})")
    if param.kind in ("float", "int"):
        return param.check(value)
    if param.kind == "text" and (not isinstance(value, str) or len(value) > MAX_TEXT):
        raise ValueError(f"{name} takes text of at most {MAX_TEXT} characters")
    return value


def generate(model: Loaded, prompt: str, seconds: float = 10.0, *, melody: tuple[np.ndarray, int] | None = None,
             continue_from: tuple[np.ndarray, int] | None = None, seed: int = 0, extend_stride: float = 18.0,
             progress=None, **sampling) -> np.ndarray:
    """Offline: `seconds` of new music → float32 [channels, samples] at `model.sample_rate`. `melody` and
    `continue_from` are (audio [channels, samples], rate); a continuation's audio starts the result.
    Sampling: cfg, temperature, top_k, top_p (the registry's ranges). `progress(frames)` is called as it goes."""
    unknown = set(sampling) - set(SAMPLING_FIELDS)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))} (sampling: {', '.join(SAMPLING_FIELDS)})")
    if melody is not None and not model.config.is_melody:
        raise ValueError("this model has no melody conditioning (try facebook/musicgen-melody)")
    prompt_codes = None if continue_from is None else codes_from_audio(model.model, *continue_from)
    frames = max(1, round(seconds * model.config.frames_per_second))
    codes = generate_codes(model.model, model.tokenizer, prompt, frames, _sampling(dict(sampling)), seed=seed,
                           progress=progress, prompt_codes=prompt_codes, extend_stride=extend_stride,
                           melody=None if melody is None else Melody.from_recording(*melody))
    return decode_audio(model.model, codes)[0]


class _Tap:
    """Takes a recorder's place in the engine: every block that plays goes to a callback."""

    def __init__(self, callback):
        self.write = callback

    def close(self) -> None:
        pass


class Stream:
    """Endless music, steered while it plays. `on_audio(block)` receives each block as it is made
    (float32 [samples, channels] at `model.sample_rate`). `realtime=True` paces it by the clock, as
    `mg-live --no-audio` plays; otherwise it runs as fast as it can, and changes are prepared inline, so the
    same model, seed and changes give the same music. Settings: cfg, temperature, top_k, top_p, window,
    morph (the registry's names and ranges).

    `play(seconds)` runs in the calling thread (callbacks may call `set`); `start()` runs in the background
    until `stop()`. Each needs its own thread's MLX state, so a stream keeps to the one it started in."""

    def __init__(self, model: Loaded, prompt: str, *, on_audio=None, realtime: bool = False, seed: int = 0,
                 buffer_ms: float = 100.0, **settings):
        params = _sampling(settings)
        window = check("window", settings.pop("window", BY_NAME["window"].default))
        morph = check("morph", settings.pop("morph", BY_NAME["morph"].default))
        if settings:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(settings))}")
        rate, channels = model.config.sample_rate, model.config.audio_channels
        sink = (ClockSink if realtime else UnpacedSink)(rate, channels, buffer_ms)
        self._build = lambda: StreamingEngine(model, check("prompt", prompt), params, sink, seed=seed,
                                              window_seconds=window, morph_seconds=morph,
                                              recorder=_Tap(on_audio) if on_audio else None)
        self.engine: StreamingEngine | None = None
        self._thread: threading.Thread | None = None
        self._changes = []  # made before the engine was built (it is built in the thread that plays)

    def set(self, name: str, value=None, slot: int | None = None) -> None:
        """Change a parameter (thread-safe); it takes effect at the next frame, or when prepared (prompts).
        Slots: `set("slot_prompt", "strings", slot=2)`, `set("slot_weight", 0.5, slot=2)`."""
        value = check(name, value)
        if name.startswith("slot_"):
            if slot is None or not 1 <= slot <= SLOTS:
                raise ValueError(f"{name} needs slot=1..{SLOTS}")
            value = (slot, value)
        change = (name, value, "api", BY_NAME[name].smoothing)
        if self.engine is None:
            self._changes.append(change)
        else:
            self.engine.submit(*change)

    def status(self) -> dict:
        """What `/mg/status/*` reports: rtf, buffer, underruns, frame, latency, … ({} before it plays)."""
        return {} if self.engine is None else self.engine.status()

    def play(self, seconds: float) -> None:
        """Play `seconds` more (whole 20 ms frames), here, then return; another `play` goes on from there."""
        if self._thread is not None:
            raise RuntimeError("the stream plays in the background: stop() it first")
        engine = self._engine()
        frames = engine.metrics.samples // engine.hop + max(1, round(seconds * engine.fps))
        engine.stop_event.clear()
        engine.run(frames / engine.fps, keep_open=True)

    def start(self) -> "Stream":
        """Play in the background until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("the stream already plays")
        built = threading.Event()

        def run():
            try:
                engine = self._engine()
            finally:
                built.set()
            engine.stop_event.clear()
            engine.run(None, keep_open=True)

        self._thread = mlx_thread(run, "mg-stream")
        self._thread.start()
        built.wait()
        if self.engine is None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("the stream could not start (see the log)")
        return self

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self.engine is not None:
            self.engine.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _engine(self) -> StreamingEngine:
        if self.engine is None:
            self.engine = self._build()
            for change in self._changes:
                self.engine.submit(*change)
            self._changes.clear()
        return self.engine
