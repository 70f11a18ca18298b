"""The fused CUDA decoder layers compute what the plain MLX layers compute: teacher-forced logits of one
step, and greedy codes over many steps (the in-place KV cache must be right for those to agree).

CUDA only: elsewhere the decoder never takes this path, and these tests say so as a skip. Run them on a
GPU machine with `python -m pytest tests/test_cuda_decoder.py`.
"""

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from mg_live.engine import cuda_decoder, tiny
from mg_live.engine.config import from_dict
from mg_live.engine.conditioning import cross_inputs
from mg_live.engine.frames import FrameGenerator
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.loading import quantize_decoder, set_dtype
from mg_live.engine.musicgen import MusicGen, Span

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="the fused decoder layers run on CUDA only")

COND_LEN = 16


def random_model(dtype, melody: bool = False, heads: int = 4) -> MusicGen:
    raw = tiny.config()
    raw["decoder"] |= {"hidden_size": 64 * heads, "num_attention_heads": heads, "ffn_dim": 256 * heads,
                       "num_hidden_layers": 3}
    if melody:
        raw |= {"model_type": "musicgen_melody", "chroma_length": 8}
    model = MusicGen(from_dict(raw))
    rng = np.random.default_rng(0)
    params = [(name, mx.ones(p.shape) if name.endswith("norm.weight") else mx.array(rng.normal(0, 0.05, p.shape)))
              for name, p in tree_flatten(model.parameters())]
    model.update(tree_unflatten(params))
    set_dtype(model, dtype)
    mx.eval(model.parameters())
    return model


def condition(model, length: int, padded: bool, guided: bool, seed: int = 1) -> tuple[mx.array, mx.array]:
    """Random cross-attention keys/values and mask for a condition of `length` (5 of them padded)."""
    D = model.cfg.decoder.hidden_size
    values = mx.array(np.random.default_rng(seed).normal(0, 1, (1, length, D)).astype(np.float32))
    mask = mx.array([[1] * (length - 5 * padded) + [0] * (5 * padded)], mx.int32)
    return cross_inputs(model, (values, mask), None, guided)


class RandomPrefixes:
    """Melody models: a random prefix for every context (what `Conditioner` gives, without a text model)."""

    def __init__(self, model, guided: bool):
        D, self.batch = model.cfg.decoder.hidden_size, 2 if guided else 1
        self.prefix = mx.array(np.random.default_rng(5).normal(0, 1, (self.batch, 12, D)).astype(np.float32))

    def hint(self, frames_before):
        pass

    def prefix_for(self, frames_before):
        return self.prefix, self.prefix.shape[1]


