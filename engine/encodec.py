"""EnCodec (SEANet encoder/decoder + residual vector quantizer) in MLX, channels-last [batch, time, channels].

Weight norm is folded into plain convolution weights at load time (`sanitize`), so a convolution is one
kernel. The LSTM's input projection runs over all frames in one matmul; only the recurrence steps in time.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

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
        return run_layers(self.layers, x)


def run_layers(layers: list, x: mx.array) -> mx.array:
    for layer in layers:
        x = layer(x)[0] if isinstance(layer, LSTM) else layer(x)  # an LSTM also returns its state
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
        return run_layers(self.layers, x)


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
        offsets = mx.array(np.arange(num_codebooks, dtype=np.int32) * size)[None, :, None]  # no kernels per call
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


# --- incremental decoding: each frame decoded once, state carried between calls ------------------------

# Streaming calls are small (a few frames), so a GPU backend's cost per call is the host's, not the math:
# on MLX-CUDA one cuDNN convolution costs ~40-90 µs of host time, a GEMM far less. The streaming layers
# therefore run their convolutions as one matmul over stacked taps (a convolution's definition); the
# offline decoder keeps the convolution ops.


def conv_taps_matrix(conv) -> mx.array:
    """[out, kernel, in] weights → [kernel·in, out]: tap-major rows, as `stacked_taps` lays out inputs."""
    out_ch, kernel, in_ch = conv.weight.shape
    return conv.weight.reshape(out_ch, kernel * in_ch).T


def stacked_taps(x: mx.array, kernel: int, dilation: int) -> mx.array:
    """[B, T, C] → [B, T − (kernel − 1)·dilation, kernel·C]: each output step's input taps side by side."""
    length = x.shape[1] - (kernel - 1) * dilation
    if kernel == 1:
        return x
    return mx.concatenate([x[:, j * dilation : j * dilation + length] for j in range(kernel)], axis=-1)


class _StreamConv:
    """A stride-1 Conv1d fed piecewise: keeps the left context it needs and waits for its right look-ahead.
    At the stream start it builds the same left padding (reflect or zeros) as the offline pass."""

    def __init__(self, conv: Conv1d):
        assert conv.stride == 1, "the decoder only has stride-1 convolutions"
        self.conv = conv
        self.matrix = conv_taps_matrix(conv)
        self.left, self.lookahead = conv.padding(1 << 20)  # stride 1: padding does not depend on length
        self.buffer: mx.array | None = None
        self.started = False

    def __call__(self, x: mx.array) -> mx.array | None:
        self.buffer = x if self.buffer is None else mx.concatenate([self.buffer, x], axis=1)
        if not self.started:
            if self.buffer.shape[1] <= self.left:
                return None
            self.buffer = pad1d(self.buffer, self.left, 0, self.conv.pad_mode)
            self.started = True
        ready = self.buffer.shape[1] - (self.conv.effective_kernel - 1)
        if ready <= 0:
            return None
        taps = stacked_taps(self.buffer, self.conv.weight.shape[1], self.conv.dilation)
        self.buffer = self.buffer[:, ready:]
        return mx.addmm(self.conv.bias, taps, self.matrix)


class _StreamConvTranspose:
    """Overlap-add: output samples are final once no later input frame reaches them; the rest waits.
    EnCodec's kernels are twice the stride, so input frame t writes 2·stride samples from t·stride: one
    matmul gives each frame's two halves, and a step's output is its first half plus the previous frame's
    second half (carried between calls)."""

    def __init__(self, conv: ConvTranspose1d):
        assert conv.weight.shape[1] == 2 * conv.stride, "EnCodec's transposed convolutions: kernel 2·stride"
        self.conv = conv
        out_ch, kernel, in_ch = conv.weight.shape
        self.matrix = conv.weight.transpose(2, 1, 0).reshape(in_ch, kernel * out_ch)  # [in, (tap, out)]
        self.overlap: mx.array | None = None
        self.to_trim = conv.trim[0]

    def __call__(self, x: mx.array) -> mx.array:
        batch, frames, _ = x.shape
        stride, out_ch = self.conv.stride, self.conv.weight.shape[0]
        halves = (x @ self.matrix).reshape(batch, frames, 2, stride, out_ch)
        second = halves[:, :, 1]
        before = (mx.concatenate([self.overlap[:, None], second[:, :-1]], axis=1) if self.overlap is not None
                  else mx.pad(second[:, :-1], [(0, 0), (1, 0), (0, 0), (0, 0)]))
        self.overlap = second[:, -1]
        out = (halves[:, :, 0] + before + self.conv.bias).reshape(batch, frames * stride, out_ch)
        if self.to_trim:
            trim, self.to_trim = min(self.to_trim, out.shape[1]), self.to_trim - min(self.to_trim, out.shape[1])
            out = out[:, trim:]
        return out


