"""mg-generate and mg-convert as a user runs them (subprocesses), checked against the oracle's numbers."""

import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest
import soundfile as sf

from mg_live.engine import loading
import oracle
from test_parity import snr_db


def run(module, *args):
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def test_tiny_five_seconds(tmp_path):
    out = tmp_path / "x.wav"
    run("mg_live.engine.generate", "--model", "tiny", "--prompt", "dark ambient pad", "--seconds", 5, "--out", out,
        "--codes-out", tmp_path / "x.npy")
    audio, rate = sf.read(out)
    assert rate == 32000 and audio.shape == (5 * 32000,)
    assert np.isfinite(audio).all() and audio.std() > 0
    assert np.load(tmp_path / "x.npy").shape == (1, 4, 250)


@pytest.mark.parametrize("name", ["mono", "stereo"])
def test_generate_reproduces_reference(tmp_path, name):
    folder = oracle.FIXTURES / name
    ref = np.load(folder / "reference.npz")
    frames = ref["greedy_codes"].shape[-1]
    out = tmp_path / "g.wav"
    run("mg_live.engine.generate", "--model", folder, "--prompt", oracle.PROMPTS[0], "--seconds", frames / 50,
        "--top-k", 1, "--cfg", 3, "--out", out, "--codes-out", tmp_path / "g.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), ref["greedy_codes"])
    audio, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == 32000
    assert snr_db(ref["greedy_audio"][0], audio.T) >= 60


def teacher_logits(loaded):
    model = loaded.model
    ids, mask = loaded.tokenizer(["dark techno"])
    codes = mx.array(np.random.default_rng(0).integers(0, 2048, (1, 4, 40)).astype(np.int32))
    cross = mx.stack(model.cross_keys_values(model.condition(ids, mask).astype(model.decoder.layer_norm.weight.dtype)))
    return np.array(model.decoder.teacher_forced(model.decoder.embed_tokens(codes), cross))


def relative_rms(test, reference):
    return float(np.sqrt(((test - reference) ** 2).mean() / (reference**2).mean()))


def test_convert_round_trip(tmp_path):
    folder = oracle.FIXTURES / "mono"
    run("mg_live.engine.convert", "--model", folder, "--out", tmp_path / "mlx")
    ref = np.load(folder / "reference.npz")
    run("mg_live.engine.generate", "--model", tmp_path / "mlx", "--prompt", oracle.PROMPTS[0], "--seconds", 0.4,
        "--top-k", 1, "--out", tmp_path / "c.wav", "--codes-out", tmp_path / "c.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), ref["greedy_codes"])


# Stated quantization error of teacher-forced logits against float32 (relative RMS), on random weights,
# which quantize worse than trained ones: 8-bit within 3 %, 4-bit within 30 %.
@pytest.mark.parametrize("bits,bound", [(8, 0.03), (4, 0.30)])
def test_quantized_logits_error(tmp_path, bits, bound):
    reference = teacher_logits(loading.load("tiny"))
    run("mg_live.engine.convert", "--model", "tiny", "--out", tmp_path / "q", "--quantize", bits)
    converted = loading.load(str(tmp_path / "q"))
    assert converted.quantize == bits
    assert relative_rms(teacher_logits(converted), reference) <= bound
    assert relative_rms(teacher_logits(loading.load("tiny", quantize=bits)), reference) <= bound
    assert relative_rms(teacher_logits(loading.load("tiny", quantize=bits)), reference) > 0  # really quantized


def test_live_recording_at_another_rate(tmp_path):
    """`mg-live --record-rate 48000` writes what plays resampled (soxr, streaming, the tail flushed at the
    end): the same as an offline soxr resample of the model-rate recording of the same performance."""
    import soxr

    takes = {}
    for rate in (None, 48000):
        out = tmp_path / f"take-{rate}.wav"
        run("mg_live.live.app", "--model", "tiny", "--no-audio", "--headless", "--osc-port", 0, "--seconds", 2,
            "--record", out, *(["--record-rate", rate] if rate else []))
        takes[rate] = sf.read(out, dtype="float32")
    (model_rate, rate32), (resampled, rate48) = takes[None], takes[48000]
    assert (rate32, rate48) == (32000, 48000) and len(resampled) == 3 * 32000
    expected = soxr.resample(model_rate, 32000, 48000, quality="HQ")
    assert snr_db(resampled, expected) >= 60