def greedy_codes(model, fused: bool, guided: bool, padded: bool, frames: int = 48, new_prompt: bool = False):
    cuda_decoder.ENABLED = fused
    try:
        cross, mask = (None, None) if model.cfg.is_melody else condition(model, COND_LEN, padded, guided)
        gen = FrameGenerator(model, SamplingParams(top_k=1), seed=3, guided=guided, total_frames=frames, cross=cross,
                             cross_mask=mask, prefixes=RandomPrefixes(model, guided) if model.cfg.is_melody else None,
                             max_prefix=12 if model.cfg.is_melody else 0)
        out = [gen.next_frames(frames // 2)]
        if new_prompt:  # a longer prompt, unpadded: the kernel reads both at run time
            gen.set_cross(*condition(model, 2 * COND_LEN + 3, padded=False, guided=guided, seed=4))
        out.append(gen.next_frames(frames - frames // 2))
        return np.array(mx.concatenate(out, axis=-1))
    finally:
        cuda_decoder.ENABLED = True


@pytest.mark.parametrize("guided,padded,melody,new_prompt", [(True, True, False, False), (True, False, False, False),
                                                             (False, True, False, False), (True, False, True, False),
                                                             (True, True, False, True)],
                         ids=["cfg-masked", "cfg", "no-cfg", "melody", "new-prompt"])
def test_greedy_codes_match_plain_layers(guided, padded, melody, new_prompt):
    model = random_model(mx.float32, melody)
    assert cuda_decoder.usable(model.decoder, mx.float32)
    fused, plain = (greedy_codes(model, fused, guided, padded, new_prompt=new_prompt) for fused in (True, False))
    # Summation orders differ: a rare near-tie between two tokens may flip.
    assert (fused == plain).mean() >= 0.95
    assert len(np.unique(fused)) > 10  # the codes move: a dead step would repeat one token


@pytest.mark.parametrize("dtype,tolerance,bits", [(mx.float32, 1e-4, None), (mx.float16, 2e-2, None),
                                                  (mx.bfloat16, 5e-2, None), (mx.float16, 2e-2, 8), (mx.float16, 2e-2, 4)],
                         ids=["float32", "float16", "bfloat16", "q8", "q4"])
@pytest.mark.parametrize("heads", [4, 16])
@pytest.mark.parametrize("rows", [0, 2])
def test_step_logits_match_plain_layers(dtype, tolerance, bits, heads, rows):
    """One step at position 40 of a random context, through fresh copies of the same cache, in either pair
    of a cache's rows (the playing context and the one being built beside it). Quantized weights: the
    kernel unpacks what MLX's quantized matmuls read."""
    model = random_model(dtype, heads=heads)
    if bits:
        quantize_decoder(model, bits)
        assert cuda_decoder.weight_bits(model.decoder, dtype) == bits
    cross, mask = condition(model, COND_LEN, padded=True, guided=True)
    K, L = model.cfg.decoder.num_codebooks, 96
    context = mx.array(np.random.default_rng(2).integers(0, 2048, (1, K, 41)), mx.int32)
    x = mx.broadcast_to(model.decoder.embed_tokens(context), (2, 41, model.cfg.decoder.hidden_size)).astype(dtype)
    cache = model.decoder.new_cache(4, L)
    _, cache = model.decoder(x[:, :40], [Span(rows, 40, mx.array([0]), L, dtype)], cache, cross, mask)
    results = []
    for fused in (True, False):
        cuda_decoder.ENABLED = fused
        fresh = [mx.array(np.array(c.astype(mx.float32))).astype(c.dtype) for c in cache]  # fresh buffers
        hidden, new_cache = model.decoder(x[:, 40:], [Span(rows, 1, mx.array([40]), L, dtype)], fresh, cross, mask)
        results.append((np.array(model.decoder.logits(hidden)),
                        [np.array(c[:, :, :, 40].astype(mx.float32)) for c in new_cache]))
    cuda_decoder.ENABLED = True
    (fused_logits, fused_kv), (plain_logits, plain_kv) = results
    scale = np.abs(plain_logits).max()
    assert np.abs(fused_logits - plain_logits).max() <= tolerance * scale
    for a, b in zip(fused_kv, plain_kv):  # the new keys/values, written in place, in the right rows only
        np.testing.assert_allclose(a, b, atol=tolerance * np.abs(b).max())


@pytest.mark.parametrize("dtype,tolerance", [(mx.float32, 1e-4), (mx.float16, 2e-2)])
def test_catch_up_pass_matches_plain_layers(dtype, tolerance):
    """A pass carrying the playing context (one position, rows 0–1) and one catching up beside it (three
    positions, rows 2–3, which read the keys the earlier of them write in the same launch)."""
    model = random_model(dtype, heads=4)
    cross, mask = condition(model, COND_LEN, padded=True, guided=True)
    K, L, D = model.cfg.decoder.num_codebooks, 96, model.cfg.decoder.hidden_size
    tokens = mx.array(np.random.default_rng(3).integers(0, 2048, (1, K, 44)), mx.int32)
    x = mx.broadcast_to(model.decoder.embed_tokens(tokens), (2, 44, D)).astype(dtype)
    cache = model.decoder.new_cache(4, L)
    _, cache = model.decoder(x[:, :40], [Span(0, 40, mx.array([0]), L, dtype)], cache, cross, mask)
    _, cache = model.decoder(x[:, :10], [Span(2, 10, mx.array([0]), L, dtype)], cache, cross, mask)
    step = mx.concatenate([x[:, 40:41], x[:, 10:13]], axis=1)
    results = []
    for fused in (True, False):
        cuda_decoder.ENABLED = fused
        fresh = [mx.array(np.array(c.astype(mx.float32))).astype(c.dtype) for c in cache]
        spans = [Span(0, 1, mx.array([40]), L, dtype), Span(2, 3, mx.array([10]), L, dtype)]
        assert cuda_decoder.fits(model.decoder, step, fresh, cross) == fused
        hidden, new_cache = model.decoder(step, spans, fresh, cross, mask)
        results.append((np.array(hidden.astype(mx.float32)), [np.array(c.astype(mx.float32)) for c in new_cache]))
    cuda_decoder.ENABLED = True
    (fused_hidden, fused_kv), (plain_hidden, plain_kv) = results
    assert np.abs(fused_hidden - plain_hidden).max() <= tolerance * np.abs(plain_hidden).max()
    for a, b in zip(fused_kv, plain_kv):
        np.testing.assert_allclose(a[:, :, :, :44], b[:, :, :, :44], atol=tolerance * np.abs(b).max())


def test_greedy_codes_across_reprimes_match_plain_layers():
    """Contexts built beside the playing one through the fused layers: the stream's codes agree with the
    plain layers' (short contexts, so that several re-primes happen)."""
    model = random_model(mx.float32)
    cross, mask = condition(model, COND_LEN, padded=True, guided=True)
    runs = []
    for fused in (True, False):
        cuda_decoder.ENABLED = fused
        gen = FrameGenerator(model, SamplingParams(top_k=1), seed=3, horizon=120, window_frames=40, cross=cross,
                             cross_mask=mask, catch_up=3)
        runs.append(np.array(gen.next_frames(400)))
        assert gen.reprimes >= 4
    cuda_decoder.ENABLED = True
    assert (runs[0] == runs[1]).mean() >= 0.95 and len(np.unique(runs[0])) > 10
