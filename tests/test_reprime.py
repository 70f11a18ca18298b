"""Re-priming: a new decoder context starts from exactly the last `window` frames of the music (read back
from its keys and values, against a fresh prefill of those frames), in the windows and with the melody time
offsets of the reference's extended generation, and the stream's tokens do not depend on how the engine
around the generator is driven."""

import mlx.core as mx
import numpy as np
import pytest

from mg_live.engine import loading
from mg_live.engine.audio import UnpacedSink
from mg_live.engine.chroma import Melody, melody_chroma
from mg_live.engine.conditioning import Conditioner
from mg_live.engine.frames import FrameGenerator
from mg_live.engine.generation import generate_codes
from mg_live.engine.musicgen import Span
from mg_live.engine.prepare import mlx_thread
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import StreamingEngine
import oracle

PAD = 2048
NEXT_FRAMES = FrameGenerator.next_frames  # the generator's own (a test below wraps it)


def delay_pattern(codes: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Codes [K, W] → the decoder's input at positions 0..W ([1, K, W + 1]): codebook k of frame f sits at
    position f + 1 + delay[k]; everything else is pad. Written out here, independently of the engine."""
    K, W = codes.shape
    sequence = np.full((1, K, W + 1), PAD, np.int32)
    for p in range(W + 1):
        for k in range(K):
            f = p - 1 - delays[k]
            if 0 <= f < W:
                sequence[0, k, p] = codes[k, f]
    return sequence


def fresh_keys(generator: FrameGenerator, prompt: np.ndarray, prefix: mx.array | None, prefix_len: int) -> list:
    """Keys/values a context holds after a plain prefill of `prompt` (its prefix first), every layer."""
    decoder = generator.decoder
    x = mx.broadcast_to(decoder.embed_tokens(mx.array(delay_pattern(prompt, generator.pattern.delays))),
                        (generator.batch, prompt.shape[1] + 1, decoder.cfg.hidden_size))
    if prefix is not None:
        x = mx.concatenate([prefix[:, :prefix_len], x], axis=1)
    length = x.shape[1]
    cache = decoder.new_cache(generator.batch, length)
    _, cache = decoder(x, [Span(0, length, mx.array([0]), length)], cache, generator.cross, generator.cross_mask)
    return cache


class Watch:
    """Runs a generator frame by frame, keeping every frame and, at each switch to a new context, how its
    keys and values compare with a fresh prefill of the frames it says it continues."""

    def __init__(self, generator: FrameGenerator, prompt: np.ndarray | None = None):
        self.generator, self.switches = generator, []
        self.first = 0 if prompt is None else -prompt.shape[1]  # global frame of the first one kept
        self.frames = [] if prompt is None else list(prompt.T)
        self.live = generator.contexts[0]

    def run(self, count: int) -> np.ndarray:
        gen = self.generator
        for _ in range(count):
            self.frames.append(np.array(NEXT_FRAMES(gen, 1))[0, :, 0])
            if gen.contexts[0] is not self.live:
                self.live = context = gen.contexts[0]
                emitted = np.stack(self.frames, axis=1)
                prompt = emitted[:, context.frames_before - self.first : context.owns_from - self.first]
                assert prompt.shape[1] == context.width
                expected = fresh_keys(gen, prompt, context.prefix, context.prefix_len)
                end = context.prefix_len + context.width + 1
                rows = slice(context.rows, context.rows + gen.batch)
                error = max(float(mx.abs(gen.cache[i][:, rows, :, :end] - expected[i]).max())
                            for i in range(len(expected)))
                self.switches.append((context.frames_before, context.owns_from, error))
        return np.stack(self.frames, axis=1)[:, -self.first :]


@pytest.fixture(scope="module")
def tiny():
    return loading.load("tiny")


@pytest.mark.parametrize("params", [SamplingParams(top_k=1), SamplingParams(top_k=50, temperature=1.2)],
                         ids=["greedy", "sampled"])
def test_new_context_continues_the_last_window(tiny, params):
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    gen = FrameGenerator(tiny.model, params, seed=4, horizon=400, window_frames=120, cross=conditioner.cross,
                         cross_mask=conditioner.cross_mask)
    watch = Watch(gen)
    watch.run(1300)
    # a new context every horizon − window frames, each from the 120 frames before its first own frame
    assert [(fb, owns) for fb, owns, _ in watch.switches] == [(280, 400), (560, 680), (840, 960), (1120, 1240)]
    for frames_before, owns_from, error in watch.switches:
        assert error < 1e-4, (frames_before, owns_from, error)


def test_forgetting_the_window_would_be_caught(tiny):
    """The check above can fail: a context whose prompt is not the music's last frames holds other keys."""
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    gen = FrameGenerator(tiny.model, SamplingParams(top_k=1), horizon=400, window_frames=120,
                         cross=conditioner.cross, cross_mask=conditioner.cross_mask)
    watch = Watch(gen)
    watch.run(420)
    context = gen.contexts[0]
    unrelated = np.roll(np.stack(watch.frames, axis=1)[:, context.frames_before : context.owns_from], 7, axis=1)
    expected = fresh_keys(gen, unrelated, None, 0)
    rows = slice(context.rows, context.rows + gen.batch)
    assert float(mx.abs(gen.cache[0][:, rows, :, : context.width + 1] - expected[0]).max()) > 1e-2


def test_a_long_recording_stays_in_the_history(tiny):
    """Continuing a recording longer than the window: the next context's prompt still holds the end of
    the recording (the reference keeps the prompt's tokens), not only the frames generated since."""
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    recording = np.random.default_rng(3).integers(0, 2048, (4, 300)).astype(np.int32)
    gen = FrameGenerator(tiny.model, SamplingParams(top_k=1), horizon=400, window_frames=200, prompt=recording,
                         cross=conditioner.cross, cross_mask=conditioner.cross_mask)
    watch = Watch(gen, recording)
    watch.run(150)
    (frames_before, owns_from, error), = watch.switches
    assert (frames_before, owns_from) == (-100, 100)  # 100 frames of the recording, then 100 new ones
    assert error < 1e-4


def test_sixty_seconds_of_melody_follow_the_reference_windows(monkeypatch):
    """mg-generate past 30 s with a melody: contexts every 18 s from the last 12 s (audiocraft's extended
    generation), each reading the 30 s of the recording from its own time offset, the recording looped."""
    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    t = np.arange(32000 * 7) / 32000
    tune = (0.3 * np.sin(2 * np.pi * np.where(t % 2 < 1, 261.63, 392.0) * t)).astype(np.float32)  # C4, G4, …
    seen = {}
    chroma_at = Melody.chroma_at
    monkeypatch.setattr(Melody, "chroma_at", lambda self, fb: seen.setdefault(fb, chroma_at(self, fb)))
    watches = []
    init = FrameGenerator.__init__

    def watched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        watches.append(Watch(self))

    monkeypatch.setattr(FrameGenerator, "__init__", watched)
    monkeypatch.setattr(FrameGenerator, "next_frames", lambda self, n: mx.array(watches[0].run(n)[None, :, -n:]))
    codes = generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[0], 3000, SamplingParams(top_k=1),
                           melody=Melody.from_recording(tune[None], 32000))
    assert codes.shape == (1, 4, 3000)
    assert [(fb, owns) for fb, owns, _ in watches[0].switches] == [(900, 1500), (1800, 2400)]
    assert all(error < 1e-4 for _, _, error in watches[0].switches), watches[0].switches
    assert sorted(seen) == [0, 900, 1800]
    for frames_before, chroma in seen.items():  # the reference: wav[(offset + arange(30 s)) % len]
        offset = int(frames_before / 50 * 32000)
        segment = tune[(offset + np.arange(30 * 32000)) % len(tune)]
        np.testing.assert_array_equal(chroma, melody_chroma(segment[None], 32000))
    assert not np.array_equal(seen[0], seen[900])  # a 7 s loop: 18 s in, the melody is elsewhere


