"""Model configurations read from a hub-layout `config.json` (MusicgenConfig and its three sub-configs).

Defaults are transformers' own, so a config.json that leaves a field out means what it means there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class T5Config:
    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"

    @property
    def gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        return self.feed_forward_proj.split("-")[-1]


@dataclass
class EncodecConfig:
    sampling_rate: int = 24000
    audio_channels: int = 1
    hidden_size: int = 128
    num_filters: int = 32
    num_residual_layers: int = 1
    upsampling_ratios: list = field(default_factory=lambda: [8, 5, 4, 2])
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_growth_rate: int = 2
    use_causal_conv: bool = True
    pad_mode: str = "reflect"
    compress: int = 2
    num_lstm_layers: int = 2
    trim_right_ratio: float = 1.0
    codebook_size: int = 1024
    codebook_dim: int | None = None
    use_conv_shortcut: bool = True
    target_bandwidths: list = field(default_factory=lambda: [1.5, 3.0, 6.0, 12.0, 24.0])
    normalize: bool = False

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsampling_ratios)

    @property
    def frames_per_second(self) -> int:
        return math.ceil(self.sampling_rate / self.hop_length)

    @property
    def num_quantizers(self) -> int:
        bits = math.log2(self.codebook_size)
        return int(1000 * self.target_bandwidths[-1] // (self.frames_per_second * bits))

    @property
    def embedding_dim(self) -> int:
        return self.codebook_dim or self.hidden_size


@dataclass
class DecoderConfig:
    vocab_size: int = 2048
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    ffn_dim: int = 4096
    max_position_embeddings: int = 2048
    num_codebooks: int = 4
    audio_channels: int = 1
    pad_token_id: int = 2048
    bos_token_id: int = 2048
    activation_function: str = "gelu"

    @property
    def delays(self) -> list[int]:
        """Per-codebook delay of the delay pattern: mono [0,1,2,3], stereo L0,R0,L1,R1,… [0,0,1,1,…]."""
        return [k // self.audio_channels for k in range(self.num_codebooks)]


@dataclass
class MusicGenConfig:
    text: T5Config
    codec: EncodecConfig
    decoder: DecoderConfig
    # Melody checkpoints have no cross-attention and prepend chroma + text to the decoder input instead.
    is_melody: bool = False
    num_chroma: int = 12
    chroma_length: int = 235  # melody models: chroma frames in the decoder's prefix
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def sample_rate(self) -> int:
        return self.codec.sampling_rate

    @property
    def frames_per_second(self) -> int:
        return self.codec.frames_per_second

    @property
    def audio_channels(self) -> int:
        return self.decoder.audio_channels


def _pick(cls, values: dict):
    names = cls.__dataclass_fields__.keys()
    return cls(**{k: v for k, v in values.items() if k in names})


def from_dict(raw: dict) -> MusicGenConfig:
    """Build from a MusicgenConfig / MusicgenMelodyConfig dict as transformers writes it."""
    for part in ("text_encoder", "audio_encoder", "decoder"):
        if part not in raw:
            raise ValueError(f"config.json has no '{part}' section: not a MusicGen checkpoint")
    text = _pick(T5Config, raw["text_encoder"])
    if "feed_forward_proj" not in raw["text_encoder"] and raw["text_encoder"].get("is_gated_act"):
        text.feed_forward_proj = "gated-gelu"
    codec = _pick(EncodecConfig, raw["audio_encoder"])
    decoder = _pick(DecoderConfig, raw["decoder"])
    decoder.bos_token_id = raw["decoder"].get("decoder_start_token_id", raw["decoder"].get("bos_token_id", 2048))
    is_melody = raw.get("model_type") == "musicgen_melody"
    return MusicGenConfig(text, codec, decoder, is_melody=is_melody, num_chroma=raw.get("num_chroma", 12),
                          chroma_length=raw.get("chroma_length", 235), raw=raw)


# Sizes of Meta's checkpoints (decoder width / layers / heads), for benchmarks and shape checks.
HUB_SIZES = {"small": (1024, 24, 16), "medium": (1536, 48, 24), "large": (2048, 48, 32)}


def hub_config(size: str, stereo: bool = False) -> dict:
    """A config.json dict shaped like facebook/musicgen-{size} (or -stereo-{size}): t5-base text encoder,
    the 32 kHz EnCodec, and the decoder of that size."""
    width, layers, heads = HUB_SIZES[size]
    return {
        "model_type": "musicgen",
        "text_encoder": {"model_type": "t5", "vocab_size": 32128, "d_model": 768, "d_kv": 64, "d_ff": 3072,
                         "num_layers": 12, "num_heads": 12, "feed_forward_proj": "relu"},
        "audio_encoder": {"model_type": "encodec", "sampling_rate": 32000, "audio_channels": 1, "hidden_size": 128,
                          "num_filters": 64, "upsampling_ratios": [8, 5, 4, 4], "codebook_size": 2048,
                          "target_bandwidths": [2.2], "use_causal_conv": False, "use_conv_shortcut": False,
                          "num_lstm_layers": 2, "compress": 2, "pad_mode": "reflect"},
        "decoder": {"model_type": "musicgen_decoder", "vocab_size": 2048, "hidden_size": width,
                    "num_hidden_layers": layers, "num_attention_heads": heads, "ffn_dim": 4 * width,
                    "num_codebooks": 8 if stereo else 4, "audio_channels": 2 if stereo else 1,
                    "max_position_embeddings": 2048, "pad_token_id": 2048, "decoder_start_token_id": 2048},
    }
