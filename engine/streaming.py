"""The streaming engine: frames from the decoder, each decoded once by the incremental EnCodec decoder,
straight into a sink's ring buffer, every frame on time.

Three parts, each readable on its own:
- `StreamingEngine.run`: the frame loop — wait for room (with every chunk made so far in the sink), make
  a chunk of frames, hand it to the codec's thread (codec_thread.py), measure how long it took;
- `Steering`: the controls — each parameter's setter (named by the registry), applied at frame boundaries;
  what needs preparing (text through T5, a file) is prepared off the frame path and applies when ready;
  glides, morphs, the event log, replay;
- `Metrics` (metrics.py) and `AdaptiveBuffer` (audio.py): frame times, underruns, latency, the buffer.
"""

from __future__ import annotations

import gc
import logging
import math
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlx.core as mx
import numpy as np

from .audio import AdaptiveBuffer, Recorder, Sink
from .chroma import Melody, chord_chroma
from .conditioning import Blend, Conditioner
from .codec_thread import CodecThread
from .encodec import StreamingDecoder
from .frames import HORIZON_FRAMES, FrameGenerator
from .loading import Loaded
from .metrics import EventLog, Metrics
from .params import BY_NAME, SAMPLING_FIELDS
from .prepare import Preparer
from .sampling import SamplingParams
from .tempo import GRIDS, Timeline

log = logging.getLogger("mg-live")
# While the frame loop plays, another thread's Python (a new prompt's T5 graph being built, the codec's)
# holds the interpreter at most this long before the frame loop gets it back (Python's default: 5 ms).
# On a GPU a frame costs its host work, and each wait for the lock showed as a slow frame: an H200's quiet
# medium soak had a worst frame of 6.4 ms at 1 ms, 3.6 ms at 0.2 ms (soak.py: wall time over the thread's
# CPU time). A CPU backend computes on the same cores; there 0.2 ms cost a little (tiny: RTF 5.1 → 4.9).
SWITCH_INTERVAL_S = {"gpu": 0.0002, "cpu": 0.001}

@dataclass
class Change:
    param: str
    value: object
    source: str = "api"
    glide: float = 0.0  # seconds a sampling parameter takes to reach the value
    arrived: float = field(default_factory=time.perf_counter)
    # logged with it and given back by a replay: "downbeat" (the frame a quantized change lands on), "bpm"
    extra: dict = field(default_factory=dict)


REPLAYED = ("downbeat", "bpm")  # a log record's keys that a replayed change takes along


