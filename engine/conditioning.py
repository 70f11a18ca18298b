"""The condition a performance plays with: blend slots, a negative prompt, a melody, and morphs between them.

Text goes through T5 and the decoder's cross-attention projections off the frame path (`compose`, run by the
`Preparer`); a prompt change then morphs in by interpolating the cross-attention keys and values, which are
linear in the condition, so one interpolation per frame gives exactly the keys and values of the blended
condition. Melody models read their condition as a prefix of the decoder's context instead: a change there
builds a new context beside the playing one (see frames.py) and takes over when it is ready.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import mlx.core as mx

from .chroma import Melody
from .musicgen import MusicGen

log = logging.getLogger("mg-live")
Condition = tuple[mx.array, mx.array]  # ([1, S, D], mask [1, S])
# Live, every text is cut to MAX_TEXT_TOKENS, and cross-attention conditions are padded (and masked) to a
# multiple of BUCKET: one shape for the whole performance, so a new prompt never compiles anything.
MAX_TEXT_TOKENS = 128
BUCKET = 128


def pad_to(condition: Condition, length: int) -> Condition:
    hidden, mask = condition
    extra = length - hidden.shape[1]
    if extra <= 0:
        return condition
    return mx.pad(hidden, [(0, 0), (0, extra), (0, 0)]), mx.pad(mask, [(0, 0), (0, extra)])


def mix(parts: list[tuple[float, Condition]]) -> Condition:
    """Weighted average of conditions (weights need not sum to 1; all-zero weights give the first)."""
    live = [(w, c) for w, c in parts if w > 0] or parts[:1]
    if len(live) == 1:
        return live[0][1]
    length = max(c[0].shape[1] for _, c in live)
    total = sum(w for w, _ in live) or 1.0
    padded = [(w, pad_to(c, length)) for w, c in live]
    hidden = sum((w / total) * c[0] for w, c in padded)
    mask = mx.max(mx.stack([c[1] for _, c in padded]), axis=0)
    return hidden, mask


def cross_inputs(model: MusicGen, condition: Condition, negative: Condition | None, guided: bool,
                 bucket: int = 1) -> tuple[mx.array, mx.array | None]:
    """A text condition → what cross-attention reads: the keys and values of every layer stacked
    ([layers, 2, B, heads, S, head_dim]) and the mask ([B, 1, 1, S], or None when nothing is padded, which
    keeps the fused attention kernels). The guidance row reads `negative` or, as the reference, zeros after
    enc_to_dec_proj. S is padded to a multiple of `bucket`."""
    hidden, mask = condition
    length = max(hidden.shape[1], 0 if negative is None else negative[0].shape[1])
    length = -(-length // bucket) * bucket
    hidden, mask = pad_to((hidden, mask), length)
    if guided:
        negative = pad_to(negative if negative is not None else (mx.zeros_like(hidden), mx.ones_like(mask)), length)
        hidden, mask = mx.concatenate([hidden, negative[0]]), mx.concatenate([mask, negative[1]])
    cross = mx.stack(model.cross_keys_values(hidden.astype(model.decoder.layer_norm.weight.dtype)))
    cross_mask = None if bool(mx.all(mask > 0)) else (mask > 0)[:, None, None, :]
    mx.eval(cross, cross_mask)
    return cross, cross_mask


def prefix_rows(model: MusicGen, condition: Condition, chroma: mx.array | None, negative: Condition | None,
                guided: bool, rows: int = 0) -> mx.array:
    """Melody models: what a context reads before BOS ([B, chroma_length + S, D], zero rows appended up to
    `rows`); the guidance row reads the null melody and `negative` (or zeros), both padded to the longer text."""
    hidden = condition[0]
    if not guided:
        prefix = model.melody_prefix(hidden, chroma)
    else:
        other = negative[0] if negative is not None else mx.zeros_like(hidden)
        length = max(hidden.shape[1], other.shape[1])
        pad = lambda h: mx.pad(h, [(0, 0), (0, length - h.shape[1]), (0, 0)])
        prefix = mx.concatenate([model.melody_prefix(pad(hidden), chroma), model.melody_prefix(pad(other), None)])
    prefix = prefix.astype(model.decoder.layer_norm.weight.dtype)
    if rows > prefix.shape[1]:
        prefix = mx.pad(prefix, [(0, 0), (0, rows - prefix.shape[1]), (0, 0)])
    mx.eval(prefix)
    return prefix


@dataclass(frozen=True)
class Blend:
    """What plays: prompt slots (slot 0 is the main prompt) with weights, and the negative prompt.
    Immutable: every change makes a new one, so other threads (console, telemetry) read it safely."""

    slots: tuple[tuple[int, str, float], ...]  # (slot, text, weight), by slot
    negative: str = ""
    tempo: float = 0.0  # appended to every text (", 124 bpm") when set

    def text(self, text: str) -> str:
        """What T5 reads for a slot's text."""
        return f"{text}, {self.tempo:g} bpm" if text and self.tempo else text

    @classmethod
    def of(cls, prompt: str) -> "Blend":
        return cls(((0, prompt, 1.0),))

    @property
    def prompt(self) -> str:
        return self.slots[0][1]

    def slot(self, n: int, text: str | None = None, weight: float | None = None) -> "Blend":
        """A new slot is silent until given weight."""
        old = {s: (t, w) for s, t, w in self.slots}
        t, w = old.get(n, ("", 0.0))
        old[n] = (t if text is None else text, w if weight is None else float(weight))
        return replace(self, slots=tuple((s, t, w) for s, (t, w) in sorted(old.items())))

    def with_negative(self, text: str) -> "Blend":
        return replace(self, negative=text)


