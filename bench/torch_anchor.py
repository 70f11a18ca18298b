"""PyTorch anchors for bench.py: the MusicGen decoder architecture with a static KV cache (eager, and
captured in a CUDA graph), and transformers' own generate. Random weights; timing only."""

from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class _Layer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.q = nn.Linear(dim, dim, bias=False)
        self.cross_out = nn.Linear(dim, dim, bias=False)
        self.fc1 = nn.Linear(dim, 4 * dim, bias=False)
        self.fc2 = nn.Linear(4 * dim, dim, bias=False)


class StaticDecoder(nn.Module):
    """One step: embed (all codebooks) → layers over a static cache → heads → CFG → top-k sampling."""

    def __init__(self, dim, layers, heads, codebooks, vocab=2048, text_len=16, max_len=1536, top_k=250):
        super().__init__()
        self.dim, self.heads, self.codebooks, self.vocab, self.top_k = dim, heads, codebooks, vocab, top_k
        self.embed = nn.Embedding(codebooks * (vocab + 1), dim)
        self.layers = nn.ModuleList(_Layer(dim) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.lm_heads = nn.Linear(dim, codebooks * vocab, bias=False)
        hd = dim // heads
        self.register_buffer("kv", torch.zeros(layers, 2, 2, heads, max_len, hd))
        self.register_buffer("cross", torch.randn(layers, 2, 2, heads, text_len, hd) * 0.1)
        half = dim // 2
        freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
        angles = torch.arange(max_len)[:, None] * freqs[None]
        self.register_buffer("positions", torch.cat([angles.cos(), angles.sin()], 1))
        self.register_buffer("offsets", torch.arange(codebooks) * (vocab + 1))
        self.register_buffer("steps", torch.arange(max_len))

    def forward(self, tokens, pos, cfg_scale):
        B, D, H = 2, self.dim, self.heads
        hd = D // H
        x = self.embed(tokens.expand(B, -1) + self.offsets).sum(1, keepdim=True) + self.positions[pos].to(self.embed.weight.dtype)
        mask = (self.steps <= pos)[None, :]
        for i, layer in enumerate(self.layers):
            qkv = layer.qkv(layer.ln1(x)).view(B, 1, 3, H, hd).permute(2, 0, 3, 1, 4)
            self.kv[i].index_copy_(3, pos, qkv[1:])
            a = F.scaled_dot_product_attention(qkv[0], self.kv[i, 0], self.kv[i, 1], attn_mask=mask)
            x = x + layer.out(a.transpose(1, 2).reshape(B, 1, D))
            q = layer.q(layer.ln2(x)).view(B, 1, H, hd).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, self.cross[i, 0], self.cross[i, 1])
            x = x + layer.cross_out(a.transpose(1, 2).reshape(B, 1, D))
            x = x + layer.fc2(F.gelu(layer.fc1(layer.ln3(x))))
        logits = self.lm_heads(self.ln(x)).view(B, self.codebooks, self.vocab).float()
        logits = logits[1] + cfg_scale * (logits[0] - logits[1])
        values, index = torch.topk(logits, self.top_k)
        gumbel = -torch.log(-torch.log(torch.rand_like(values).clamp_min(1e-20)))
        return index.gather(-1, (values + gumbel).argmax(-1, keepdim=True)).view(1, -1)


def _timed(fn, steps):
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps * 1000


def static_decoder_ms(dim, layers, heads, codebooks, steps=200, warmup=20) -> dict[str, float]:
    """ms per step for the eager static-cache decoder and the same captured in a CUDA graph (fp16)."""
    torch.manual_seed(0)
    model = StaticDecoder(dim, layers, heads, codebooks).cuda().half().eval()
    tokens = torch.full((1, codebooks), 2048, dtype=torch.long, device="cuda")
    pos = torch.zeros(1, dtype=torch.long, device="cuda")
    cfg = torch.tensor(3.0, device="cuda")

    def step():
        tokens.copy_(model(tokens, pos, cfg))
        pos.add_(1)

    out = {}
    with torch.inference_mode():
        for _ in range(warmup):
            step()
        out["eager"] = _timed(step, steps)
        pos.zero_()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        pos.zero_()
        for _ in range(warmup):
            graph.replay()
        out["cuda_graph"] = _timed(graph.replay, steps)
    model = graph = None  # free the weights and the graph before the next size
    torch.cuda.empty_cache()
    return out


def transformers_generate_ms(config_dict: dict, steps=100) -> float:
    """transformers' MusicgenForConditionalGeneration.generate, fp16, guidance 3, top-k 250 sampling."""
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration, T5Config

    config = MusicgenConfig(text_encoder=T5Config(**config_dict["text_encoder"]).to_dict(),
                            audio_encoder=EncodecConfig(**config_dict["audio_encoder"]).to_dict(),
                            decoder=MusicgenDecoderConfig(**config_dict["decoder"]).to_dict())
    with torch.device("cuda"):
        model = MusicgenForConditionalGeneration(config).half().eval()
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.pad_token_id = 2048
    ids = torch.randint(2, 1000, (1, 16), device="cuda")
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, guidance_scale=3.0, top_k=250)
    with torch.inference_mode():
        model.generate(**kwargs, max_new_tokens=10)
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(**kwargs, max_new_tokens=steps)
        torch.cuda.synchronize()
    ms = (time.perf_counter() - start) / steps * 1000
    del model
    torch.cuda.empty_cache()
    return ms