class Steering:
    """Applies parameter changes at frame boundaries, through the setter the registry names for each.

    A change whose work can take longer than a frame (a prompt through T5 and the cross-attention
    projections, a melody file) is prepared on the `Preparer`'s thread and applies at the first boundary
    after it is ready, in the order the changes came; it is logged at the frame and step it took effect at,
    which is where a replay applies it (preparing inline). With a grid (/mg/quantize), a prompt, slot,
    scene or melody change waits, once ready, for the frame that makes the first frame heard on the
    grid's next line the first one made entirely with it."""

    def __init__(self, engine: "StreamingEngine"):
        self.engine = engine
        self.changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self.pending: deque = deque()  # (change, job, activate) waiting for their preparation
        self.replay: deque = deque()  # logged changes, applied at the decoder step each took effect at
        self.requested = engine.conditioner.blend  # the blend every change so far asks for
        self._glides: dict[str, list] = {}  # param → [start, target, frames, frames done]
        self._probes: deque = deque()  # [first sample touched, first sample all new, arrival, onset seen]
        self.applied = 0  # changes that took effect so far

    # --- frame boundaries ---------------------------------------------------------------------------

    def at_boundary(self) -> None:
        """Before a chunk: queued changes apply (or start preparing); prepared ones that are ready apply."""
        self._replay_due()
        while True:
            try:
                change = self.changes.get_nowait()
            except queue.Empty:
                break
            self.apply(change)
        self.follow_tempo()
        self._activate_ready()

    def _replay_due(self) -> None:
        steps = self.engine.generator.steps
        # paused, no step comes: the next change is the one that ended the pause
        while self.replay and (self.replay[0]["step"] <= steps or self.engine.paused):
            record = self.replay.popleft()
            self.apply(Change(record["param"], record["value"], record.get("source", "replay"), record.get("glide", 0.0),
                              extra={k: record[k] for k in REPLAYED if k in record}))

    def _activate_ready(self) -> None:
        while self.pending and self.pending[0][1].ready():
            change, job, activate = self.pending[0]
            if not self._landing(change):
                return  # waits for its line on the grid; the changes after it wait with it (order is kept)
            self.pending.popleft()
            self._activate(change, job, activate)

    def _landing(self, change: Change) -> bool:
        """Whether a change may take effect now: unquantized at once; quantized when the frame has come
        from which the first frame made entirely with it is the one heard on the grid's line (melody
        models: when the context that owns that frame must start building)."""
        engine, gen = self.engine, self.engine.generator
        if "downbeat" not in change.extra:
            line = engine.line_frame() if BY_NAME[change.param].quantized else None
            if line is None:
                return True
            change.extra["downbeat"] = line
        return gen.emitted >= change.extra["downbeat"] - engine.reach()

    def at_frame(self) -> None:
        """Before each frame: replayed changes due at this step, glides, the morph's next keys and values."""
        gen = self.engine.generator
        self._replay_due()
        self._activate_ready()
        self._advance_glides()
        if self.engine.conditioner.advance():
            gen.set_cross(self.engine.conditioner.cross, self.engine.conditioner.cross_mask)

    def apply(self, change: Change) -> None:
        """Through the parameter's setter; a change that cannot apply is counted and the music goes on."""
        try:
            getattr(self, BY_NAME[change.param].setter)(change)
        except (ValueError, OSError, RuntimeError, KeyError) as e:
            self._fault(change, e)

    def _fault(self, change: Change, error: Exception) -> None:
        self.engine.metrics.faults += 1
        log.warning("ignored %s from %s: %s", change.param, change.source, error)

    def _prepare(self, change: Change, work, activate) -> None:
        self.pending.append((change, self.engine.preparer.submit(work), activate))
        self._activate_ready()  # prepared inline (offline, replay): it applies now, in order

    def _activate(self, change: Change, job, activate) -> None:
        try:
            result = job.get()
        except Exception as e:  # noqa: BLE001 - a file that cannot be read, a prompt that cannot encode
            self._fault(change, e)
            return
        activate(result, change)
        self.engine.buffer.brace()  # a new condition costs the frames after it more than the steady ones (audio.py)
        self._took_effect(change)

    def _took_effect(self, change: Change) -> None:
        """Logged with the frame and step it took effect at; latency probes resolve when it is heard."""
        gen, engine = self.engine.generator, self.engine
        self.applied += 1
        frame, hop = gen.emitted, engine.hop
        # Frame F is touched first (its finest codebooks are sampled next); from F + max_delay on, every
        # codebook of a frame was sampled after the change. A change that waited for the grid waited on purpose.
        if "downbeat" not in change.extra:
            self._probes.append([frame * hop, (frame + gen.max_delay) * hop, change.arrived, False])
        if engine.log:
            engine.log.write({"frame": frame, "step": gen.steps, "t": round(frame / engine.fps, 4),
                              "source": change.source, "param": change.param, "value": change.value}
                             | ({"glide": change.glide} if change.glide else {}) | change.extra)

    def resolve_probes(self, played: int) -> None:
        """Control to ear, twice: to the first sample of the first frame the change touched (its onset), and
        to the first sample of the first frame made entirely after it."""
        now, metrics = time.perf_counter(), self.engine.metrics
        for probe in self._probes:
            if probe[0] < played and not probe[3]:
                probe[3] = True
                metrics.onsets_ms.append((now - probe[2]) * 1000)
        while self._probes and self._probes[0][1] < played:
            metrics.latencies_ms.append((now - self._probes.popleft()[2]) * 1000)

    # --- the setters (the registry names them) ------------------------------------------------------

    def _blend(self, change: Change, blend: Blend) -> None:
        """A prompt, slot or negative prompt: compose the new blend off the frame path, then morph to it
        (melody models: a new decoder context reads it and takes over when it is built)."""
        self.requested = blend
        conditioner = self.engine.conditioner
        self._prepare(change, lambda: conditioner.compose(blend), self._start)

    def _start(self, composition, change: Change) -> None:
        """Morph to a composed blend (melody models: a new context reads it, from the line when quantized)."""
        conditioner, generator = self.engine.conditioner, self.engine.generator
        conditioner.start(composition)
        if conditioner.melody_model:
            generator.restart(new_prefix=True, at=change.extra.get("downbeat"))
        elif not conditioner.morphing:
            generator.set_cross(conditioner.cross, conditioner.cross_mask)

    def set_prompt(self, change: Change) -> None:
        self._blend(change, self.requested.slot(0, text=str(change.value)))

    def set_negative(self, change: Change) -> None:
        self._blend(change, self.requested.with_negative(str(change.value)))

    def set_slot_prompt(self, change: Change) -> None:
        slot, text = change.value
        self._blend(change, self.requested.slot(int(slot), text=str(text)))

    def set_slot_weight(self, change: Change) -> None:
        slot, weight = change.value
        self._blend(change, self.requested.slot(int(slot), weight=float(weight)))

    def set_melody(self, change: Change) -> None:
        """A recording's path (read and analysed off the frame path), the pitch classes held on a keyboard,
        or nothing (the null melody); a new decoder context follows it."""
        engine = self.engine
        if not engine.loaded.config.is_melody:
            raise ValueError("this model has no melody conditioning")

        def activate(melody, change: Change) -> None:
            engine.melody_source = change.value
            engine.conditioner.set_melody(melody)
            engine.generator.restart(new_prefix=True, at=change.extra.get("downbeat"))

        self._prepare(change, lambda: engine.read_melody(change.value), activate)

    def set_sampling(self, change: Change) -> None:
        self._glide(change.param, change.value, round(change.glide * self.engine.fps))
        self._took_effect(change)

    def _glide(self, param: str, value, frames: int) -> None:
        if frames > 0:
            self._glides[param] = [getattr(self.engine.params, SAMPLING_FIELDS[param]), value, frames, 0]
        else:
            self._glides.pop(param, None)
            self._set_sampling(param, value)

    def set_bpm(self, change: Change) -> None:
        self.engine.timeline.set_tempo(float(change.value))
        self._took_effect(change)

    def set_grid(self, change: Change) -> None:
        self.engine.grid = str(change.value)
        self._took_effect(change)

    def set_tempo_prompt(self, change: Change) -> None:
        """On: every text is read with the timeline's tempo appended (and again when the rounded tempo
        moves); the tempo used is logged, so a replay reads the same texts."""
        bpm = change.extra.setdefault("bpm", round(self.engine.timeline.bpm)) if change.value else 0
        self._blend(change, replace(self.requested, tempo=float(bpm)))

    def follow_tempo(self) -> None:
        """Tempo in the prompt: a tempo a whole bpm away re-reads the texts (a clock's jitter around x.5 does
        not); live only, a replay has each one logged."""
        tempo = self.requested.tempo
        if tempo and self.engine.sink.paced and abs(self.engine.timeline.bpm - tempo) >= 1 and not self.pending:
            self.apply(Change("tempo_prompt", 1, "tempo"))

    def recall_scene(self, change: Change) -> None:
        """A scene (a dict of settings, as `StreamingEngine.scene` makes): its prompts morph in, its sampling
        parameters glide over the morph time, its window and melody apply, all at the same frame."""
        engine, scene = self.engine, dict(change.value)
        blend = replace(Blend.of(scene["prompt"]), negative=scene.get("negative", ""), tempo=self.requested.tempo)
        for n, (text, weight) in scene.get("slots", {}).items():
            blend = blend.slot(int(n), text, weight)
        self.requested = blend
        melody = scene.get("melody") if engine.conditioner.melody_model else None

        def work():
            return engine.conditioner.compose(blend), None if melody is None else engine.read_melody(melody)

        def activate(result, change: Change) -> None:
            composition, melody_now = result
            if melody is not None:
                engine.melody_source = melody
                engine.conditioner.set_melody(melody_now)
            self._start(composition, change)
            glide = round(engine.morph_seconds * engine.fps)
            for param in SAMPLING_FIELDS:
                if param in scene:
                    self._glide(param, BY_NAME[param].check(scene[param]), glide)
            if "window" in scene:
                self._set_window(scene["window"])

        self._prepare(change, work, activate)

    def set_window(self, change: Change) -> None:
        self._set_window(change.value)
        self._took_effect(change)

    def _set_window(self, seconds: float) -> None:
        self.engine.window_seconds = float(seconds)
        self.engine.generator.set_window(self.engine.window_frames(self.engine.window_seconds))

    def set_morph(self, change: Change) -> None:
        self.engine.morph_seconds = float(change.value)
        self.engine.conditioner.morph_frames = round(self.engine.morph_seconds * self.engine.fps)
        self._took_effect(change)

    def set_seed(self, change: Change) -> None:
        self.engine.seed = int(change.value)
        self.engine.generator.set_seed(self.engine.seed)
        self._took_effect(change)

    def set_play(self, change: Change) -> None:
        self.engine.set_paused(False)
        self._took_effect(change)

    def set_pause(self, change: Change) -> None:
        self.engine.set_paused(True)
        self._took_effect(change)

    def reset(self, change: Change) -> None:
        self.engine.generator.restart()
        self._took_effect(change)

    def set_record(self, change: Change) -> None:
        """Start recording to a path (what was recording stops)."""
        recorders = self.engine.recorders
        if "session" in recorders:
            recorders.pop("session").close()
        recorders["session"] = Recorder(Path(change.value), self.engine.sink.sample_rate, self.engine.channels)
        self._took_effect(change)

    def stop_recording(self, change: Change) -> None:
        if "session" in self.engine.recorders:
            self.engine.recorders.pop("session").close()
        self._took_effect(replace(change, param="record", value=None))

    # --- glides --------------------------------------------------------------------------------------

    def _set_sampling(self, param: str, value) -> None:
        engine = self.engine
        engine.params = replace(engine.params, **{SAMPLING_FIELDS[param]: value})
        engine.generator.set_params(engine.params)

    def _advance_glides(self) -> None:
        for param, glide in list(self._glides.items()):
            start, target, frames, done = glide
            glide[3] = done = done + 1
            value = start + (target - start) * min(1.0, done / frames)
            self._set_sampling(param, round(value) if isinstance(target, int) else value)
            if done >= frames:
                del self._glides[param]


