"""The Python API: the README's example runs as written, and what the API promises holds (a stream that is
not paced and sees no change equals offline generation; values are checked against the registry)."""

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from mg_live.engine import api

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def model():
    return api.load("tiny")


def test_readme_example_runs(tmp_path, monkeypatch):
    example = re.search(r"## Python API\n.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(example, "README.md (Python API)", "exec"), scope)
    model, clip, blocks = scope["model"], scope["clip"], scope["blocks"]
    assert clip.shape == (1, 4 * model.sample_rate) and np.abs(clip).max() > 0.01
    assert sum(len(b) for b in blocks) == 4 * model.sample_rate
    assert scope["stream"].engine.status()["prompt"] == "soft jazz piano"


def test_an_unchanged_stream_is_offline_generation(model):
    clip = api.generate(model, "lofi beat", seconds=3, top_k=1)  # longer: its end is decoded as an end
    blocks = []
    with api.Stream(model, "lofi beat", on_audio=blocks.append, top_k=1) as stream:
        stream.play(1)
        stream.play(1)  # goes on where the first stopped
    played = np.concatenate(blocks)
    assert played.shape == (2 * model.sample_rate, 1)
    np.testing.assert_allclose(played[:, 0], clip[0, : len(played)], atol=1e-5)


def test_the_same_changes_give_the_same_music(model):
    def perform():
        blocks = []
        with api.Stream(model, "lofi beat", on_audio=blocks.append, seed=3, morph=0.5) as stream:
            stream.play(0.5)
            stream.set("prompt", "soft jazz piano")
            stream.set("slot_prompt", "strings", slot=2)
            stream.set("slot_weight", 0.7, slot=2)
            stream.set("temperature", 1.4)
            stream.play(1.5)
        return np.concatenate(blocks)

    first, second = perform(), perform()
    np.testing.assert_array_equal(first, second)
    with api.Stream(model, "lofi beat", on_audio=(unchanged := []).append, seed=3, morph=0.5) as stream:
        stream.play(2)
    assert np.abs(np.concatenate(unchanged) - first).max() > 0.01  # and the changes did something


def test_values_are_checked(model):
    with pytest.raises(ValueError, match="cfg must be between 0 and 15"):
        api.Stream(model, "x", cfg=99)
    with pytest.raises(ValueError, match="unknown setting"):
        api.generate(model, "x", seconds=1, guidance=3)
    with api.Stream(model, "x") as stream:
        with pytest.raises(ValueError, match="no parameter 'volume'"):
            stream.set("volume", 1.0)
        with pytest.raises(ValueError, match="needs slot"):
            stream.set("slot_weight", 0.5)
        with pytest.raises(ValueError, match="top_k must be between"):
            stream.set("top_k", -1)


def test_a_background_stream_takes_changes_while_it_plays(model):
    got = threading.Event()
    seen = []

    def on_audio(block):
        seen.append(len(block))
        if sum(seen) > model.sample_rate:
            got.set()

    stream = api.Stream(model, "lofi beat", on_audio=on_audio, realtime=True).start()
    try:
        stream.set("cfg", 7.5)
        assert got.wait(60)
        assert stream.status()["underruns"] == 0
        assert stream.engine.params.cfg_scale == pytest.approx(7.5)
    finally:
        stream.close()
    assert stream.engine.metrics.samples >= model.sample_rate
