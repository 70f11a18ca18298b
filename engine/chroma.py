"""Melody conditioning for musicgen-melody: the dominant pitch class of each 4096-sample hop at 32 kHz,
as a one-hot chroma (12 bins, C first). numpy only; the filterbank follows librosa's chroma definition
(Gaussian bumps around each pitch class, weighted around octave 5), which the reference uses."""

from __future__ import annotations

import numpy as np

N_FFT = 16384
HOP = 4096
SAMPLE_RATE = 32000


def chroma_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_chroma: int = 12,
                      center_octave: float = 5.0, octave_width: float = 2.0) -> np.ndarray:
    """[n_chroma, 1 + n_fft // 2] weights from FFT bins to pitch classes (A440 tuning, C first)."""
    frequencies = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    octaves = np.log2(frequencies / (440.0 / 16))  # octaves above A0 (27.5 Hz)
    bins = n_chroma * octaves
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))  # 0 Hz: 1.5 octaves below the first bin
    widths = np.concatenate((np.maximum(np.diff(bins), 1.0), [1.0]))
    half = np.round(n_chroma / 2)
    distance = np.remainder(np.subtract.outer(bins, np.arange(n_chroma)).T + half + 10 * n_chroma, n_chroma) - half
    weights = np.exp(-0.5 * (2 * distance / widths[None, :]) ** 2)
    weights /= np.sqrt((weights**2).sum(axis=0, keepdims=True))  # unit L2 per FFT bin
    weights *= np.exp(-0.5 * ((bins / n_chroma - center_octave) / octave_width) ** 2)[None, :]
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)  # start at C, not A
    return np.ascontiguousarray(weights[:, : 1 + n_fft // 2])


def chroma_energy(audio: np.ndarray) -> np.ndarray:
    """Mono audio at 32 kHz → chroma energy [frames, 12] (centered STFT, Hann window, power)."""
    audio = np.asarray(audio, np.float64)
    if len(audio) < N_FFT:  # as the reference: centre short audio in one window's worth of zeros
        pad = N_FFT - len(audio)
        audio = np.pad(audio, (pad // 2, pad - pad // 2))
    audio = np.pad(audio, (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    return power @ chroma_filterbank().T


def melody_chroma(audio: np.ndarray, rate: int) -> np.ndarray:
    """Audio [channels, samples] at any rate → one-hot chroma [1, frames, 12] (235 frames for 30 s)."""
    from .generation import resample

    mono = resample(np.asarray(audio, np.float32), rate, SAMPLE_RATE).mean(axis=0)
    energy = chroma_energy(mono)
    return np.eye(12, dtype=np.float32)[energy.argmax(axis=-1)][None]


FRAMES_PER_NOTE = 4  # a held chord cycles through its pitch classes, about half a second each


def chord_chroma(pitch_classes: list[int], frames: int) -> np.ndarray | None:
    """Notes held on a keyboard → one-hot chroma [1, frames, 12]: an arpeggio through the held pitch
    classes (the chroma holds one pitch class per frame). No notes: None, the null melody."""
    classes = sorted({int(p) % 12 for p in pitch_classes})
    if not classes:
        return None
    sequence = [classes[(i // FRAMES_PER_NOTE) % len(classes)] for i in range(frames)]
    return np.eye(12, dtype=np.float32)[sequence][None]


class Melody:
    """What a melody model follows, as a chroma for each context.

    A recording (mono, 32 kHz): past one context the reference (audiocraft's extended generation) takes
    each context's chroma from the 30 s of the recording that start at the context's time offset, looping
    the recording; within one context it takes the whole recording's. A fixed chroma (a chord held on a
    keyboard, or one given directly) is the same for every context. `start_frame` is the global frame the
    recording's start is aligned with (the first context that follows it). `source`: what it was made from
    (a recording's path, or the pitch classes held), as scenes keep it.
    """

    def __init__(self, audio: np.ndarray | None = None, chroma: np.ndarray | None = None, start_frame: int = 0,
                 extended: bool = True, frames_per_second: int = 50, seconds: float = 30.0, source=None):
        self.audio, self.chroma, self.start_frame, self.extended = audio, chroma, start_frame, extended
        self.source = source
        self.hop = SAMPLE_RATE // frames_per_second
        self.segment = int(seconds * SAMPLE_RATE)

    @classmethod
    def from_recording(cls, audio: np.ndarray, rate: int, **kwargs) -> "Melody":
        """audio [channels, samples] at any rate."""
        from .generation import resample

        return cls(audio=resample(np.asarray(audio, np.float32), rate, SAMPLE_RATE).mean(axis=0), **kwargs)

    def chroma_at(self, frames_before: int) -> np.ndarray:
        """One-hot chroma [1, frames, 12] for a context whose frame 0 is global frame `frames_before`."""
        if self.audio is None:
            return self.chroma
        if not self.extended:
            return melody_chroma(self.audio[None], SAMPLE_RATE)
        first = (frames_before - self.start_frame) * self.hop
        positions = np.arange(first, first + self.segment) % len(self.audio)
        return melody_chroma(self.audio[positions][None], SAMPLE_RATE)