@pytest.mark.parametrize("params", [SamplingParams(top_k=1), SamplingParams(top_k=50, temperature=1.2)],
                         ids=["greedy", "sampled"])
def test_engine_plays_what_offline_generation_makes(tiny, tmp_path, params):
    """The streaming engine (chunks, steering, codec) and mg-generate's path give the same tokens across
    re-primes, greedy and sampled."""
    frames = 900
    engine = StreamingEngine(tiny, "slow ambient pad", params, UnpacedSink(32000, 1, 100), seed=9,
                             window_seconds=2.4, total_frames=frames, horizon=400, chunk_frames=3,
                             codes_path=tmp_path / "live.npy")
    engine.run(frames * 640 / 32000)
    live = np.load(tmp_path / "live.npy")
    offline = generate_codes(tiny.model, tiny.tokenizer, "slow ambient pad", frames, params, seed=9,
                             extend_stride=(400 - 120) / 50, horizon=400)
    assert engine.generator.reprimes >= 2
    np.testing.assert_array_equal(live[..., :frames], offline)


def passes_per_frame(gen: FrameGenerator, frames: int, changes: dict) -> list[int]:
    """Decoder passes each frame took (changes: frame → a call on the generator before it)."""
    counts = []
    for frame in range(frames):
        if frame in changes:
            changes[frame](gen)
        before = gen.steps
        gen.next_frames(1)
        counts.append(gen.steps - before)
    return counts