class StreamingEngine:
    def __init__(self, loaded: Loaded, prompt: str, params: SamplingParams, sink: Sink, seed: int = 0,
                 window_seconds: float = 10.0, recorder: Recorder | None = None, log_path: Path | None = None,
                 total_frames: int | None = None, horizon: int = HORIZON_FRAMES, chunk_frames: int = 1,
                 model_name: str = "", codes_path: Path | None = None, morph_seconds: float = 0.0,
                 prompt_codes: np.ndarray | None = None, header: dict | None = None, adaptive: bool = True,
                 catch_up: int | None = None, melody: Melody | None = None, timeline: Timeline | None = None,
                 grid: str = "off"):
        self.loaded, self.sink = loaded, sink
        # "main": the recording asked for at start; "session": the one /mg/record starts and stops
        self.recorders: dict[str, Recorder] = {"main": recorder} if recorder else {}
        model, cfg = loaded.model, loaded.config
        self.fps, self.hop, self.channels = cfg.frames_per_second, cfg.codec.hop_length, cfg.audio_channels
        self.params, self.window_seconds, self.seed = params, window_seconds, seed
        self.timeline, self.grid = timeline or Timeline(), grid
        self.melody_source = None  # what the melody follows: a recording's path, held pitch classes, or nothing
        self.morph_seconds, self.chunk_frames = morph_seconds, chunk_frames
        width = 0 if prompt_codes is None else prompt_codes.shape[1]
        self.extended = total_frames is None or width + total_frames > horizon
        self.preparer = Preparer(inline=not sink.paced)  # offline rendering and replay prepare inline
        self.conditioner = Conditioner(model, loaded.tokenizer, prompt, guided=True, preparer=self.preparer)
        self.conditioner.warm_up()
        self.conditioner.morph_frames = round(morph_seconds * self.fps)
        if melody is not None:  # melody models: follow it from the first context on
            melody.extended = self.extended
            self.conditioner.set_melody(melody)
            self.melody_source = melody.source
        # Always guided, so that guidance can be turned up live from 1.
        self.generator = FrameGenerator(model, params, seed, horizon=horizon,
                                        window_frames=self.window_frames(window_seconds), total_frames=total_frames,
                                        guided=True, prompt=prompt_codes, cross=self.conditioner.cross,
                                        cross_mask=self.conditioner.cross_mask,
                                        prefixes=self.conditioner if cfg.is_melody else None,
                                        max_prefix=self.conditioner.max_prefix, catch_up=catch_up)
        self.paused = False
        self.codes_path, self._codes = codes_path, []  # only kept when asked for (a few bytes per frame)
        self.codec = CodecThread(StreamingDecoder(model.audio_encoder), self.channels, self.hop)
        self.latency_samples = self.codec.codec.latency_samples
        self._warm_up_codec()
        self.metrics = Metrics()
        self.buffer = AdaptiveBuffer(sink, chunk_frames * self.hop, enabled=adaptive)
        self.steering = Steering(self)
        self.stop_event = threading.Event()
        self._held = None  # audio made beyond the end of a run, played first by the next one
        self._started = self._closed = False  # the sink (a sound card's stream) starts once, with the first run
        self.log = None
        if log_path:
            self.log = EventLog(log_path, {
                "model": model_name, "dtype": loaded.dtype, "quantize": loaded.quantize, "seed": seed,
                "sample_rate": cfg.sample_rate, "channels": self.channels, "frames_per_second": self.fps,
                "total_frames": total_frames, "horizon": horizon, "settings": self.settings(), **(header or {}),
            })

    # --- what plays ---------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return self.conditioner.blend.prompt

    def settings(self) -> dict:
        """The current value of every setting (safe to call from any thread)."""
        blend, p = self.conditioner.blend, self.params
        return {"prompt": blend.prompt, "negative": blend.negative, "cfg": p.cfg_scale, "temperature": p.temperature,
                "top_k": p.top_k, "top_p": p.top_p, "window": self.window_seconds, "morph": self.morph_seconds,
                "seed": self.seed, "slots": {str(n): [t, w] for n, t, w in blend.slots if n},
                "bpm": round(self.timeline.bpm, 2), "grid": self.grid, "tempo_prompt": int(bool(blend.tempo))}

    def scene(self) -> dict:
        """What a scene keeps of what plays now (safe to call from any thread)."""
        settings = self.settings()
        keep = ("prompt", "negative", "slots", "cfg", "temperature", "top_k", "top_p", "window")
        melody = self.melody_source
        return {k: settings[k] for k in keep} | ({} if melody is None else {"melody": melody})

    def read_melody(self, source) -> Melody | None:
        """A melody from a recording's path, or held pitch classes, or nothing (the null melody)."""
        if isinstance(source, str) and source:
            import soundfile as sf

            audio, rate = sf.read(source, dtype="float32", always_2d=True)
            return Melody.from_recording(audio.T, rate, start_frame=None, extended=self.extended, source=source)
        chroma = chord_chroma(list(source or []), self.loaded.config.chroma_length)
        return None if chroma is None else Melody(chroma=chroma, source=list(source))

    def status(self) -> dict:
        """What the engine reports about itself (names, units and meanings: params.STATUS)."""
        m, rate = self.metrics, self.sink.sample_rate
        beat, bar, _ = self.timeline.position()
        return {"rtf": float(m.rtf(rate)), "buffer": self.sink.ring.fill / rate, "underruns": int(self.sink.underruns),
                "frame": int(self.generator.emitted), "latency": Metrics.median(m.latencies_ms),
                "onset": Metrics.median(m.onsets_ms), "worst_frame": m.frame_times.worst_recent(),
                "reprimes": int(self.generator.reprimes), "ignored": int(m.faults), "prompt": self.prompt,
                "bpm": float(self.timeline.bpm), "beat": float(beat), "bar": int(bar)}

    # --- the timeline, as heard ---------------------------------------------------------------------

    def heard_at(self, frame: int) -> float:
        """When the first sample of `frame` is heard (perf_counter time), from the sink's play position."""
        played, t = self.sink.clock
        return t + (frame * self.hop - played) / self.sink.sample_rate + self.sink.output_latency

    def frame_heard_at(self, t: float) -> int:
        """The frame whose first sample is heard nearest to time `t`."""
        played, at = self.sink.clock
        return round((played + (t - at - self.sink.output_latency) * self.sink.sample_rate) / self.hop)

    def reach(self) -> int:
        """Frames from a change taking effect to the first frame made entirely with it (the delay pattern;
        for a melody model also the new context's build)."""
        gen = self.generator
        return gen.max_delay + (gen.lead_steps() if self.conditioner.melody_model else 0)

    def line_frame(self) -> int | None:
        """The frame heard on the grid's next line that a change made now can still reach (for a melody
        model, after a new context is built), or None where there is no grid: off, not played live, the
        timeline stopped, nothing heard yet."""
        beats = GRIDS[self.grid]
        if not beats or not self.sink.paced or not self.timeline.running or self.sink.clock is None:
            return None
        first = self.generator.emitted + self.reach()
        line = self.timeline.next_boundary(self.timeline.beat_at(self.heard_at(first)), beats)
        return max(first, self.frame_heard_at(self.timeline.time_at(line)))

    def window_frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))

    def submit(self, param: str, value, source: str = "api", glide: float = 0.0) -> None:
        """Thread-safe: queue a change; it takes effect at the next frame boundary (or when prepared)."""
        self.steering.changes.put(Change(param, value, source, glide))

    def load_replay(self, records: list[dict]) -> None:
        """Changes from an event log, applied at the decoder step each took effect at: with the same model
        and seed the tokens come out exactly as performed."""
        self.steering.replay = deque(sorted((r for r in records if r.get("param") not in (None, "record")),
                                            key=lambda r: r["step"]))

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.sink.set_paused(paused)

    # --- the frame loop -----------------------------------------------------------------------------

    # Chunks the codec may hold before the frame loop waits for the oldest: with two, a loop making frames
    # back to back (catching up) never waits on the chunk it has just handed over, so neither side idles
    # while the other works. A loop that is about to wait for room takes them all.
    CODEC_LAG = 2

    def run(self, seconds: float | None = None, on_chunk=None, keep_open: bool = False) -> None:
        """Play until `seconds` of audio have been written in all (None: until stop()), then drain the sink
        and close, or with `keep_open` stay ready for another `run` that goes on from there."""
        target = None if seconds is None else round(seconds * self.sink.sample_rate)
        codec = self.codec
        with_codec = lambda: codec.in_flight * self.chunk_frames * self.hop  # noqa: E731
        gc.collect()
        gc.freeze()  # what start-up made is never collected again: collections stay short while playing
        switch_interval = sys.getswitchinterval()
        backend = "gpu" if mx.default_device() == mx.gpu else "cpu"
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL_S[backend]))
        if not self._started:
            self.sink.start()
            self._started = True
        elif self.sink.ring.ended and not self.paused:  # drained by the run before: play again when primed
            self.sink.set_paused(False)
        try:
            if self._held is not None:  # what the run before made beyond its end comes first
                held, self._held = self._held, None
                self._emit(held, None, target)
            while not self.stop_event.is_set():
                if target is not None and codec.samples_after(codec.frames) >= target:
                    break
                if not self.paused:  # the chunks with the codec count as buffered: they are moments away
                    if not self.sink.has_room(ahead=with_codec()):
                        # About to wait anyway: every chunk goes to the sink first, the one just made too.
                        # Left with the codec until the next frame is made, it could not help that frame
                        # if it ran late, and it would add a chunk (20 ms) to every control's latency.
                        self._emit_from_codec(0, target)
                    self.sink.wait_for_room(self.stop_event, ahead=with_codec())
                self.steering.at_boundary()  # after the wait: a change made during it applies at once
                if self.paused:
                    self._emit_from_codec(0, target)  # what was made before the pause plays out
                    time.sleep(0.01 if self.sink.paced else 0)
                    continue
                self.steering.resolve_probes(self.sink.played)
                start = time.perf_counter()
                codes = self._make_chunk()
                codec.submit(codes)
                self._emit_from_codec(self.CODEC_LAG, target)  # one host sync per chunk
                self._measure(time.perf_counter() - start, codes.shape[-1])
                if on_chunk:
                    on_chunk(self)
            if self.stop_event.is_set():
                while codec.in_flight:  # stopped: what the codec still holds is not played
                    codec.take()
            else:
                self._emit_from_codec(0, target)
            if self.sink.paced:
                self.sink.drain(self.stop_event)
                self.steering.resolve_probes(self.sink.played)
        except BaseException:
            self.close()
            raise
        finally:
            sys.setswitchinterval(switch_interval)
        if not keep_open:
            self.close()

    def _make_chunk(self) -> mx.array:
        frames = []
        for _ in range(self.chunk_frames):
            self.steering.at_frame()
            frames.append(self.generator.next_frames(1))
        return frames[0] if len(frames) == 1 else mx.concatenate(frames, axis=-1)

    def _emit_from_codec(self, keep: int, target: int | None) -> None:
        """Write the codec's chunks, oldest first, until `keep` are left with it (waiting for each)."""
        while self.codec.in_flight > keep:
            self._emit(*self.codec.take(), target)

    def _warm_up_codec(self) -> None:
        """The codec's first calls build kernels for their shapes: do that now, not on the first frames."""
        scratch = StreamingDecoder(self.loaded.model.audio_encoder)  # on this thread: kernels are shared
        # a call decodes one chunk, or up to all that the codec may hold at once (see CodecThread)
        for chunks in [1] * 6 + list(range(2, self.CODEC_LAG + 2)):
            shape = (self.channels, self.generator.num_codebooks // self.channels, chunks * self.chunk_frames)
            mx.eval(scratch(mx.zeros(shape, mx.int32)))

    def _emit(self, audio: np.ndarray, codes: mx.array | None, target: int | None) -> None:
        if codes is not None and self.codes_path:
            self._codes.append(np.array(codes))
        if target is not None and len(audio) > target - self.metrics.samples:  # the rest opens the next run
            audio, self._held = audio[: target - self.metrics.samples], audio[target - self.metrics.samples :]
        self.sink.write(audio)
        for name, recorder in list(self.recorders.items()):
            try:
                recorder.write(audio)
            except (OSError, RuntimeError) as e:  # a full disk, a vanished folder: the music plays on
                self.metrics.faults += 1
                log.warning("recording to %s stopped: %s", recorder.path, e)
                self.recorders.pop(name)
        self.metrics.samples += len(audio)

    def _measure(self, seconds: float, frames: int) -> None:
        """Frame time, underruns (logged with where they happened), the adaptive buffer."""
        m = self.metrics
        m.generating_seconds += seconds
        m.frames += frames
        m.frame_times.add(seconds * 1000 / frames, frames)
        m.reprimes = self.generator.reprimes
        ring = self.sink.ring
        while ring.underrun_at:
            played, card = ring.underrun_at.popleft()
            event = (played // self.hop, played / self.sink.sample_rate)
            m.underrun_events.append(event)
            if self.log:
                self.log.write({"underrun": len(m.underrun_events), "frame": event[0], "t": round(event[1], 4),
                                "worst_frame_ms": round(m.frame_times.worst_recent(), 2),
                                "building_context": len(self.generator.contexts) > 1,
                                "buffer_ms": round(self.sink.target / self.sink.sample_rate * 1000, 1)}
                               | ({"card": True} if card else {}))
        self.buffer.update(m.frame_times.worst_recent())
        if not self.timeline.started and self.sink.paced and self.sink.clock and self.sink.played > 0:
            self.timeline.begin(self.heard_at(0))  # a tempo set by hand counts its beat 0 from the first sound

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Everything written and closed, each part on its own: one failing loses nothing of the others.
        Once: later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self.sink.close()
        self.preparer.close()
        self.codec.close()
        for recorder in self.recorders.values():
            recorder.close()
        if self.log:
            gen = self.generator
            self.log.write({"end": True, "frame": gen.emitted, "step": gen.steps,
                            "seconds": self.metrics.samples / self.sink.sample_rate})
            self.log.close()
        if self.codes_path:
            try:
                np.save(self.codes_path, np.concatenate(self._codes, axis=-1) if self._codes else np.zeros((1, 0, 0)))
            except OSError as e:
                log.warning("could not save the codes to %s: %s", self.codes_path, e)


def frames_for(seconds: float, loaded: Loaded) -> int:
    """Frames to generate so that `seconds` of audio come out of the stream: the codec holds back its
    look-ahead, so a finite run generates that many frames more (and ends them like offline generation)."""
    latency = StreamingDecoder(loaded.model.audio_encoder).latency_samples
    return round(seconds * loaded.config.frames_per_second) + math.ceil(latency / loaded.config.codec.hop_length)
