"""Token generation: the delay pattern, classifier-free guidance, sampling, and the decoder step loop.

Sampling settings are arrays, not Python constants, so changing them live never recompiles the step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from .config import DecoderConfig
from .conditioning import pad_to
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

    def forced(self, position: int, prompt: np.ndarray | None = None, frames_before: int = 0,
               total_frames: int | None = None) -> np.ndarray:
        """Per codebook, the token forced at context `position`, or -1 where the model chooses: pad before
        the first frame, the prompt's own codes over its frames ([K, W], context frames < W), and pad past
        `total_frames` (counted globally: context frame f is global frame frames_before + f)."""
        frame = position - 1 - self.delays
        out = np.where(frame < 0, self.pad, -1)
        if prompt is not None and prompt.shape[1]:
            inside = (frame >= 0) & (frame < prompt.shape[1])
            out[inside] = prompt[np.flatnonzero(inside), frame[inside]]
        if total_frames is not None:
            out[frames_before + frame >= total_frames] = self.pad
        return out.astype(np.int32)

    def prefix(self, prompt: np.ndarray) -> np.ndarray:
        """The context positions 0..W fully given by a prompt of W frames ([K, W]) → [1, K, W + 1]."""
        width = prompt.shape[1]
        return np.stack([self.forced(p, prompt) for p in range(width + 1)], axis=-1)[None]

    def undo(self, sequence: np.ndarray, num_frames: int) -> np.ndarray:
        """sequence [B, K, steps] of positions 1.. → codes [B, K, num_frames]."""
        return np.stack([sequence[:, k, d : d + num_frames] for k, d in enumerate(self.delays)], axis=1)


PREFILL_CHUNK = 128


class Stepper:
    """Decoder steps over a preallocated KV cache of `max_positions`. A step (embedding, all layers,
    heads, guidance, sampling, delay-pattern override) is one compiled graph with static shapes;
    `compiled=False` runs the same function eagerly, for checking. `prefill` starts a fresh context."""

    def __init__(self, model: MusicGen, condition: mx.array, condition_mask: mx.array, max_positions: int,
                 guided: bool, seed: int = 0, compiled: bool = True, chroma: mx.array | None = None):
        self.model, self.guided, self.max_positions = model, guided, max_positions
        self.decoder = model.decoder
        self.melody = model.cfg.is_melody
        self.set_condition(condition, condition_mask, chroma=chroma)
        self.cache = self.decoder.new_cache(self.batch, self.prefix_len + max_positions)
        self.key = mx.random.key(seed)
        self._step = mx.compile(self._graph) if compiled else self._graph

    def set_condition(self, condition: mx.array, condition_mask: mx.array, negative=None, chroma=None) -> None:
        """A new text condition ([1, S, D], mask [1, S]); the guidance branch gets `negative` (a condition
        and mask) or, as the reference, zeros. Cross-attention models take it at the next step (the cache
        is kept); melody models read it (and `chroma`) as a prefix, so their context must restart
        (`prefix_changed`)."""
        if self.guided:
            if negative is None:  # the unconditional branch: the condition zeroed after enc_to_dec_proj
                negative = (mx.zeros_like(condition), mx.ones_like(condition_mask))
            length = max(condition.shape[1], negative[0].shape[1])
            (condition, condition_mask), negative = pad_to((condition, condition_mask), length), pad_to(negative, length)
        dtype = self.decoder.layer_norm.weight.dtype
        self.batch = 2 if self.guided else 1
        if self.melody:  # the null melody in the guidance branch
            rows = [self.model.melody_prefix(condition, chroma)]
            if self.guided:
                rows.append(self.model.melody_prefix(negative[0], None))
            self.prefix = mx.concatenate(rows).astype(dtype)
            self.prefix_len, self.prefix_changed = self.prefix.shape[1], True
            self.cross, self.cross_mask = None, None
            mx.eval(self.prefix)
            return
        if self.guided:
            condition = mx.concatenate([condition, negative[0]])
            condition_mask = mx.concatenate([condition_mask, negative[1]])
        self.cross = self.model.cross_keys_values(condition.astype(dtype))
        # Without padding the mask changes nothing; leaving it out keeps the fused attention kernels.
        padded = not bool(mx.all(condition_mask > 0))
        self.cross_mask = (condition_mask > 0)[:, None, None, :] if padded else None
        self.prefix_len, self.prefix_changed = 0, False
        mx.eval(self.cross, self.cross_mask)

    def _sample(self, logits, params, forced, key):
        cfg_scale, temperature, top_k, top_p = params
        logits = guide(logits[:, :, -1], cfg_scale, self.guided)
        key, sub = mx.random.split(key)
        sampled = mx.random.categorical(filter_logits(logits, temperature, top_k, top_p), key=sub)
        return mx.where(forced >= 0, forced, sampled).astype(mx.int32), key

    def _rows(self, tokens):
        return mx.concatenate([tokens, tokens]) if self.guided else tokens

    def _graph(self, tokens, offset, cache, cross, cross_mask, params, forced, key):
        x = self.decoder.embed_tokens(self._rows(tokens)[:, :, None])
        logits, cache = self.decoder(x, offset, cache, cross, cross_mask)
        tokens, key = self._sample(logits, params, forced, key)
        return tokens, cache, key

    def prefill(self, sequence: mx.array, params, forced: np.ndarray) -> mx.array:
        """A fresh context from positions 0..T-1 ([1, K, T]; melody models read their prefix first)
        → tokens [1, K] for position T."""
        self.cache = self.decoder.new_cache(self.batch, self.prefix_len + self.max_positions)
        x = self.decoder.embed_tokens(self._rows(sequence))
        if self.melody:
            x = mx.concatenate([self.prefix, x], axis=1)
            self.prefix_changed = False
        # In slices, so that a long prompt's attention temporaries stay small (memory stays flat).
        for start in range(0, x.shape[1], PREFILL_CHUNK):
            logits, self.cache = self.decoder(x[:, start : start + PREFILL_CHUNK], mx.array([start], mx.int32),
                                              self.cache, self.cross, self.cross_mask)
            mx.eval(logits, self.cache)
        tokens, self.key = self._sample(logits, params, mx.array(forced), self.key)
        return tokens

    def __call__(self, tokens: mx.array, position: int, params, forced: np.ndarray) -> mx.array:
        """tokens [1, K] at `position` → tokens [1, K] for position + 1 (lazy: nothing is waited for)."""
        offset = mx.array([self.prefix_len + position], mx.int32)
        tokens, self.cache, self.key = self._step(tokens, offset, self.cache, self.cross, self.cross_mask, params,
                                                  mx.array(forced), self.key)
        return tokens


HORIZON_FRAMES = 1500  # the decoder's trained context: 30 s at 50 frames/s


class FrameGenerator:
    """Complete code frames ([1, K] device arrays) one after another, endlessly or up to `total_frames`.

    The decoder context holds at most `horizon` positions. Before it fills, the context restarts (re-prime)
    from the last `window_frames` frames with a fresh cache, while the stream of frames goes on without a
    gap. A prompt of codes ([K, W], e.g. encoded audio) can open the first context. Memory is bounded:
    only the window's frames and the last few steps are kept.
    """

    def __init__(self, model: MusicGen, condition: mx.array, condition_mask: mx.array, params: SamplingParams,
                 seed: int = 0, horizon: int = HORIZON_FRAMES, window_frames: int = 500,
                 total_frames: int | None = None, guided: bool = True, compiled: bool = True,
                 prompt: np.ndarray | None = None, chroma: mx.array | None = None):
        self.pattern = DelayPattern(model.cfg.decoder)
        self.horizon, self.total_frames = horizon, total_frames
        self.window_frames = window_frames
        self.stepper = Stepper(model, condition, condition_mask, horizon, guided, seed, compiled, chroma)
        self.params = params.arrays()
        self.history: deque = deque(maxlen=horizon)  # emitted frames, for re-priming
        self.emitted = 0  # frames handed out so far (global frame index of the next one)
        self.steps = 0  # decoder passes so far: the clock that replaying a performance keys on
        self.reprimes = 0
        self._delay_index = mx.array(self.pattern.delays, mx.int32)[None, None, :]
        num_codebooks = model.cfg.decoder.num_codebooks
        self._start(prompt if prompt is not None else np.zeros((num_codebooks, 0), np.int32))

    def set_params(self, params: SamplingParams) -> None:
        self.params = params.arrays()

    def set_window(self, frames: int) -> None:
        self.window_frames = frames

    def _forced(self, position: int) -> np.ndarray:
        return self.pattern.forced(position, self.prompt, self.frames_before, self.total_frames)

    def _start(self, prompt: np.ndarray) -> None:
        """Open a context whose first W frames are `prompt`; the next frame handed out is context frame W."""
        width = prompt.shape[1]
        self.prompt, self.frames_before = prompt, self.emitted - width
        prefix = mx.array(self.pattern.prefix(prompt))
        tokens = self.stepper.prefill(prefix, self.params, self._forced(width + 1))
        # Computed here, so that another thread may carry on from this context (MLX streams are per thread).
        mx.eval(tokens, self.stepper.cache, self.stepper.key)
        self.position, self.steps = width + 1, self.steps + 1
        self.recent: deque = deque([tokens], maxlen=self.pattern.max_delay + 1)

    def restart(self) -> None:
        """Start over from nothing (the stream of frames goes on)."""
        self._start(np.zeros((len(self.pattern.delays), 0), np.int32))

    def _reprime(self) -> None:
        width = min(self.window_frames, len(self.history), self.horizon - self.pattern.max_delay - 2)
        prompt = np.array(mx.stack(list(self.history)[len(self.history) - width:], axis=-1))[0] if width else None
        self.reprimes += 1
        self._start(prompt if prompt is not None else np.zeros((len(self.pattern.delays), 0), np.int32))

    def next_frame(self) -> mx.array:
        frame_in_context = self.emitted - self.frames_before
        while self.position < frame_in_context + 1 + self.pattern.max_delay:
            if self.position >= self.horizon or self.stepper.prefix_changed:  # full, or a melody's new prefix
                self._reprime()
                return self.next_frame()
            tokens = self.stepper(self.recent[-1], self.position, self.params, self._forced(self.position + 1))
            mx.async_eval(tokens)
            mx.eval(self.recent[-1])  # dispatch step t before waiting on step t-1: the device never idles
            self.recent.append(tokens)
            self.position, self.steps = self.position + 1, self.steps + 1
        # codebook k of this frame was produced delay[k] steps after the oldest step kept
        frame = mx.take_along_axis(mx.stack(list(self.recent)), self._delay_index, axis=0)[0]
        self.history.append(frame)
        self.emitted += 1
        return frame


def encode_prompt(model: MusicGen, tokenizer, prompt: str) -> tuple[mx.array, mx.array]:
    ids, mask = tokenizer([prompt])
    return model.condition(ids, mask), mask


def generate_codes(model: MusicGen, tokenizer, prompt: str, num_frames: int, params: SamplingParams,
                   seed: int = 0, progress=None, compiled: bool = True, prompt_codes: np.ndarray | None = None,
                   extend_stride: float = 18.0, chroma: np.ndarray | None = None) -> np.ndarray:
    """Offline generation of `num_frames` new frames → codes [1, K, frames] (delay pattern undone).

    With `prompt_codes` ([K, W], e.g. from `codes_from_audio`) the music continues them and the result
    starts with them, as the reference does. Beyond the 30 s horizon the context restarts like
    audiocraft's extended generation: every `extend_stride` seconds, from the last 30 − stride seconds.
    """
    condition, mask = encode_prompt(model, tokenizer, prompt)
    width = 0 if prompt_codes is None else prompt_codes.shape[1]
    total = width + num_frames
    steps = DelayPattern(model.cfg.decoder).steps_for(total)
    fps = model.cfg.frames_per_second
    horizon = steps + 1 if steps + 1 <= HORIZON_FRAMES else HORIZON_FRAMES
    window = HORIZON_FRAMES - round(extend_stride * fps)
    # total_frames counts the frames handed out, which are the new ones (the prompt is context frames 0..W-1)
    generator = FrameGenerator(model, condition, mask, params, seed, horizon=horizon, window_frames=window,
                               total_frames=num_frames, guided=params.cfg_scale != 1.0, compiled=compiled,
                               prompt=prompt_codes, chroma=None if chroma is None else mx.array(chroma))
    frames = []
    for _ in range(num_frames):
        frames.append(generator.next_frame())
        if progress:
            progress(1)
    new = np.array(mx.stack(frames, axis=-1))
    return new if prompt_codes is None else np.concatenate([prompt_codes[None], new], axis=-1)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited (FFT) resampling of [channels, samples]."""
    if rate == target:
        return audio
    n = audio.shape[-1]
    m = round(n * target / rate)
    spectrum = np.fft.rfft(audio, axis=-1)
    keep = min(spectrum.shape[-1], m // 2 + 1)
    out = np.zeros(audio.shape[:-1] + (m // 2 + 1,), np.complex128)
    out[..., :keep] = spectrum[..., :keep]
    return (np.fft.irfft(out, n=m, axis=-1) * (m / n)).astype(np.float32)


def codes_from_audio(model: MusicGen, audio: np.ndarray, rate: int) -> np.ndarray:
    """Audio [channels, samples] at `rate` → the model's codes [K, frames]. Mono models hear the channel
    average; stereo models encode left and right apart (a mono file feeds both), codebooks interleaved."""
    audio = resample(np.asarray(audio, np.float32), rate, model.cfg.sample_rate)
    channels = model.cfg.audio_channels
    if channels == 1:
        audio = audio.mean(axis=0, keepdims=True)
    elif audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    codes = np.array(model.audio_encoder.encode(mx.array(audio[:channels])))  # [channels, Q, frames]
    return codes.transpose(1, 0, 2).reshape(-1, codes.shape[-1]).astype(np.int32)  # L0,R0,L1,R1,…


def decode_audio(model: MusicGen, codes: np.ndarray) -> np.ndarray:
    """codes [B, K, frames] → float32 audio [B, channels, samples]; stereo: even codebooks left, odd right."""
    channels = model.cfg.audio_channels
    parts = [model.audio_encoder.decode(mx.array(codes[:, c::channels])) for c in range(channels)]
    return np.array(mx.stack(parts, axis=1).astype(mx.float32))
