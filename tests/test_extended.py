"""Beyond the 30 s horizon offline, and continuation live."""

import subprocess
import sys

import numpy as np
import soundfile as sf

from mg_live.engine import loading
from mg_live.engine.generation import SamplingParams, decode_audio, generate_codes


def test_seventy_seconds_offline_continuous(tmp_path):
    """audiocraft-style extension: a new context every 18 s from the last 12 s; the audio has no seam."""
    tiny = loading.load("tiny")
    codes = generate_codes(tiny.model, tiny.tokenizer, "slow ambient pad", 70 * 50, SamplingParams(), seed=2)
    assert codes.shape == (1, 4, 3500)
    audio = decode_audio(tiny.model, codes)[0, 0]
    assert len(audio) == 70 * 32000 and np.isfinite(audio).all()
    jumps = np.abs(np.diff(audio))
    for seconds in (29.9, 47.9, 65.9):  # where each new context's first frames land
        at = int(seconds * 32000)
        assert jumps[at - 6000 : at + 6000].max() <= np.percentile(jumps, 99.99) * 2, f"seam near {seconds} s"


def test_live_continues_a_recording(tmp_path):
    intro = tmp_path / "intro.wav"
    subprocess.run([sys.executable, "-m", "mg_live.engine.generate", "--model", "tiny", "--prompt", "jazz piano",
                    "--seconds", "1", "--out", str(intro)], check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--headless",
                             "--osc-port", "0", "--seconds", "2", "--continue", str(intro), "--top-k", "1",
                             "--record", str(tmp_path / "live.wav"), "--codes-out", str(tmp_path / "live.npy")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the same continuation offline: mg-generate --continue gives the intro then the same new frames
    subprocess.run([sys.executable, "-m", "mg_live.engine.generate", "--model", "tiny", "--prompt",
                    "warm analog synth pad with slow drums", "--seconds", str(104 / 50), "--continue", str(intro),
                    "--top-k", "1", "--out", str(tmp_path / "offline.wav"), "--codes-out", str(tmp_path / "off.npy")],
                   check=True, capture_output=True)
    live, offline = np.load(tmp_path / "live.npy"), np.load(tmp_path / "off.npy")
    np.testing.assert_array_equal(live[..., :100], offline[..., 50:150])
    assert sf.info(str(tmp_path / "live.wav")).frames == 2 * 32000
