"""`tiny`: a built-in MusicGen with deterministic random weights that runs anywhere with no download.

Real architecture end to end (T5 → decoder with 4 codebooks of 2048 → EnCodec at 32 kHz / 50 frames/s),
just narrow. It makes noise, not music: it is for demos, tests and benchmarks of the machinery.
The folder is written once into the cache in the converted-MLX layout and loaded like any other model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten

VERSION = 1
WORDS = (
    "a an and the of with in on for to at by from drum drums beat beats bass guitar piano synth strings pad "
    "lead vocal choir organ brass horn flute violin cello kick snare hat hihat clap percussion ambient techno "
    "house jazz rock pop funk soul disco hip hop trap lofi classical orchestral cinematic electronic acoustic "
    "dark bright warm cold slow fast calm energetic happy sad dreamy heavy soft loud groovy minimal epic "
    "melody chord chords rhythm groove loop song music sound noise bpm 80 90 100 110 120 128 140 174 major "
    "minor key c d e f g b sharp flat tempo reverb echo distorted clean analog vintage modern live"
).split()


def config(stereo: bool = False) -> dict:
    """A transformers-style MusicgenConfig dict, narrow in every dimension."""
    return {
        "model_type": "musicgen",
        "text_encoder": {
            "model_type": "t5", "vocab_size": len(WORDS) + 3, "d_model": 32, "d_kv": 8, "d_ff": 64,
            "num_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 32,
            "relative_attention_max_distance": 128, "feed_forward_proj": "relu", "layer_norm_epsilon": 1e-6,
        },
        "audio_encoder": {
            "model_type": "encodec", "sampling_rate": 32000, "audio_channels": 1, "hidden_size": 32,
            "num_filters": 4, "upsampling_ratios": [8, 5, 4, 4], "codebook_size": 2048, "codebook_dim": 32,
            "target_bandwidths": [2.2], "use_causal_conv": False, "use_conv_shortcut": False,
            "num_residual_layers": 1, "num_lstm_layers": 2, "compress": 2, "pad_mode": "reflect",
        },
        "decoder": {
            "model_type": "musicgen_decoder", "vocab_size": 2048, "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "ffn_dim": 256, "max_position_embeddings": 2048,
            "num_codebooks": 8 if stereo else 4, "audio_channels": 2 if stereo else 1,
            "pad_token_id": 2048, "bos_token_id": 2048, "decoder_start_token_id": 2048,
        },
    }


def tokenizer_json() -> str:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2} | {w: i + 3 for i, w in enumerate(WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return tok.to_str()


def random_weights(model, seed: int = 0) -> dict[str, mx.array]:
    """Deterministic on every platform (numpy's PCG64), scaled so activations stay in a sane range."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, param in tree_flatten(model.parameters()):
        shape = param.shape
        if name.endswith("norm.weight") or name.endswith("layer_norm.weight"):
            value = np.ones(shape)
        elif name.endswith("bias"):
            value = np.zeros(shape)
        elif name.endswith("quantizer.embed"):
            value = rng.standard_normal(shape)
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            value = rng.standard_normal(shape) / np.sqrt(fan_in)
        else:
            value = rng.standard_normal(shape) * 0.1
        out[name] = mx.array(value.astype(np.float32))
    return out


def ensure(stereo: bool = False) -> Path:
    """Write the tiny model folder once (into MG_LIVE_CACHE or ~/.cache/mg-live) and return it."""
    from .config import from_dict
    from .musicgen import MusicGen

    root = Path(os.environ.get("MG_LIVE_CACHE", Path.home() / ".cache" / "mg-live"))
    folder = root / f"tiny{'-stereo' if stereo else ''}-v{VERSION}"
    if (folder / "weights.safetensors").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    raw = config(stereo) | {"mg_live": {"format": 1, "dtype": "float32", "quantization": None}}
    weights = random_weights(MusicGen(from_dict(raw)))
    tmp = folder / "weights.tmp.safetensors"
    mx.save_safetensors(str(tmp), weights)
    (folder / "config.json").write_text(json.dumps(raw, indent=2))
    (folder / "tokenizer.json").write_text(tokenizer_json())
    tmp.rename(folder / "weights.safetensors")  # last, so a half-written folder is never taken as complete
    return folder
