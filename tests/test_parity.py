"""Our MLX MusicGen against transformers' reference (float32), on random-weight hub-layout checkpoints."""

import mlx.core as mx
import numpy as np
import pytest

from mg_live.engine import generation, loading
from mg_live.engine.sampling import SamplingParams


@pytest.fixture(scope="module")
def ours(reference_checkpoint):
    folder, ref = reference_checkpoint
    return loading.load(str(folder)), ref


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    return 10 * np.log10(np.sum(reference**2) / max(np.sum((reference - test) ** 2), 1e-30))


def test_tokenizer_matches(ours):
    loaded, ref = ours
    ids, mask = loaded.tokenizer(generation_prompts(ref))
    np.testing.assert_array_equal(np.array(ids), ref["input_ids"])
    np.testing.assert_array_equal(np.array(mask), ref["attention_mask"])


def generation_prompts(ref):
    import oracle

    return oracle.PROMPTS


def test_t5_hidden_states(ours):
    loaded, ref = ours
    hidden = loaded.model.text_encoder(mx.array(ref["input_ids"]), mx.array(ref["attention_mask"]))
    valid = ref["attention_mask"].astype(bool)  # padded positions are zeroed before use
    np.testing.assert_allclose(np.array(hidden)[valid], ref["t5_hidden"][valid], atol=1e-4, rtol=0)


def test_teacher_forced_logits(ours):
    loaded, ref = ours
    model = loaded.model
    ids, mask = loaded.tokenizer(generation_prompts(ref)[:1])
    condition = model.condition(ids, mask)
    codes = mx.array(ref["teacher_codes"][None].astype(np.int32))
    logits = model.decoder.teacher_forced(model.decoder.embed_tokens(codes), mx.stack(model.cross_keys_values(condition)))
    np.testing.assert_allclose(np.array(logits), ref["teacher_logits"], atol=1e-4, rtol=0)


def test_greedy_codes_with_guidance(ours):
    loaded, ref = ours
    frames = ref["greedy_codes"].shape[-1]
    codes = generation.generate_codes(loaded.model, loaded.tokenizer, generation_prompts(ref)[0], frames,
                                      SamplingParams(cfg_scale=3.0, top_k=1))
    np.testing.assert_array_equal(codes, ref["greedy_codes"])


def test_generated_audio(ours):
    loaded, ref = ours
    audio = generation.decode_audio(loaded.model, ref["greedy_codes"])
    assert audio.shape == ref["greedy_audio"].shape
    assert snr_db(ref["greedy_audio"], audio) >= 60


def test_codec_decode(ours):
    loaded, ref = ours
    audio = np.array(loaded.model.audio_encoder.decode(mx.array(ref["codec_codes"])))
    assert audio.shape == ref["codec_audio"][:, 0].shape
    assert snr_db(ref["codec_audio"][:, 0], audio) >= 60


def test_codec_encode(ours):
    loaded, ref = ours
    codes = np.array(loaded.model.audio_encoder.encode(mx.array(ref["encode_audio"])))
    np.testing.assert_array_equal(codes, ref["encode_codes"])


def test_continuation_codes(ours):
    """Continuing an audio prompt gives the reference's codes, prompt included (greedy, guidance 3)."""
    import oracle

    loaded, ref = ours
    prompt_codes = generation.codes_from_audio(loaded.model, ref["continue_audio"], 32000)
    new = ref["continue_codes"].shape[-1] - prompt_codes.shape[-1]
    codes = generation.generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[0], new,
                                      SamplingParams(cfg_scale=3.0, top_k=1), prompt_codes=prompt_codes)
    np.testing.assert_array_equal(codes, ref["continue_codes"])
