"""EnCodec (SEANet encoder/decoder + residual vector quantizer) in MLX, channels-last [batch, time, channels].

Weight norm is folded into plain convolution weights at load time (`sanitize`), so a convolution is one
kernel. The LSTM's input projection runs over all frames in one matmul; only the recurrence steps in time.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from .config import EncodecConfig


def pad1d(x: mx.array, left: int, right: int, mode: str) -> mx.array:
    """Pad the time axis; reflect like torch, with its zero pre-padding for inputs shorter than the pad."""
    if left == 0 and right == 0:
        return x
    if mode != "reflect":
        return mx.pad(x, [(0, 0), (left, right), (0, 0)])
    length = x.shape[1]
    extra = max(0, max(left, right) - length + 1)
    if extra:
        x = mx.pad(x, [(0, 0), (0, extra), (0, 0)])
        length += extra
    index = list(range(left, 0, -1)) + list(range(length)) + list(range(length - 2, length - 2 - right, -1))
    out = mx.take(x, mx.array(index, dtype=mx.int32), axis=1)
    return out[:, : out.shape[1] - extra] if extra else out


class Conv1d(nn.Module):
    """EnCodec's convolution: pads so that the output has ceil(length / stride) frames."""

    def __init__(self, cfg: EncodecConfig, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.weight = mx.zeros((out_ch, kernel, in_ch))
        self.bias = mx.zeros((out_ch,))
        self.stride, self.dilation = stride, dilation
        self.causal, self.pad_mode = cfg.use_causal_conv, cfg.pad_mode
        self.effective_kernel = (kernel - 1) * dilation + 1
        self.padding_total = self.effective_kernel - stride

    def padding(self, length: int) -> tuple[int, int]:
        k, s, p = self.effective_kernel, self.stride, self.padding_total
        n_frames = math.ceil((length - k + p) / s + 1) - 1
        extra = n_frames * s + k - p - length
        if self.causal:
            return p, extra
        right = p // 2
        return p - right, right + extra

    def __call__(self, x: mx.array) -> mx.array:
        left, right = self.padding(x.shape[1])
        x = pad1d(x, left, right, self.pad_mode)
        return mx.conv1d(x, self.weight, stride=self.stride, dilation=self.dilation) + self.bias


class ConvTranspose1d(nn.Module):
    def __init__(self, cfg: EncodecConfig, in_ch: int, out_ch: int, kernel: int, stride: int):
        super().__init__()
        self.weight = mx.zeros((out_ch, kernel, in_ch))
        self.bias = mx.zeros((out_ch,))
        self.stride = stride
        padding_total = kernel - stride
        right = math.ceil(padding_total * cfg.trim_right_ratio) if cfg.use_causal_conv else padding_total // 2
        self.trim = (padding_total - right, right)

    def __call__(self, x: mx.array) -> mx.array:
        y = mx.conv_transpose1d(x, self.weight, stride=self.stride) + self.bias
        left, right = self.trim
        return y[:, left : y.shape[1] - right]


class ELU(nn.Module):
    def __call__(self, x):
        return nn.elu(x)


class ResnetBlock(nn.Module):
    def __init__(self, cfg: EncodecConfig, dim: int, dilations: tuple[int, int]):
        super().__init__()
        hidden = dim // cfg.compress
        self.block = [
            ELU(),
            Conv1d(cfg, dim, hidden, cfg.residual_kernel_size, dilation=dilations[0]),
            ELU(),
            Conv1d(cfg, hidden, dim, 1, dilation=dilations[1]),
        ]
        self.shortcut = Conv1d(cfg, dim, dim, 1) if cfg.use_conv_shortcut else None

    def __call__(self, x):
        y = x
        for layer in self.block:
            y = layer(y)
        return (self.shortcut(x) if self.shortcut is not None else x) + y


class LSTMLayer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.Wx = mx.zeros((4 * dim, dim))
        self.Wh = mx.zeros((4 * dim, dim))
        self.bias = mx.zeros((4 * dim,))  # bias_ih + bias_hh


def _lstm_cell(x_t, h, c, Wh):
    i, f, g, o = mx.split(x_t + h @ Wh.T, 4, axis=-1)  # torch's gate order
    c = mx.sigmoid(f) * c + mx.sigmoid(i) * mx.tanh(g)
    h = mx.sigmoid(o) * mx.tanh(c)
    return h, c


_lstm_cell_compiled = mx.compile(_lstm_cell)


class LSTM(nn.Module):
    """Stacked unidirectional LSTM with EnCodec's skip connection; state can be carried between calls."""

    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.layers = [LSTMLayer(dim) for _ in range(num_layers)]

    def __call__(self, x: mx.array, state: list | None = None):
        batch, dim = x.shape[0], x.shape[-1]
        if state is None:
            zeros = mx.zeros((batch, dim), dtype=x.dtype)
            state = [(zeros, zeros)] * len(self.layers)
        y, new_state = x, []
        for layer, (h, c) in zip(self.layers, state):
            x_proj = y @ layer.Wx.T + layer.bias  # all frames at once
            outs = []
            for t in range(y.shape[1]):
                h, c = _lstm_cell_compiled(x_proj[:, t], h, c, layer.Wh)
                outs.append(h)
            y = mx.stack(outs, axis=1)
            new_state.append((h, c))
        return y + x, new_state


class Encoder(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        layers = [Conv1d(cfg, cfg.audio_channels, cfg.num_filters, cfg.kernel_size)]
        scale = 1
        for ratio in reversed(cfg.upsampling_ratios):
            dim = scale * cfg.num_filters
            layers += [ResnetBlock(cfg, dim, (cfg.dilation_growth_rate**j, 1)) for j in range(cfg.num_residual_layers)]
            layers += [ELU(), Conv1d(cfg, dim, dim * 2, ratio * 2, stride=ratio)]
            scale *= 2
        layers += [LSTM(scale * cfg.num_filters, cfg.num_lstm_layers), ELU()]
        layers += [Conv1d(cfg, scale * cfg.num_filters, cfg.hidden_size, cfg.last_kernel_size)]
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)[0] if isinstance(layer, LSTM) else layer(x)
        return x


class Decoder(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        scale = 2 ** len(cfg.upsampling_ratios)
        layers = [Conv1d(cfg, cfg.hidden_size, scale * cfg.num_filters, cfg.kernel_size)]
        layers += [LSTM(scale * cfg.num_filters, cfg.num_lstm_layers)]
        for ratio in cfg.upsampling_ratios:
            dim = scale * cfg.num_filters
            layers += [ELU(), ConvTranspose1d(cfg, dim, dim // 2, ratio * 2, stride=ratio)]
            layers += [
                ResnetBlock(cfg, dim // 2, (cfg.dilation_growth_rate**j, 1)) for j in range(cfg.num_residual_layers)
            ]
            scale //= 2
        layers += [ELU(), Conv1d(cfg, cfg.num_filters, cfg.audio_channels, cfg.last_kernel_size)]
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)[0] if isinstance(layer, LSTM) else layer(x)
        return x


class Quantizer(nn.Module):
    """Residual VQ; all codebooks stacked so that decoding is a single gather."""

    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.embed = mx.zeros((cfg.num_quantizers, cfg.codebook_size, cfg.embedding_dim))

    def encode(self, x: mx.array, num_codebooks: int) -> mx.array:
        """[batch, frames, dim] → codes [batch, num_codebooks, frames]."""
        codes = []
        for embed in self.embed[:num_codebooks]:
            dist = (x * x).sum(-1, keepdims=True) - 2 * x @ embed.T + (embed * embed).sum(-1)
            index = mx.argmin(dist, axis=-1)
            codes.append(index)
            x = x - embed[index]
        return mx.stack(codes, axis=1)

    def decode(self, codes: mx.array) -> mx.array:
        """codes [batch, num_codebooks, frames] → [batch, frames, dim]."""
        num_codebooks, size = codes.shape[1], self.embed.shape[1]
        offsets = (mx.arange(num_codebooks) * size)[None, :, None]
        flat = self.embed.reshape(-1, self.embed.shape[-1])
        return flat[codes + offsets].sum(axis=1)


class EncodecModel(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantizer = Quantizer(cfg)

    def encode(self, audio: mx.array, num_codebooks: int | None = None) -> mx.array:
        """audio [batch, samples] (mono) → codes [batch, num_codebooks, frames]."""
        emb = self.encoder(audio[..., None].astype(self.quantizer.embed.dtype))
        return self.quantizer.encode(emb, num_codebooks or self.cfg.num_quantizers)

    def decode(self, codes: mx.array) -> mx.array:
        """codes [batch, num_codebooks, frames] → audio [batch, frames * hop_length] (mono)."""
        return self.decoder(self.quantizer.decode(codes))[..., 0]


def sanitize(weights: dict[str, mx.array], cfg: EncodecConfig) -> dict[str, mx.array]:
    """HF EncodecModel keys (without the `audio_encoder.` prefix) → this module's, folding weight norm.

    Accepts both weight-norm spellings: `weight_g`/`weight_v` and `parametrizations.weight.original0/1`.
    """
    out: dict[str, mx.array] = {}
    norm_parts: dict[str, dict[str, mx.array]] = {}
    conv_weights: dict[str, mx.array] = {}
    embeds: dict[int, mx.array] = {}
    for key, value in weights.items():
        if key.startswith("quantizer.layers."):
            if key.endswith(".codebook.embed"):
                embeds[int(key.split(".")[2])] = value
            continue  # training-only buffers: inited, cluster_size, embed_avg
        for suffix, part in (
            (".weight_g", "g"), (".weight_v", "v"),
            (".parametrizations.weight.original0", "g"), (".parametrizations.weight.original1", "v"),
        ):
            if key.endswith(suffix):
                norm_parts.setdefault(key[: -len(suffix)], {})[part] = value
                break
        else:
            if ".lstm." in key:
                prefix, name = key.rsplit(".lstm.", 1)
                kind, layer = name.rsplit("_l", 1)
                target = f"{prefix}.layers.{layer}"
                if kind == "weight_ih":
                    out[f"{target}.Wx"] = value
                elif kind == "weight_hh":
                    out[f"{target}.Wh"] = value
                else:
                    out[f"{target}.bias"] = out.get(f"{target}.bias", 0) + value
            elif key.endswith(".conv.weight"):  # a checkpoint saved without weight norm
                conv_weights[key.removesuffix(".conv.weight")] = value
            else:
                out[key.replace(".conv.bias", ".bias")] = value
    for prefix, parts in norm_parts.items():
        if set(parts) != {"g", "v"}:
            raise KeyError(f"{prefix}: weight norm needs both g and v, found only {sorted(parts)}")
        g, v = parts["g"].astype(mx.float32), parts["v"].astype(mx.float32)
        norm = mx.sqrt((v * v).sum(axis=tuple(range(1, v.ndim)), keepdims=True))
        conv_weights[prefix.removesuffix(".conv")] = g * v / norm
    transposed = _transposed_convs(cfg)
    for prefix, w in conv_weights.items():
        # Conv1d [out, in, k] and ConvTranspose1d [in, out, k] both become MLX's [out, k, in].
        out[prefix + ".weight"] = w.transpose(1, 2, 0) if prefix in transposed else w.transpose(0, 2, 1)
    if embeds:
        out["quantizer.embed"] = mx.stack([embeds[i] for i in range(len(embeds))])
    return out


def _transposed_convs(cfg: EncodecConfig) -> set[str]:
    """Decoder layer indices of the transposed convs: conv, lstm, then per ratio [ELU, convT, resblocks…]."""
    per_ratio = 2 + cfg.num_residual_layers
    return {f"decoder.layers.{2 + i * per_ratio + 1}" for i in range(len(cfg.upsampling_ratios))}
