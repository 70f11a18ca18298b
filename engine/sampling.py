"""Sampling (classifier-free guidance, temperature, top-k, top-p) and the delay pattern.

Sampling settings are arrays, not Python constants, so changing them live never recompiles a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from .config import DecoderConfig


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
    """Codebook k of frame f sits at context position f + 1 + delay[k] (position 0 is BOS); positions with no
    frame behind them hold the pad token (2048). frames.py lays contexts out by it."""

    def __init__(self, cfg: DecoderConfig):
        self.delays = np.array(cfg.delays)
        self.pad = cfg.pad_token_id
        self.max_delay = int(self.delays.max())
