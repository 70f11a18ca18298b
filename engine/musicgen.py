"""MusicGen in MLX: T5 text encoder → transformer decoder over EnCodec tokens → EnCodec decoder.

The decoder is laid out for a fast step: q/k/v in one matmul, the per-codebook embeddings in one gather,
all codebook heads in one matmul, a preallocated KV cache written in place, and cross-attention keys and
values computed once per prompt.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from . import cuda_decoder, encodec, t5
from .config import DecoderConfig, MusicGenConfig


@lru_cache(maxsize=8)
def _sinusoids(num_positions: int, dim: int) -> np.ndarray:
    """The decoder's positions: phase = pos / 10000^(j/(half-1)), laid out concat[cos, sin] (float32)."""
    half = dim // 2
    freqs = np.exp(np.arange(half, dtype=np.float32) * -(math.log(10000) / (half - 1)))
    angles = np.arange(num_positions, dtype=np.float32)[:, None] * freqs[None, :]
    table = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)
    return np.pad(table, ((0, 0), (0, dim % 2))).astype(np.float32)


@lru_cache(maxsize=8)
def sinusoids(num_positions: int, dim: int) -> mx.array:
    """As a device array, made once (as the reference, the table grows past 2048 when a context needs it)."""
    return mx.array(_sinusoids(num_positions, dim))


def split_heads(x: mx.array, parts: int, heads: int) -> mx.array:
    """[B, T, parts·D] → [parts, B, heads, T, head_dim]. For one step (T = 1) both layouts share memory
    order, so a reshape does it with no copy kernel."""
    batch, length, _ = x.shape
    if length == 1:
        return x.reshape(batch, parts, heads, 1, -1).transpose(1, 0, 2, 3, 4)
    return x.reshape(batch, length, parts, heads, -1).transpose(2, 0, 3, 1, 4)


def merge_heads(x: mx.array) -> mx.array:
    """[B, heads, T, head_dim] → [B, T, D] (a reshape when T = 1)."""
    batch, heads, length, _ = x.shape
    if length == 1:
        return x.reshape(batch, 1, -1)
    return x.transpose(0, 2, 1, 3).reshape(batch, length, -1)


class Span:
    """One decoder context's positions in a pass: `length` positions from cache position `start` in the
    cache rows from `rows` (a context's rows: conditional, then unconditional). `rows` and `length` are
    static (part of a compiled pass's shape); `start` is an int32 array of shape (1,)."""

    def __init__(self, rows: int, length: int, start: mx.array, max_len: int, dtype=mx.float32):
        self.rows, self.length = rows, length
        # ranges from NumPy: constants of a compiled pass, not an operation (a kernel launch) in each step
        self.positions = start + mx.array(np.arange(length, dtype=np.int32))
        self.where = mx.concatenate([mx.array([rows], mx.int32), start])  # slice_update's (row, position)
        # Causal over the static cache; additive, built once per pass (backends convert bool masks per call).
        self.mask = mx.where(mx.array(np.arange(max_len, dtype=np.int32))[None, :] <= self.positions[:, None],
                             0.0, -mx.inf).astype(dtype)


