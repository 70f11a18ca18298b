"""Melody models against transformers' MusicgenMelodyForConditionalGeneration: greedy codes with a chroma
melody and with none (the null melody), mono and stereo; random-weight checkpoints in the hub layout."""

import numpy as np
import pytest

from conftest import HAVE_TORCH
from mg_live.engine import generation, loading
from mg_live.engine.sampling import SamplingParams
import oracle


@pytest.fixture(scope="module")
def melody(melody_checkpoint):
    folder, ref = melody_checkpoint
    return loading.load(str(folder)), ref


@pytest.mark.parametrize("with_chroma", [True, False], ids=["chroma", "null-melody"])
def test_melody_greedy_codes(melody, with_chroma):
    loaded, ref = melody
    expected = ref["melody_codes" if with_chroma else "null_codes"]
    codes = generation.generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[0], expected.shape[-1],
                                      SamplingParams(cfg_scale=3.0, top_k=1),
                                      melody=ref["chroma"] if with_chroma else None)
    np.testing.assert_array_equal(codes, expected)


def test_positions_past_the_sinusoid_table(melody):
    """The prefix (chroma and text) counts positions too; past max_position_embeddings (512 in these
    fixtures) the reference grows its sinusoid table with the same formula: codes still match it."""
    loaded, ref = melody
    expected = ref["long_codes"]
    assert loaded.config.chroma_length + expected.shape[-1] > loaded.config.decoder.max_position_embeddings
    codes = generation.generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[0], expected.shape[-1],
                                      SamplingParams(cfg_scale=3.0, top_k=1), melody=ref["chroma"])
    np.testing.assert_array_equal(codes, expected)


def test_chroma_filterbank_matches_the_reference():
    from mg_live.engine.chroma import chroma_filterbank

    import librosa  # a test dependency only: the runtime computes chroma with numpy

    ours = chroma_filterbank()
    assert ours.shape == (12, 8193)
    np.testing.assert_allclose(ours, librosa.filters.chroma(sr=32000, n_fft=16384, tuning=0.0), atol=1e-10)
    if HAVE_TORCH:  # transformers' own port of librosa's chroma, which its melody feature extractor uses
        from transformers.audio_utils import chroma_filter_bank

        reference = chroma_filter_bank(num_frequency_bins=16384, num_chroma=12, sampling_rate=32000, tuning=0)
        np.testing.assert_allclose(ours, reference, atol=1e-10)
    # and independently: a pure tone lands in its pitch class (A4 = 440 Hz is bin 9 counting from C)
    spectrum_bin = round(440 * 16384 / 32000)
    assert ours[:, spectrum_bin].argmax() == 9


def test_chroma_of_a_c_major_triad():
    from mg_live.engine.chroma import chroma_energy, melody_chroma

    t = np.arange(32000 * 3) / 32000
    triad = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.00))  # C4 E4 G4
    assert set(np.argsort(-chroma_energy(triad).mean(axis=0))[:3]) == {0, 4, 7}
    onehot = melody_chroma(triad[None], 32000)
    assert onehot.shape == (1, 24, 12) and (onehot.sum(-1) == 1).all()
    assert set(np.flatnonzero(onehot[0].sum(0))) <= {0, 4, 7}
    thirty = melody_chroma(np.zeros((2, 30 * 44100), np.float32) + 0.1, 44100)  # any rate, any channels
    assert thirty.shape == (1, 235, 12)
    t44 = np.arange(44100 * 3) / 44100  # the same triad recorded at 44.1 kHz, in stereo: the same notes
    stereo = np.stack([sum(np.sin(2 * np.pi * f * t44) for f in (261.63, 329.63, 392.00))] * 2)
    np.testing.assert_array_equal(melody_chroma(stereo, 44100), onehot)


