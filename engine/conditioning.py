"""The text condition a performance plays with: blend slots, a negative prompt, and morphs between them.

Everything is interpolated in the decoder's condition space (after enc_to_dec_proj), never in audio, so a
prompt change glides instead of cutting. Conditions of different lengths are zero-padded to a common
length, with the attention mask covering every position any of them uses.
"""

from __future__ import annotations

from collections import OrderedDict

import mlx.core as mx

from .musicgen import MusicGen

Condition = tuple[mx.array, mx.array]  # ([1, S, D], mask [1, S])


def pad_to(condition: Condition, length: int) -> Condition:
    hidden, mask = condition
    extra = length - hidden.shape[1]
    if extra <= 0:
        return condition
    return mx.pad(hidden, [(0, 0), (0, extra), (0, 0)]), mx.pad(mask, [(0, 0), (0, extra)])


def mix(parts: list[tuple[float, Condition]]) -> Condition:
    """Weighted average of conditions (weights need not sum to 1; all-zero weights give the first)."""
    live = [(w, c) for w, c in parts if w > 0] or parts[:1]
    length = max(c[0].shape[1] for _, c in live)
    total = sum(w for w, _ in live) or 1.0
    padded = [(w, pad_to(c, length)) for w, c in live]
    hidden = sum((w / total) * c[0] for w, c in padded)
    mask = mx.max(mx.stack([c[1] for _, c in padded]), axis=0)
    return hidden, mask


class Conditioner:
    """Slots of (prompt, weight), slot 0 being the main prompt; a negative prompt for the guidance branch;
    a morph from the condition that was playing to the new one over `morph_frames` frames."""

    def __init__(self, model: MusicGen, tokenizer, prompt: str, cache_size: int = 64, bucket: int = 64):
        self.model, self.tokenizer, self.bucket = model, tokenizer, bucket
        self._cache: OrderedDict[str, Condition] = OrderedDict()
        self.cache_size = cache_size
        self.slots: dict[int, tuple[str, float]] = {0: (prompt, 1.0)}
        self.negative = ""
        self.chroma: mx.array | None = None  # melody models: the melody (None: the null melody)
        self.morph_frames = 0
        self._from: Condition | None = None
        self._progress = 0
        self.current = self.target = self._compose()

    def encode(self, text: str) -> Condition:
        """Text → condition (cached: re-selecting a prompt is free)."""
        if text not in self._cache:
            ids, mask = self.tokenizer([text])
            hidden = self.model.condition(ids, mask)
            mx.eval(hidden)
            self._cache[text] = (hidden, mask)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(text)
        return self._cache[text]

    def _compose(self) -> Condition:
        # Padded (and masked) to a multiple of `bucket` tokens: a new prompt of another length then
        # keeps the compiled step's shapes, so changing prompts never stalls on a recompile.
        mixed = mix([(weight, self.encode(text)) for text, weight in self.slots.values() if text])
        return pad_to(mixed, -(-mixed[0].shape[1] // self.bucket) * self.bucket)

    def negative_condition(self) -> Condition | None:
        return pad_to(self.encode(self.negative), self.current[0].shape[1]) if self.negative else None

    def retarget(self) -> None:
        """The slots changed: morph from what is playing now to the new blend."""
        self.target = self._compose()
        if self.morph_frames > 0:
            self._from, self._progress = self.current, 0
        else:
            self.current, self._from = self.target, None

    def advance(self) -> bool:
        """One frame further into a morph; True when the condition changed."""
        if self._from is None:
            return False
        self._progress += 1
        alpha = min(1.0, self._progress / self.morph_frames)
        if alpha >= 1.0:
            self.current, self._from = self.target, None
        else:
            self.current = mix([(1 - alpha, self._from), (alpha, self.target)])
        return True

    @property
    def morphing(self) -> bool:
        return self._from is not None
