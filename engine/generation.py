"""Offline generation: text (and a melody, or a recording to continue) → codes → audio."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import soxr

from .chroma import Melody
from .conditioning import Conditioner
from .frames import HORIZON_FRAMES, FrameGenerator
from .musicgen import MusicGen
from .sampling import SamplingParams


def encode_prompt(model: MusicGen, tokenizer, prompt: str) -> tuple[mx.array, mx.array]:
    ids, mask = tokenizer([prompt])
    return model.condition(ids, mask), mask


def generate_codes(model: MusicGen, tokenizer, prompt: str, num_frames: int, params: SamplingParams,
                   seed: int = 0, progress=None, compiled: bool = True, prompt_codes: np.ndarray | None = None,
                   extend_stride: float = 18.0, melody: Melody | np.ndarray | None = None,
                   horizon: int = HORIZON_FRAMES) -> np.ndarray:
    """Offline generation of `num_frames` new frames → codes [1, K, frames] (delay pattern undone).

    With `prompt_codes` ([K, W], e.g. from `codes_from_audio`) the music continues them and the result
    starts with them, as the reference does. Beyond the 30 s horizon the context restarts like
    audiocraft's extended generation: every `extend_stride` seconds, from the last 30 − stride seconds,
    a melody taken from each context's own time offset. `melody`: a `Melody`, or a chroma [1, frames, 12].
    """
    guided = params.cfg_scale != 1.0
    conditioner = Conditioner(model, tokenizer, prompt, guided, max_text=None)
    width = 0 if prompt_codes is None else prompt_codes.shape[1]
    if model.cfg.is_melody:
        melody = melody if isinstance(melody, Melody) else None if melody is None else Melody(chroma=melody)
        if melody is not None:
            melody.start_frame, melody.extended = -width, width + num_frames > horizon
        conditioner.set_melody(melody)
    fps = model.cfg.frames_per_second
    generator = FrameGenerator(model, params, seed, horizon=horizon,
                               window_frames=horizon - round(extend_stride * fps), total_frames=num_frames,
                               guided=guided, compiled=compiled, prompt=prompt_codes, cross=conditioner.cross,
                               cross_mask=conditioner.cross_mask,
                               prefixes=conditioner if model.cfg.is_melody else None,
                               max_prefix=conditioner.max_prefix)
    chunks = []
    for start in range(0, num_frames, 50):
        count = min(50, num_frames - start)
        chunks.append(generator.next_frames(count))
        mx.eval(chunks[-1])
        if progress:
            progress(count)
    new = np.array(mx.concatenate(chunks, axis=-1))
    return new if prompt_codes is None else np.concatenate([prompt_codes[None], new], axis=-1)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """[channels, samples] at `rate` → at `target` (soxr's high quality)."""
    if rate == target:
        return audio
    return np.ascontiguousarray(soxr.resample(audio.T, rate, target, quality="HQ").T)


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
