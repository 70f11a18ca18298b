"""T5 encoder (the text conditioner of MusicGen) in MLX. Module names follow transformers' T5EncoderModel,
so checkpoints load with almost no renaming."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .config import T5Config


def relative_position_bucket(relative_position: np.ndarray, num_buckets: int, max_distance: int) -> np.ndarray:
    """T5's bidirectional bucketing: exact buckets for small offsets, log-spaced ones up to max_distance."""
    num_buckets //= 2
    buckets = (relative_position > 0).astype(np.int64) * num_buckets
    distance = np.abs(relative_position)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        log_ratio = np.log(np.maximum(distance, 1).astype(np.float32) / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(distance < max_exact, distance, large)


class SelfAttention(nn.Module):
    def __init__(self, cfg: T5Config, has_relative_bias: bool):
        super().__init__()
        inner = cfg.num_heads * cfg.d_kv
        self.num_heads = cfg.num_heads
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        if has_relative_bias:
            self.relative_attention_bias = nn.Embedding(cfg.relative_attention_num_buckets, cfg.num_heads)

    def position_bias(self, length: int, cfg: T5Config) -> mx.array:
        position = np.arange(length)
        buckets = relative_position_bucket(
            position[None, :] - position[:, None], cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance
        )
        return self.relative_attention_bias(mx.array(buckets)).transpose(2, 0, 1)[None]  # [1, heads, q, k]

    def __call__(self, x: mx.array, bias: mx.array) -> mx.array:
        batch, length, _ = x.shape
        q, k, v = (proj(x).reshape(batch, length, self.num_heads, -1).transpose(0, 2, 1, 3) for proj in (self.q, self.k, self.v))
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0, mask=bias)  # T5 does not scale scores
        return self.o(out.transpose(0, 2, 1, 3).reshape(batch, length, -1))


class SelfAttentionLayer(nn.Module):
    def __init__(self, cfg: T5Config, has_relative_bias: bool):
        super().__init__()
        self.SelfAttention = SelfAttention(cfg, has_relative_bias)
        self.layer_norm = nn.RMSNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)

    def __call__(self, x, bias):
        return x + self.SelfAttention(self.layer_norm(x), bias)


class DenseActDense(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        if cfg.gated:
            self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        else:
            self.wi = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.act = {"relu": nn.relu, "gelu": nn.gelu_approx}[cfg.activation]  # T5's "gelu" is gelu_new (tanh)
        self.gated = cfg.gated

    def __call__(self, x):
        h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        return self.wo(h)


class FeedForwardLayer(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.DenseReluDense = DenseActDense(cfg)
        self.layer_norm = nn.RMSNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)

    def __call__(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class Block(nn.Module):
    def __init__(self, cfg: T5Config, has_relative_bias: bool):
        super().__init__()
        self.layer = [SelfAttentionLayer(cfg, has_relative_bias), FeedForwardLayer(cfg)]

    def __call__(self, x, bias):
        return self.layer[1](self.layer[0](x, bias))


class Stack(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.block = [Block(cfg, has_relative_bias=i == 0) for i in range(cfg.num_layers)]
        self.final_layer_norm = nn.RMSNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)


class T5Encoder(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.cfg = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encoder = Stack(cfg)

    def __call__(self, input_ids: mx.array, attention_mask: mx.array | None = None) -> mx.array:
        """input_ids [batch, length] → last hidden state [batch, length, d_model] (float32 position bias)."""
        x = self.shared(input_ids)
        # The first block's relative position bias is shared by every block, as in T5.
        bias = self.encoder.block[0].layer[0].SelfAttention.position_bias(input_ids.shape[1], self.cfg)
        if attention_mask is not None:
            bias = bias + mx.where(attention_mask[:, None, None, :] > 0, 0.0, -1e9)
        bias = bias.astype(x.dtype)
        for block in self.encoder.block:
            x = block(x, bias)
        return self.encoder.final_layer_norm(x)


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """HF T5EncoderModel keys (without `text_encoder.`) → ours: only the tied embedding copy differs."""
    weights = dict(weights)
    tied = weights.pop("encoder.embed_tokens.weight", None)
    if "shared.weight" not in weights and tied is not None:
        weights["shared.weight"] = tied
    return weights