@dataclass(frozen=True)
class Composition:
    """A blend, ready to play: its condition, negative condition, and (cross-attention models) the keys,
    values and mask the decoder reads."""

    blend: Blend
    condition: Condition
    negative: Condition | None
    cross: mx.array | None
    cross_mask: mx.array | None


class Conditioner:
    """The active composition, a morph from the previous one, and (melody models) the melody and the
    prefixes of the decoder contexts to come. `compose` may run on another thread; the rest runs on the
    engine's."""

    def __init__(self, model: MusicGen, tokenizer, prompt: str, guided: bool = True, preparer=None,
                 max_text: int | None = MAX_TEXT_TOKENS, cache_size: int = 64):
        self.model, self.tokenizer, self.guided, self.preparer = model, tokenizer, guided, preparer
        self.melody_model = model.cfg.is_melody
        self.max_text = max_text
        self._cache: OrderedDict[str, Condition] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_size = cache_size
        self.melody: Melody | None = None  # melody models: what to follow (None: the null melody)
        self.morph_frames = 0
        self.active = self.compose(Blend.of(prompt))
        self.cross, self.cross_mask = self.active.cross, self.active.cross_mask
        self._from: tuple | None = None  # a morph: what it starts from, its way to the target, its mask (`_morph`)
        self._progress = 0
        self._prefixes: dict[int, object] = {}  # melody models: frames_before → prefix (or its job)

    @property
    def blend(self) -> Blend:
        return self.active.blend

    @property
    def max_prefix(self) -> int:
        """Melody models: the rows a prefix may have (the text as it is, offline, where nothing changes)."""
        if not self.melody_model:
            return 0
        text = self.max_text or max(self.active.condition[0].shape[1],
                                    0 if self.active.negative is None else self.active.negative[0].shape[1])
        return self.model.cfg.chroma_length + text

    # --- composing (any thread) ---------------------------------------------------------------------

    def encode(self, text: str) -> Condition:
        """Text → condition (cached: re-selecting a prompt is free), at most `max_text` tokens. T5 reads the
        tokens padded (and masked) to a multiple of BUCKET, so that every prompt runs the same shapes: on a
        GPU a new shape can mean new kernels, built while the music plays. Melody models keep the exact
        length (positions follow it, as in the reference)."""
        with self._cache_lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        ids, mask = self.tokenizer([text])
        length = ids.shape[1]
        if self.max_text and length > self.max_text:
            log.warning("prompt cut to its first %d tokens: %r", self.max_text, text[:60])
            ids, mask, length = ids[:, : self.max_text], mask[:, : self.max_text], self.max_text
        padded = -(-length // BUCKET) * BUCKET
        ids, mask = mx.pad(ids, [(0, 0), (0, padded - length)]), mx.pad(mask, [(0, 0), (0, padded - length)])
        hidden = self.model.condition(ids, mask)
        if self.melody_model:
            hidden, mask = hidden[:, :length], mask[:, :length]
        mx.eval(hidden, mask)
        with self._cache_lock:
            self._cache[text] = (hidden, mask)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return hidden, mask

    def compose(self, blend: Blend) -> Composition:
        """A blend → its composition (T5 for texts not seen before, then the cross-attention projections)."""
        parts = [(weight, self.encode(blend.text(text))) for _, text, weight in blend.slots if text] or [(1.0, self.encode(""))]
        condition = mix(parts)
        negative = self.encode(blend.negative) if blend.negative else None
        if self.melody_model:  # the exact text: positions follow it, as in the reference
            return Composition(blend, condition, negative, None, None)
        cross, cross_mask = cross_inputs(self.model, condition, negative, self.guided, BUCKET)
        return Composition(blend, condition, negative, cross, cross_mask)

    # --- playing (the engine's thread) --------------------------------------------------------------

    def start(self, composition: Composition) -> None:
        """Morph from what plays now to `composition` over `morph_frames` frames (cross-attention models;
        melody models read it in the next decoder context)."""
        self.active = composition
        self._prefixes.clear()
        if self.melody_model:
            return
        if self.morph_frames > 0:
            self._from = _morph(self.cross, self.cross_mask, composition.cross, composition.cross_mask)
            self._progress = 0
        else:
            self._from = None
            self.cross, self.cross_mask = composition.cross, composition.cross_mask

    def advance(self) -> bool:
        """One frame further into a morph; True when the keys and values changed."""
        if self._from is None:
            return False
        self._progress += 1
        alpha = min(1.0, self._progress / self.morph_frames)
        target, target_mask = self.active.cross, self.active.cross_mask
        if alpha >= 1.0:
            self._from = None
            self.cross, self.cross_mask = target, target_mask
            return True
        start, step, self.cross_mask = self._from
        self.cross = start + alpha * step
        return True

    @property
    def morphing(self) -> bool:
        return self._from is not None

    def warm_up(self) -> None:
        """Run once what a blend's composition, a morph's frame and a melody's prefix run, then put
        everything back: on a GPU each kernel is built on its first use, which must not be mid-performance."""
        active, cross, cross_mask, morph_frames = self.active, self.cross, self.cross_mask, self.morph_frames
        blend = Blend(((0, active.blend.prompt, 0.5), (1, "warm", 0.5)), negative="quiet")
        composition = self.compose(blend)
        if self.melody_model:
            chroma = mx.zeros((1, self.model.cfg.chroma_length, self.model.cfg.num_chroma)).at[:, :, 0].add(1.0)
            mx.eval(prefix_rows(self.model, composition.condition, chroma, composition.negative, self.guided,
                                self.max_prefix))
        else:
            self.morph_frames = 4
            self.start(composition)
            self.advance()
            mx.eval(self.cross, self.cross_mask)
        self.active, self.cross, self.cross_mask, self.morph_frames = active, cross, cross_mask, morph_frames
        self._from, self._progress = None, 0
        self._prefixes.clear()

    # --- melody models: the prefix of each decoder context ------------------------------------------

    def set_melody(self, melody: Melody | None) -> None:
        self.melody = melody
        self._prefixes.clear()

    def hint(self, frames_before: int) -> None:
        """A context whose frame 0 is `frames_before` will open soon: prepare its prefix now."""
        if frames_before in self._prefixes:
            return
        if self.melody is not None and self.melody.start_frame is None:
            self.melody.start_frame = frames_before  # a new recording starts with the first context that reads it
        work = partial_prefix(self.model, self.active, self.melody, frames_before, self.guided, self.max_prefix)
        self._prefixes[frames_before] = self.preparer.submit(work) if self.preparer else work()

    def prefix_for(self, frames_before: int) -> tuple[mx.array, int]:
        """(prefix [B, max_prefix, D], the rows of it that are read) of the context at `frames_before`."""
        self.hint(frames_before)
        prefix = self._prefixes.pop(frames_before)
        return prefix.get() if hasattr(prefix, "get") else prefix


def partial_prefix(model, composition: Composition, melody: Melody | None, frames_before: int, guided: bool,
                   rows: int):
    """The work of one context's prefix, with everything it reads taken now (it may run later, elsewhere)."""

    def work() -> tuple[mx.array, int]:
        chroma = None if melody is None else melody.chroma_at(frames_before)
        text = max(composition.condition[0].shape[1], 0 if composition.negative is None or not guided
                   else composition.negative[0].shape[1])
        return (prefix_rows(model, composition.condition, None if chroma is None else mx.array(chroma),
                            composition.negative, guided, rows), model.cfg.chroma_length + text)

    return work


def _morph(start: mx.array, start_mask: mx.array | None, target: mx.array,
           target_mask: mx.array | None) -> tuple[mx.array, mx.array, mx.array | None]:
    """What every frame of a morph reads, made once: the keys/values it starts from and their difference to
    the target (both padded to the longer), and the keys either side holds (padding keys are zeros, as in
    `mix`; None where neither is masked)."""
    length = max(start.shape[4], target.shape[4])
    start_padded = _pad_keys(start, length)
    mask = None
    if start.shape[4] != target.shape[4] or start_mask is not None or target_mask is not None:
        rows = start.shape[2]
        mask = mx.logical_or(_valid(start_mask, start.shape[4], length, rows),
                             _valid(target_mask, target.shape[4], length, rows))
    return start_padded, _pad_keys(target, length) - start_padded, mask


def _pad_keys(cross: mx.array, length: int) -> mx.array:
    """Stacked keys/values [layers, 2, B, heads, S, head_dim] zero-padded to S = length."""
    extra = length - cross.shape[4]
    return cross if extra <= 0 else mx.pad(cross, [(0, 0)] * 4 + [(0, extra), (0, 0)])


def _valid(mask: mx.array | None, own: int, length: int, rows: int) -> mx.array:
    """The keys a side of a morph holds ([B, 1, 1, length] bool): its mask, or its `own` keys, padded."""
    mask = mx.ones((rows, 1, 1, own), mx.bool_) if mask is None else mask
    return mx.pad(mask, [(0, 0), (0, 0), (0, 0), (0, length - own)])
