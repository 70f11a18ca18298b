"""Token generation: the delay pattern, classifier-free guidance, sampling, and the decoder step loop.

Sampling settings are arrays, not Python constants, so changing them live never recompiles the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from .config import DecoderConfig
from .musicgen import MusicGen


@dataclass
class SamplingParams:
    """The reference defaults: cfg 3, top-k 250, top-p 0 (off), temperature 1. `top_k=1` is greedy."""

    cfg_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0

    def arrays(self) -> tuple[mx.array, mx.array, mx.array, mx.array]:
        return (mx.array(self.cfg_scale, mx.float32), mx.array(max(self.temperature, 1e-5), mx.float32),
                mx.array(self.top_k, mx.int32), mx.array(self.top_p, mx.float32))


def filter_logits(logits: mx.array, temperature: mx.array, top_k: mx.array, top_p: mx.array) -> mx.array:
    """Temperature, then top-k (keeps every token >= the k-th largest, 0 = off), then top-p (keeps the
    smallest set whose probability reaches p, 0 = off); filtered tokens get -inf. logits [..., V]."""
    vocab = logits.shape[-1]
    logits = logits / temperature
    ranked = -mx.sort(-logits, axis=-1)
    k = mx.where(top_k > 0, mx.minimum(top_k, vocab), vocab)
    kth = mx.take_along_axis(ranked, mx.broadcast_to(k - 1, ranked.shape[:-1] + (1,)).astype(mx.int32), axis=-1)
    ranked = mx.where(ranked >= kth, ranked, -mx.inf)
    probs = mx.softmax(ranked, axis=-1)
    mass_before = mx.cumsum(probs, axis=-1) - probs
    kept = mx.where(top_p > 0, mass_before < top_p, ranked > -mx.inf).sum(axis=-1, keepdims=True)
    threshold = mx.take_along_axis(ranked, mx.maximum(kept - 1, 0).astype(mx.int32), axis=-1)
    return mx.where(logits >= mx.maximum(threshold, kth), logits, -mx.inf)


def guide(logits: mx.array, cfg_scale: mx.array, guided: bool) -> mx.array:
    """Rows are [conditional..., unconditional...]: u + s·(c − u), as the reference does on raw logits."""
    if not guided:
        return logits
    cond, uncond = mx.split(logits, 2, axis=0)
    return uncond + cfg_scale * (cond - uncond)


class DelayPattern:
    """Codebook k of frame f sits at sequence position f + 1 + delay[k] (position 0 is BOS). Positions with
    no frame behind them hold the pad token (2048)."""

    def __init__(self, cfg: DecoderConfig):
        self.delays = np.array(cfg.delays)
        self.pad = cfg.pad_token_id
        self.max_delay = int(self.delays.max())

    def steps_for(self, num_frames: int) -> int:
        return num_frames + self.max_delay

    def forced(self, position: int, num_frames: int | None = None) -> np.ndarray:
        """Per codebook: the token forced at `position` (pad outside the pattern) or -1 where it is free."""
        frame = position - 1 - self.delays
        inside = (frame >= 0) & (frame < (num_frames if num_frames is not None else np.iinfo(np.int64).max))
        return np.where(inside, -1, self.pad).astype(np.int32)

    def undo(self, sequence: np.ndarray, num_frames: int) -> np.ndarray:
        """sequence [B, K, steps] of positions 1.. → codes [B, K, num_frames]."""
        return np.stack([sequence[:, k, d : d + num_frames] for k, d in enumerate(self.delays)], axis=1)


class Stepper:
    """One decoder step at a time over a preallocated KV cache. Embedding, all layers, heads, guidance,
    sampling and the delay-pattern override are one compiled graph with static shapes (`compiled=False`
    runs the same function eagerly, for checking)."""

    def __init__(self, model: MusicGen, condition: mx.array, condition_mask: mx.array, max_positions: int,
                 guided: bool, seed: int = 0, compiled: bool = True):
        self.model, self.guided = model, guided
        self.decoder = model.decoder
        if guided:  # the unconditional branch: the condition zeroed after enc_to_dec_proj
            condition = mx.concatenate([condition, mx.zeros_like(condition)])
            condition_mask = mx.concatenate([condition_mask, mx.ones_like(condition_mask)])
        dtype = self.decoder.layer_norm.weight.dtype
        self.cross = model.cross_keys_values(condition.astype(dtype))
        # Without padding the mask changes nothing; leaving it out keeps the fused attention kernels.
        padded = not bool(mx.all(condition_mask > 0))
        self.cross_mask = (condition_mask > 0)[:, None, None, :] if padded else None
        self.batch = condition.shape[0]
        self.cache = self.decoder.new_cache(self.batch, max_positions)
        self.key = mx.random.key(seed)
        self._step = mx.compile(self._graph) if compiled else self._graph

    def _graph(self, tokens, offset, cache, cross, cross_mask, params, forced, key):
        cfg_scale, temperature, top_k, top_p = params
        rows = mx.concatenate([tokens, tokens]) if self.guided else tokens
        logits, cache = self.decoder(self.decoder.embed_tokens(rows[:, :, None]), offset, cache, cross, cross_mask)
        logits = guide(logits[:, :, -1], cfg_scale, self.guided)
        key, sub = mx.random.split(key)
        sampled = mx.random.categorical(filter_logits(logits, temperature, top_k, top_p), key=sub)
        return mx.where(forced >= 0, forced, sampled).astype(mx.int32), cache, key

    def __call__(self, tokens: mx.array, position: int, params, forced: np.ndarray) -> mx.array:
        """tokens [b, K] at `position` → tokens [b, K] for position + 1 (lazy: nothing is waited for)."""
        tokens, self.cache, self.key = self._step(tokens, mx.array([position], mx.int32), self.cache, self.cross,
                                                  self.cross_mask, params, mx.array(forced), self.key)
        return tokens


def encode_prompt(model: MusicGen, tokenizer, prompt: str) -> tuple[mx.array, mx.array]:
    ids, mask = tokenizer([prompt])
    return model.condition(ids, mask), mask


def generate_codes(model: MusicGen, tokenizer, prompt: str, num_frames: int, params: SamplingParams,
                   seed: int = 0, progress=None, compiled: bool = True) -> np.ndarray:
    """Offline generation of `num_frames` frames → codes [1, K, num_frames] (delay pattern undone)."""
    cfg = model.cfg.decoder
    pattern = DelayPattern(cfg)
    steps = pattern.steps_for(num_frames)
    condition, mask = encode_prompt(model, tokenizer, prompt)
    guided = params.cfg_scale != 1.0
    stepper = Stepper(model, condition, mask, steps + 1, guided, seed, compiled)
    arrays = params.arrays()
    tokens = mx.full((1, cfg.num_codebooks), cfg.bos_token_id, mx.int32)
    out = []
    for t in range(steps):
        tokens = stepper(tokens, t, arrays, pattern.forced(t + 1, num_frames))
        mx.async_eval(tokens)
        if out:
            mx.eval(out[-1])  # dispatch step t before waiting on step t-1: the device never idles
        out.append(tokens)
        if progress:
            progress(1)
    sequence = np.array(mx.stack(out, axis=-1))
    return pattern.undo(sequence, num_frames)


def decode_audio(model: MusicGen, codes: np.ndarray) -> np.ndarray:
    """codes [B, K, frames] → float32 audio [B, channels, samples]; stereo: even codebooks left, odd right."""
    channels = model.cfg.audio_channels
    parts = [model.audio_encoder.decode(mx.array(codes[:, c::channels])) for c in range(channels)]
    return np.array(mx.stack(parts, axis=1).astype(mx.float32))