def test_melody_model_plays_live_and_takes_a_new_prompt(tmp_path):
    """A melody model streams too; its text is a prefix, so a new prompt (with the registry's default
    morph) builds one new context from the recent window, which takes over when it is ready."""
    import json

    from mg_live.engine.audio import UnpacedSink
    from mg_live.engine.params import BY_NAME
    from mg_live.engine.streaming import StreamingEngine

    loaded = loading.load(str(oracle.FIXTURES / "stereo-melody"))
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], SamplingParams(), UnpacedSink(32000, 2, 100),
                             morph_seconds=BY_NAME["morph"].default, log_path=tmp_path / "take.jsonl")
    contexts = []
    engine.submit("prompt", oracle.PROMPTS[1])
    engine.run(8.0, on_chunk=lambda e: contexts.append(id(e.generator.contexts[0])))
    assert engine.metrics.samples == 8 * 32000 and engine.generator.reprimes == 1
    assert len(set(contexts)) == 2  # one new context took over, once
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()[1:]]
    assert [r["param"] for r in log if "param" in r] == ["prompt"] and engine.prompt == oracle.PROMPTS[1]


def test_midi_chords_become_the_melody(tmp_path):
    """Notes held on a keyboard (mido messages through the MIDI router) steer a melody model's chroma at
    logged frames; letting go returns to the null melody."""
    import json

    import mido

    from mg_live.engine.audio import UnpacedSink
    from mg_live.engine.chroma import chord_chroma
    from mg_live.engine.streaming import StreamingEngine
    from mg_live.live.midi import MidiMap, MidiRouter
    from mg_live.live.params import Registry

    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], SamplingParams(), UnpacedSink(32000, 1, 100),
                             log_path=tmp_path / "take.jsonl")
    router = MidiRouter(MidiMap(melody_channel=0), Registry(), lambda p, v: engine.submit(p, v, "midi"))
    played = {20: [("note_on", 60), ("note_on", 64), ("note_on", 67)], 50: [("note_on", 72)],
              70: [("note_off", 60), ("note_off", 64), ("note_off", 67), ("note_off", 72)]}
    seen = {}

    def on_chunk(e):
        for kind, note in played.pop(e.metrics.frames, []):
            router.handle(mido.Message(kind, note=note, velocity=90 if kind == "note_on" else 0))
        melody = e.conditioner.melody
        seen[e.metrics.frames] = None if melody is None else melody.chroma

    engine.run(2.0, on_chunk=on_chunk)
    melody = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()[1:]]
    melody = [(r["frame"], r["value"]) for r in melody if r.get("param") == "melody"]
    # C, C+E, C+E+G; C5 adds no new pitch class; then let go one by one (C still held by C5), then none
    assert [v for _, v in melody] == [[0], [0, 4], [0, 4, 7], [0, 7], [0], []]
    assert [f for f, _ in melody] == sorted(f for f, _ in melody) and 20 <= melody[0][0] <= 22
    triad = [f for f, v in seen.items() if v is not None and (v == chord_chroma([0, 4, 7], 16)).all()]
    assert triad and min(triad) >= 20 and max(triad) < 72
    assert engine.generator.reprimes >= 2  # each new melody: a new context from the recent window


def test_melody_from_a_file_live(tmp_path):
    import soundfile as sf

    from mg_live.engine.audio import UnpacedSink
    from mg_live.engine.chroma import Melody, melody_chroma
    from mg_live.engine.streaming import StreamingEngine

    t = np.arange(32000 * 2) / 32000
    tune = (0.3 * np.sin(2 * np.pi * 392.0 * t)).astype(np.float32)  # G4
    sf.write(str(tmp_path / "tune.wav"), tune, 32000)
    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], SamplingParams(), UnpacedSink(32000, 1, 100))
    engine.submit("melody", str(tmp_path / "tune.wav"))
    engine.submit("melody", str(tmp_path / "missing.wav"))  # cannot apply: counted, the music goes on
    seen = {}
    chroma_at = Melody.chroma_at
    Melody.chroma_at = lambda self, fb: seen.setdefault(fb, chroma_at(self, fb))
    try:
        engine.run(2.0)
    finally:
        Melody.chroma_at = chroma_at
    tune, _ = sf.read(str(tmp_path / "tune.wav"), dtype="float32")  # as stored (16-bit)
    np.testing.assert_array_equal(engine.conditioner.melody.audio, tune)
    assert engine.metrics.faults == 1 and engine.metrics.samples == 64000
    # the new context read the recording from its start: its first frame is the recording's time 0
    (frames_before, chroma), = seen.items()
    np.testing.assert_array_equal(chroma, melody_chroma(tune[(np.arange(30 * 32000)) % len(tune)][None], 32000))
    assert chroma[0].argmax(-1).tolist() == [7] * chroma.shape[1]