@pytest.mark.parametrize("name,changes", [
    ("steady", {}),
    ("window grows late", {360: lambda g: g.set_window(300)}),  # too late to build 300 frames before 400
    ("window shrinks", {150: lambda g: g.set_window(20)}),
    ("reset", {100: lambda g: g.restart(), 102: lambda g: g.restart()}),
    ("new prefix near the end", {370: lambda g: g.restart(new_prefix=True)}),
])
def test_every_frame_takes_one_pass(tiny, name, changes):
    """The real-time property itself, whatever the hardware: building contexts (re-primes, resets, a
    window changed at any moment) never makes one frame wait for more than one decoder pass."""
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    gen = FrameGenerator(tiny.model, SamplingParams(), horizon=400, window_frames=20 if "grows" in name else 120,
                         cross=conditioner.cross, cross_mask=conditioner.cross_mask)
    counts = passes_per_frame(gen, 1300, dict(changes))
    assert gen.reprimes >= 3
    assert counts[0] == gen.max_delay  # the delay pattern's ramp, before playback starts
    late = [(i, n) for i, n in enumerate(counts) if n > 1 and i > 0]
    assert not late, late[:5]


def test_melody_contexts_take_one_pass_per_frame():
    """A melody model: each new context also reads its prefix (chroma and text) before its window."""
    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    conditioner = Conditioner(loaded.model, loaded.tokenizer, oracle.PROMPTS[0])
    gen = FrameGenerator(loaded.model, SamplingParams(), horizon=400, window_frames=60, prefixes=conditioner,
                         max_prefix=conditioner.max_prefix)
    changes = {200: lambda g: g.restart(new_prefix=True), 500: lambda g: g.set_window(250),
               700: lambda g: g.restart(), 790: lambda g: g.restart(new_prefix=True)}
    counts = passes_per_frame(gen, 1300, changes)
    late = [(i, n) for i, n in enumerate(counts) if n > 1 and i > 0]
    assert gen.reprimes >= 5 and not late, late[:5]


def test_reprimes_keep_pace_and_resets_catch_up(tiny):
    """A re-prime is foreseen: its context is built at most 2 positions per pass (a pass barely longer
    than a plain step). A new context asked for now (a melody model's new prefix, keeping the window) is
    not: it catches up at the backend's pace, to take effect sooner."""
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    gen = FrameGenerator(tiny.model, SamplingParams(), horizon=400, window_frames=120, cross=conditioner.cross,
                         cross_mask=conditioner.cross_mask, catch_up=6)
    widest, run = [], gen._run
    gen._run = lambda work, compiled: (widest.append(max(length for _, length, _ in work)), run(work, compiled))
    passes_per_frame(gen, 700, {})
    assert gen.reprimes >= 2 and max(widest) <= 2
    widest.clear()
    passes_per_frame(gen, 60, {10: lambda g: g.restart(new_prefix=True)})
    assert max(widest) == 6


def test_nothing_is_compiled_while_another_thread_plays(tiny, monkeypatch):
    """MLX traces a compiled function again on each thread: a generator built on one thread and played on
    another warms up there before its first frame, never at a re-prime (that cost a GPU frame ~14 ms)."""
    traces = []
    graph = FrameGenerator._graph

    def counted(self, plan, *args):
        traces.append(plan)
        return graph(self, plan, *args)

    monkeypatch.setattr(FrameGenerator, "_graph", counted)
    conditioner = Conditioner(tiny.model, tiny.tokenizer, "slow ambient pad")
    gen = FrameGenerator(tiny.model, SamplingParams(), horizon=400, window_frames=120, cross=conditioner.cross,
                         cross_mask=conditioner.cross_mask)
    counts = []

    def play():
        gen.next_frames(1)
        counts.append(len(traces))  # built and warmed up here
        passes_per_frame(gen, 1000, {})
        counts.append(len(traces))

    thread = mlx_thread(play, "player")
    thread.start()
    thread.join()
    assert gen.reprimes >= 3 and counts[0] > 0
    assert counts[1] == counts[0], traces[counts[0]:]
