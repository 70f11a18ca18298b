"""Continuation live: mg-live --continue picks up where a recording ends, as mg-generate --continue does."""

import subprocess
import sys

import numpy as np
import soundfile as sf



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