class _StreamResnet:
    def __init__(self, block: ResnetBlock):
        self.block = block
        self.layers = [_stream_layer(layer) for layer in block.block]
        self.pending: mx.array | None = None  # inputs waiting for their block output (look-ahead)

    def __call__(self, x: mx.array) -> mx.array | None:
        self.pending = x if self.pending is None else mx.concatenate([self.pending, x], axis=1)
        y = _run(self.layers, x)
        if y is None:
            return None
        n = y.shape[1]
        skip, self.pending = self.pending[:, :n], self.pending[:, n:]
        return (self.block.shortcut(skip) if self.block.shortcut is not None else skip) + y


class _StreamLSTM:
    def __init__(self, lstm: LSTM):
        self.lstm, self.state = lstm, None

    def __call__(self, x):
        y, self.state = self.lstm(x, self.state)
        return y


def _stream_layer(layer):
    if isinstance(layer, Conv1d):
        return _StreamConv(layer)
    if isinstance(layer, ConvTranspose1d):
        return _StreamConvTranspose(layer)
    if isinstance(layer, ResnetBlock):
        return _StreamResnet(layer)
    if isinstance(layer, LSTM):
        return _StreamLSTM(layer)
    return layer  # ELU: stateless


def _walk(layers):
    for layer in layers:
        yield layer
        yield from _walk(getattr(layer, "layers", []))


def _run(layers, x):
    for layer in layers:
        if x is None:
            return None
        x = layer(x)
    return x


class StreamingDecoder:
    """Codes in (any number of frames per call) → audio out, equal to `EncodecModel.decode` of all codes
    so far except for the last `latency_samples`, which wait for look-ahead (the final edge)."""

    def __init__(self, model: EncodecModel):
        self.model = model
        self.layers = [_stream_layer(layer) for layer in model.decoder.layers]
        self.latency_samples = decoder_latency(model.cfg)
        # The stacked-tap matrices, computed now: the decoder may run on another thread (MLX streams
        # belong to threads, and a lazy array can only be evaluated on its own).
        mx.eval([getattr(layer, "matrix", None) for layer in _walk(self.layers)])

    def __call__(self, codes: mx.array) -> mx.array:
        """codes [batch, num_codebooks, frames] → audio [batch, samples] (possibly none yet)."""
        y = _run(self.layers, self.model.quantizer.decode(codes))
        return y[..., 0] if y is not None else mx.zeros((codes.shape[0], 0))


def decoder_latency(cfg: EncodecConfig) -> int:
    """Samples the streaming decoder holds back: each convolution's right look-ahead and each transposed
    convolution's left trim, scaled to the output rate."""
    hop = cfg.hop_length
    pad = lambda kernel, dilation: ((kernel - 1) * dilation) // 2  # non-causal right padding, stride 1
    causal = cfg.use_causal_conv
    latency = 0 if causal else pad(cfg.kernel_size, 1) * hop
    for ratio in cfg.upsampling_ratios:
        hop //= ratio
        padding_total = ratio  # kernel 2·ratio − stride ratio
        right = math.ceil(padding_total * cfg.trim_right_ratio) if causal else padding_total // 2
        latency += (padding_total - right) * hop
        if not causal:
            latency += sum(pad(cfg.residual_kernel_size, cfg.dilation_growth_rate**j) for j in range(cfg.num_residual_layers)) * hop
    return latency + (0 if causal else pad(cfg.last_kernel_size, 1))