def add_linear(x: mx.array, layer: nn.Module, h: mx.array) -> mx.array:
    """x + layer(h); one fused kernel (addmm) for a plain bias-free linear, the plain sum otherwise."""
    if type(layer) is nn.Linear and "bias" not in layer:
        return mx.addmm(x, h, layer.weight.T)
    return x + layer(h)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads, self.scale = num_heads, (dim // num_heads) ** -0.5
        self.qkv_proj = nn.Linear(dim, 3 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def __call__(self, x, kv_cache, spans):
        """x [B, T, D]: the spans' positions side by side, one span per decoder context in this pass.
        kv_cache [2, rows, heads, max_len, head_dim]; each span writes its keys and values into its own rows
        at its start and attends causally over them. Returns the attention output before out_proj (so the
        caller can fuse the residual add)."""
        h = self.qkv_proj(x)
        out, at = [], 0
        for span in spans:
            qkv = split_heads(h if len(spans) == 1 else h[:, at : at + span.length], 3, self.num_heads)
            kv_cache = mx.slice_update(kv_cache, qkv[1:].astype(kv_cache.dtype), span.where, axes=(1, 3))
            rows = slice(span.rows, span.rows + qkv.shape[1])
            out.append(merge_heads(mx.fast.scaled_dot_product_attention(
                qkv[0], kv_cache[0, rows], kv_cache[1, rows], scale=self.scale, mask=span.mask)))
            at += span.length
        return out[0] if len(out) == 1 else mx.concatenate(out, axis=1), kv_cache


class CrossAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads, self.scale = num_heads, (dim // num_heads) ** -0.5
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.kv_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def keys_values(self, condition: mx.array) -> mx.array:
        """Once per prompt: condition [B, S, D] → keys and values [2, B, heads, S, head_dim], laid out
        contiguously (the fused CUDA layers read them as they are)."""
        return mx.contiguous(split_heads(self.kv_proj(condition), 2, self.num_heads))

    def __call__(self, x, kv, mask):
        q = split_heads(self.q_proj(x), 1, self.num_heads)[0]
        return merge_heads(mx.fast.scaled_dot_product_attention(q, kv[0], kv[1], scale=self.scale, mask=mask))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DecoderConfig, cross_attention: bool):
        super().__init__()
        dim = cfg.hidden_size
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, cfg.num_attention_heads)
        if cross_attention:
            self.encoder_attn_layer_norm = nn.LayerNorm(dim)
            self.encoder_attn = CrossAttention(dim, cfg.num_attention_heads)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, cfg.ffn_dim, bias=False)
        self.fc2 = nn.Linear(cfg.ffn_dim, dim, bias=False)
        self.cross_attention = cross_attention

    def __call__(self, x, kv_cache, spans, cross_kv, cross_mask):
        h, kv_cache = self.self_attn(self.self_attn_layer_norm(x), kv_cache, spans)
        x = add_linear(x, self.self_attn.out_proj, h)
        if self.cross_attention:
            h = self.encoder_attn(self.encoder_attn_layer_norm(x), cross_kv, cross_mask)
            x = add_linear(x, self.encoder_attn.out_proj, h)
        return add_linear(x, self.fc2, nn.gelu(self.fc1(self.final_layer_norm(x)))), kv_cache


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig, cross_attention: bool = True):
        super().__init__()
        self.cfg = cfg
        K, V, D = cfg.num_codebooks, cfg.vocab_size, cfg.hidden_size
        self.embed = mx.zeros((K * (V + 1), D))  # K tables of V+1 rows (row V is BOS/pad), stacked
        self.layers = [DecoderLayer(cfg, cross_attention) for _ in range(cfg.num_hidden_layers)]
        self.layer_norm = nn.LayerNorm(D)
        self.lm_heads = nn.Linear(D, K * V, bias=False)  # K heads, stacked

    def embed_tokens(self, tokens: mx.array) -> mx.array:
        """tokens [B, K, T] → summed codebook embeddings [B, T, D]."""
        K, V = self.cfg.num_codebooks, self.cfg.vocab_size
        rows = tokens + mx.array(np.arange(K, dtype=np.int32) * (V + 1), tokens.dtype)[None, :, None]
        return self.embed[rows].sum(axis=1)

    def __call__(self, x, spans, cache, cross, cross_mask=None):
        """x [B, T, D] input embeddings of the spans' positions side by side (positions are added here);
        spans: `Span`s (one per decoder context in this pass); `cache` holds one static
        [2, rows, heads, max_len, head_dim] array per layer, `cross` the per-prompt cross-attention
        keys/values of every layer stacked, [layers, 2, B, heads, S, head_dim] (None for melody) → (hidden
        states [B, T, D] before the final norm, new cache)."""
        positions = mx.concatenate([span.positions for span in spans]) if len(spans) > 1 else spans[0].positions
        max_len = cache[0].shape[3]
        x = x + sinusoids(max(self.cfg.max_position_embeddings, max_len), self.cfg.hidden_size)[positions].astype(x.dtype)
        if cuda_decoder.fits(self, x, cache, cross):  # one kernel for all layers, cache written in place
            return cuda_decoder.layers(self, x, spans, cache, cross, cross_mask), cache
        new_cache = []
        # views of each layer's keys/values (an integer index would copy them, every step)
        L = len(self.layers)
        per_layer = [None] * L if cross is None else [c.squeeze(0) for c in mx.split(cross, L)]
        for layer, kv_cache, cross_kv in zip(self.layers, cache, per_layer):
            x, kv_cache = layer(x, kv_cache, spans, cross_kv, cross_mask)
            new_cache.append(kv_cache)
        return x, new_cache

    def logits(self, hidden: mx.array) -> mx.array:
        """hidden [B, N, D] → logits [B, K, N, V] float32 (only where a pass samples: the heads are wide)."""
        batch, length, _ = hidden.shape
        logits = self.lm_heads(self.layer_norm(hidden)).astype(mx.float32)
        return logits.reshape(batch, length, self.cfg.num_codebooks, -1).transpose(0, 2, 1, 3)

    def teacher_forced(self, x: mx.array, cross, cross_mask=None) -> mx.array:
        """x [B, T, D] at positions 0..T-1 on a fresh cache → logits [B, K, T, V] (for checks)."""
        length = x.shape[1]
        hidden, _ = self(x, [Span(0, length, mx.array([0], mx.int32), length, x.dtype)],
                         self.new_cache(x.shape[0], length), cross, cross_mask)
        return self.logits(hidden)

    def new_cache(self, batch: int, max_len: int, dtype=None) -> list:
        heads = self.cfg.num_attention_heads
        shape = (2, batch, heads, max_len, self.cfg.hidden_size // heads)
        dtype = dtype or self.layer_norm.weight.dtype
        return [mx.zeros(shape, dtype) for _ in self.layers]


class MusicGen(nn.Module):
    def __init__(self, cfg: MusicGenConfig):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = t5.T5Encoder(cfg.text)
        if cfg.text.d_model != cfg.decoder.hidden_size:
            self.enc_to_dec_proj = nn.Linear(cfg.text.d_model, cfg.decoder.hidden_size)
        if cfg.is_melody:
            self.audio_enc_to_dec_proj = nn.Linear(cfg.num_chroma, cfg.decoder.hidden_size)
        self.decoder = Decoder(cfg.decoder, cross_attention=not cfg.is_melody)
        self.audio_encoder = encodec.EncodecModel(cfg.codec)

    def condition(self, input_ids: mx.array, attention_mask: mx.array) -> mx.array:
        """Text → decoder-sized condition [B, S, D], padded positions zeroed as the reference does."""
        hidden = self.text_encoder(input_ids, attention_mask)
        if "enc_to_dec_proj" in self:
            hidden = self.enc_to_dec_proj(hidden)
        return hidden * attention_mask[..., None].astype(hidden.dtype)

    def cross_keys_values(self, condition: mx.array) -> list:
        return [layer.encoder_attn.keys_values(condition) for layer in self.decoder.layers]

    def melody_prefix(self, condition: mx.array, chroma: mx.array | None) -> mx.array:
        """Melody models: what the decoder reads before its first token, [B, chroma_length + S, D]: the
        projected chroma ([B, frames, 12] one-hot; None: the null melody, bin 0), repeated or cut to
        chroma_length, then the text condition."""
        if chroma is None:
            chroma = mx.zeros((condition.shape[0], 1, self.cfg.num_chroma)).at[:, :, 0].add(1.0)
        hidden = chroma.astype(condition.dtype)
        if "audio_enc_to_dec_proj" in self:
            hidden = self.audio_enc_to_dec_proj(hidden)
        length = self.cfg.chroma_length
        hidden = mx.concatenate([hidden] * -(-length // hidden.shape[1]), axis=1)[:, :length]
        return mx.concatenate([hidden, condition], axis=1)


def sanitize(weights: dict[str, mx.array], cfg: MusicGenConfig) -> dict[str, mx.array]:
    """Hub (transformers) MusicGen keys → this module tree. Raises KeyError naming a missing tensor."""
    parts: dict[str, dict[str, mx.array]] = {"text_encoder": {}, "audio_encoder": {}, "decoder": {}}
    out: dict[str, mx.array] = {}
    for key, value in weights.items():
        prefix, _, rest = key.partition(".")
        if prefix in parts:
            parts[prefix][rest] = value
        elif prefix in ("enc_to_dec_proj", "audio_enc_to_dec_proj"):
            out[key] = value
    for key, value in t5.sanitize(parts["text_encoder"]).items():
        out[f"text_encoder.{key}"] = value
    for key, value in encodec.sanitize(parts["audio_encoder"], cfg.codec).items():
        out[f"audio_encoder.{key}"] = value
    for key, value in sanitize_decoder(parts["decoder"], cfg).items():
        out[f"decoder.{key}"] = value
    return out


def sanitize_decoder(weights: dict[str, mx.array], cfg: MusicGenConfig) -> dict[str, mx.array]:
    def take(name: str) -> mx.array:
        if name not in weights:
            raise KeyError(f"decoder.{name}")
        return weights[name]

    dc = cfg.decoder
    base = "model.decoder."
    out = {
        "embed": mx.concatenate([take(f"{base}embed_tokens.{k}.weight") for k in range(dc.num_codebooks)]),
        "lm_heads.weight": mx.concatenate([take(f"lm_heads.{k}.weight") for k in range(dc.num_codebooks)]),
        "layer_norm.weight": take(f"{base}layer_norm.weight"),
        "layer_norm.bias": take(f"{base}layer_norm.bias"),
    }
    norms = ["self_attn_layer_norm", "final_layer_norm"] + ([] if cfg.is_melody else ["encoder_attn_layer_norm"])
    for i in range(dc.num_hidden_layers):
        src, dst = f"{base}layers.{i}.", f"layers.{i}."
        for norm in norms:
            for p in ("weight", "bias"):
                out[f"{dst}{norm}.{p}"] = take(f"{src}{norm}.{p}")
        qkv = [take(f"{src}self_attn.{n}_proj.weight") for n in "qkv"]
        out[f"{dst}self_attn.qkv_proj.weight"] = mx.concatenate(qkv)
        out[f"{dst}self_attn.out_proj.weight"] = take(f"{src}self_attn.out_proj.weight")
        if not cfg.is_melody:
            out[f"{dst}encoder_attn.q_proj.weight"] = take(f"{src}encoder_attn.q_proj.weight")
            kv = [take(f"{src}encoder_attn.{n}_proj.weight") for n in "kv"]
            out[f"{dst}encoder_attn.kv_proj.weight"] = mx.concatenate(kv)
            out[f"{dst}encoder_attn.out_proj.weight"] = take(f"{src}encoder_attn.out_proj.weight")
        out[f"{dst}fc1.weight"] = take(f"{src}fc1.weight")
        out[f"{dst}fc2.weight"] = take(f"{src}fc2.weight")
    return out
