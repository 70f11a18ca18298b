"""Streaming: each frame decoded once equals the offline decode; live equals offline; hours stay flat."""

import os
import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest
import soundfile as sf

from mg_live.engine import loading
from mg_live.engine.audio import RingBuffer, UnpacedSink, Recorder
from mg_live.engine import metrics
from mg_live.engine.encodec import StreamingDecoder
from mg_live.engine.chroma import Melody
from mg_live.engine.generation import generate_codes
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import StreamingEngine, frames_for
import oracle
from test_parity import snr_db


@pytest.fixture(scope="module")
def tiny():
    return loading.load("tiny")


@pytest.mark.parametrize("chunk", [1, 3, 7])
@pytest.mark.parametrize("source", ["tiny", "fixture"])
def test_incremental_decoder_equals_offline(chunk, source, tiny):
    codec = (tiny if source == "tiny" else loading.load(str(oracle.FIXTURES / "mono"))).model.audio_encoder
    codes = mx.array(np.random.default_rng(chunk).integers(0, 2048, (1, 4, 50)).astype(np.int32))
    offline = np.array(codec.decode(codes))
    stream = StreamingDecoder(codec)
    pieces = [np.array(stream(codes[:, :, i : i + chunk])) for i in range(0, 50, chunk)]
    streamed = np.concatenate(pieces, axis=1)
    # everything but the look-ahead held back at the end, sample for sample
    assert streamed.shape[1] == offline.shape[1] - stream.latency_samples
    assert snr_db(offline[:, : streamed.shape[1]], streamed) >= 60
    assert np.abs(offline[:, : streamed.shape[1]] - streamed).max() < 1e-4


def run_cli(*args):
    result = subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("name,chunk_frames", [("mono", 1), ("stereo", 1), ("mono", 4), ("melody", 1),
                                               ("stereo-melody", 1)])
def test_live_recording_equals_offline_render(tmp_path, name, chunk_frames):
    """Greedy, same model/prompt/seed (and melody): what mg-live plays (wall-clock paced, no sound card,
    the registry's default morph) is what mg-generate renders, sample for sample, however many frames each
    codec call decodes."""
    folder, seconds = oracle.FIXTURES / name, 1.0
    loaded = loading.load(str(folder))
    total = frames_for(seconds, loaded)
    common = ["--model", folder, "--prompt", oracle.PROMPTS[0], "--top-k", 1, "--cfg", 3, "--seed", 5]
    if "melody" in name:
        t = np.arange(32000 * 3) / 32000
        sf.write(str(tmp_path / "tune.wav"), (0.3 * np.sin(2 * np.pi * 330.0 * t)).astype(np.float32), 32000)
        common += ["--melody", tmp_path / "tune.wav"]
    run_cli("mg_live.live.app", *common, "--seconds", seconds, "--no-audio", "--buffer-ms", 50, "--chunk-frames",
            chunk_frames, "--record", tmp_path / "live.wav", "--log", tmp_path / "live.jsonl")
    run_cli("mg_live.engine.generate", *common, "--seconds", total / 50, "--out", tmp_path / "offline.wav")
    live, _ = sf.read(tmp_path / "live.wav", dtype="float32", always_2d=True)
    offline, _ = sf.read(tmp_path / "offline.wav", dtype="float32", always_2d=True)
    assert live.shape == (int(seconds * 32000), 2 if "stereo" in name else 1)
    assert snr_db(offline[: len(live)], live) >= 60


@pytest.mark.parametrize("name", ["melody", "stereo-melody"])
def test_melody_live_equals_offline_past_a_context(tmp_path, name):
    """A recording longer than a context: the engine and offline generation take each context's melody
    from the same time offset (contexts of 8 s here, so that a few fit in a short test)."""
    loaded = loading.load(str(oracle.FIXTURES / name))
    t = np.arange(32000 * 11) / 32000
    tune = (0.3 * np.sin(2 * np.pi * np.where(t % 3 < 1.5, 261.63, 440.0) * t)).astype(np.float32)
    frames, params = 1000, SamplingParams(top_k=1)
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], params, UnpacedSink(32000, loaded.config.audio_channels, 100),
                             seed=2, window_seconds=3.0, total_frames=frames, horizon=400, morph_seconds=2.0,
                             codes_path=tmp_path / "live.npy", melody=Melody.from_recording(tune[None], 32000))
    engine.run(frames * 640 / 32000)
    offline = generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[0], frames, params, seed=2,
                             extend_stride=(400 - 150) / 50, horizon=400,
                             melody=Melody.from_recording(tune[None], 32000))
    assert engine.generator.reprimes >= 3
    np.testing.assert_array_equal(np.load(tmp_path / "live.npy")[..., :frames], offline)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS read from /proc (Linux)")
def test_ninety_seconds_past_two_reprimes(tiny, tmp_path):
    """Endless mode with the real 30 s horizon and a 10 s window: re-primes at 30, 50, 70 and 90 s."""
    sink = UnpacedSink(32000, 1, 100)
    recorder = Recorder(tmp_path / "long.wav", 32000, 1)
    engine = StreamingEngine(tiny, "slow ambient pad", SamplingParams(), sink, seed=1, window_seconds=10,
                             recorder=recorder, chunk_frames=5)
    rss = {}

    def on_chunk(e):
        if e.metrics.samples >= 30 * 32000 and not rss:
            mx.clear_cache()
            rss[30] = rss_bytes()

    engine.run(90, on_chunk=on_chunk)
    mx.clear_cache()
    rss[90] = rss_bytes()
    assert engine.metrics.reprimes >= 2
    assert abs(rss[90] - rss[30]) / rss[30] <= 0.05, rss
    audio, _ = sf.read(tmp_path / "long.wav", dtype="float32")
    assert len(audio) == 90 * 32000 and np.isfinite(audio).all()  # what a new context continues: test_reprime


def test_the_worst_recent_frame_is_the_slowest_of_the_last_seconds(monkeypatch):
    now, rng = [0.0], np.random.default_rng(0)
    monkeypatch.setattr(metrics.time, "monotonic", lambda: now[0])
    times = metrics.FrameTimes()
    for _ in range(3000):  # irregular frames, ~0.1 s apart on average: the window holds about 50
        now[0] += rng.uniform(0, 0.2)
        times.add(float(rng.exponential(3.0)))
        assert times.worst_recent() == max(ms for when, ms in times.recent)
        assert all(now[0] - when <= metrics.RECENT_SECONDS for when, _ in times.recent)


def test_ring_buffer_underrun_fades_to_silence():
    ring = RingBuffer(1000, 1, start_fill=10)
    out = np.ones((64, 1), np.float32)
    assert ring.read_into(out) and not out.any()  # before playback starts: silence, no underrun
    ring.write(np.full((100, 1), 0.5, np.float32))
    block = np.zeros((160, 1), np.float32)
    assert not ring.read_into(block)
    assert ring.underruns == 1
    assert (block[:100] == 0.5).all() and block[100] == 0.5 and (np.diff(block[100:164, 0]) <= 0).all()
    assert (block[164:] == 0).all()
