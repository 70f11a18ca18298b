"""The stream of complete code frames, endless or finite, from decoder contexts stepped together.

MusicGen's decoder sees at most 30 s (`horizon` frames) per context. Before one fills, the next context —
the last `window` frames as its prompt, for melody models its own prefix — is built beside it, a few
positions per decoder pass, in the same batched pass as the playing context, and starts sampling at the
very step its first frame is due. No frame ever waits for a re-prime. A re-prime is known long before it
is due, so its context starts early and gains one position per pass (`GENTLE_CATCH_UP`): each pass is
barely longer than a plain step. A reset (start over from nothing) and a melody model's new prefix are
not foreseen: they go the same way at the backend's `catch_up` positions per pass, to take effect sooner.

Every decision here is taken by counting frames and steps, never by timing, so live play, offline
generation and a replayed performance give the same tokens.

Tokens live on the device in a ring indexed by global frame (the stream's frames; a continuation prompt's
are negative). A context reads the tokens older contexts own from the ring, and its own from its previous
step, and writes the tokens it owns back: the frames before a newer context's first are the older one's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial

import mlx.core as mx
import numpy as np

from .sampling import DelayPattern, SamplingParams, filter_logits, guide
from . import cuda_decoder
from .musicgen import MusicGen, Span

HORIZON_FRAMES = 1500  # the decoder's trained context: 30 s at 50 frames/s
MIN_NEW_FRAMES = 250  # a context always leaves 5 s for new music after its prompt (caps the window)
PREFILL_CHUNK = 128  # positions per pass when a context opens before the stream starts
# A re-prime's context processes 2 positions per pass (one more than the stream advances): on an H200 a
# pass with it costs 1.4× a plain step (medium), against 7× for a pass that no longer fits the fused
# kernel (bench/probe_realtime.py catchup); on a CPU 1.6× against 2.5× at 4 positions.
GENTLE_CATCH_UP = 2
MARGIN_STEPS = 4  # a context catching up is ready this many steps before it must sample
PREFIX_LEAD = 8  # melody models: steps between asking for a new context's prefix and reading it
PAD, TRASH = -(1 << 40), -(1 << 40) - 1  # frame numbers that mean "the pad token" and "write nowhere"


def default_catch_up(decoder, batch: int, max_len: int) -> int:
    """Positions a new context that was not foreseen (a reset, a new prefix) processes per pass while it
    catches up. A GPU reads the weights once however many positions a pass holds, so up to 16; on CUDA
    as many as the fused kernel's shared memory holds (a pass beyond that takes the MLX layers, several
    times slower); the CPU backend pays per position."""
    if cuda_decoder.usable(decoder, decoder.layer_norm.weight.dtype):
        return max(2, min(16, cuda_decoder.max_rows(decoder, max_len) // batch - 1))
    return 16 if mx.default_device() == mx.gpu else 4


@dataclass
class Context:
    """One decoder context: its cache rows, and where it sits in the stream. Its context frame 0 is global
    frame `frames_before`; from global frame `owns_from` on, its samples are the stream's tokens (before
    that, its positions read the prompt from the ring). `prefix` (melody models): what it reads before BOS."""

    rows: int
    frames_before: int
    owns_from: int
    prefix: mx.array | None  # [B, rows, D]: its first `prefix_len` rows are read
    key: mx.array
    prefix_len: int = 0
    position: int = 0  # cache positions computed so far
    last: mx.array | None = None  # its latest sampled tokens [1, K]: its next input
    created: int = 0  # the step it was created at
    catch_up: int = GENTLE_CATCH_UP  # positions per pass while it catches up

    @property
    def width(self) -> int:
        """Prompt frames: from audio position `width` on, its positions produce its own frames."""
        return self.owns_from - self.frames_before

    @property
    def audio_position(self) -> int:
        """The audio position (0 is BOS) it processes next."""
        return self.position - self.prefix_len

    @property
    def sampling(self) -> bool:
        return self.last is not None


@dataclass(frozen=True)
class Plan:
    """The static shape of one decoder pass, per context (oldest first): cache rows, positions, whether
    prefix embeddings are read and whether it samples. One compiled graph per plan."""

    rows: tuple[int, ...]
    lengths: tuple[int, ...]
    prefix: tuple[bool, ...]
    sample: tuple[bool, ...]


class TokenRing:
    """The stream's tokens on the device: codebook k of global frame g at flat index k·columns + g mod
    capacity. Two extra columns: the pad token, and a trash column that writes of unowned tokens go to."""

    def __init__(self, num_codebooks: int, capacity: int, pad: int):
        self.capacity, self.columns = capacity, capacity + 2
        self.pad_column, self.trash_column = capacity, capacity + 1
        self.rows = np.arange(num_codebooks)[:, None] * self.columns
        self.tokens = mx.array(np.full(num_codebooks * self.columns, pad, np.int32))

    def index(self, frames: np.ndarray) -> np.ndarray:
        """frames [K, ...] (global frame per codebook, or PAD, or TRASH) → flat indices."""
        columns = np.where(frames == PAD, self.pad_column, np.where(frames == TRASH, self.trash_column,
                                                                    np.mod(frames, self.capacity)))
        return (self.rows.reshape((-1,) + (1,) * (frames.ndim - 1)) + columns).astype(np.int32)

    def write_prompt(self, prompt: np.ndarray, first_frame: int) -> None:
        """Codes [K, W] as global frames first_frame .. first_frame + W - 1."""
        if prompt.shape[1]:
            frames = np.broadcast_to(first_frame + np.arange(prompt.shape[1]), prompt.shape)
            self.tokens = mx.put_along_axis(self.tokens, mx.array(self.index(frames).reshape(-1)),
                                            mx.array(prompt.reshape(-1).astype(np.int32)), axis=0)

    def frames(self, first: int, count: int, end: int | None = None) -> mx.array:
        """Global frames first .. first + count - 1 → codes [1, K, count] (lazy); frames from `end` on: pad."""
        frames = np.broadcast_to(first + np.arange(count), (len(self.rows), count))
        if end is not None:
            frames = np.where(frames >= end, PAD, frames)
        return self.tokens[mx.array(self.index(frames))][None]


class FrameGenerator:
    """Complete code frames, endlessly or up to `total_frames` (frames past it are pad).

    `prompt` ([K, W] codes, e.g. encoded audio) opens the first context: the stream continues it.
    Melody models read a prefix before BOS: `prefixes.hint(frames_before)` is told `PREFIX_LEAD` steps
    before `prefixes.prefix_for(frames_before)` asks for the prefix ([B, max_prefix, D]) of a context whose
    frame 0 is that global frame, so that it can be prepared off the frame path. `catch_up` is the number
    of positions a new context processes per pass (default: by backend).
    """

    def __init__(self, model: MusicGen, params: SamplingParams, seed: int = 0, horizon: int = HORIZON_FRAMES,
                 window_frames: int = 500, total_frames: int | None = None, guided: bool = True,
                 compiled: bool = True, prompt: np.ndarray | None = None, cross: mx.array | None = None,
                 cross_mask: mx.array | None = None, prefixes=None, max_prefix: int = 0,
                 catch_up: int | None = None):
        self.model, self.decoder = model, model.decoder
        self.pattern = DelayPattern(model.cfg.decoder)
        self.num_codebooks = len(self.pattern.delays)
        self.horizon, self.total_frames, self.window_frames = horizon, total_frames, window_frames
        self.guided, self.batch = guided, 2 if guided else 1
        self.prefixes = prefixes
        self.set_cross(cross, cross_mask)
        self.params = params.arrays()
        self.dtype = self.decoder.layer_norm.weight.dtype
        prompt = np.zeros((self.num_codebooks, 0), np.int32) if prompt is None else np.asarray(prompt, np.int32)
        frames_in_context = horizon if total_frames is None else min(horizon, prompt.shape[1] + total_frames)
        self.max_delay = self.pattern.max_delay
        # prefix + BOS + the context's frames + the delay pattern's tail + room for a catch-up pass's padding
        self.max_len = max_prefix + frames_in_context + self.max_delay + 1 + PREFILL_CHUNK
        self.catch_up = max(2, min(PREFILL_CHUNK, catch_up or default_catch_up(self.decoder, self.batch, self.max_len)))
        self.cache = self.decoder.new_cache(2 * self.batch, self.max_len)
        self.ring = TokenRing(self.num_codebooks, 2 * horizon + 64, self.pattern.pad)
        self.ring.write_prompt(prompt, -prompt.shape[1])
        self.first_frame = -prompt.shape[1]  # the oldest frame the stream knows
        self.written = np.full(self.num_codebooks, -1)  # per codebook, the newest frame written
        self.emitted = 0  # frames handed out so far (global index of the next one)
        self.steps = 0  # decoder passes so far: the clock that replaying a performance keys on
        self.reprimes = 0
        self._request: tuple | None = None  # a successor asked for (reset, new prefix), waiting its turn
        self._compiled, self._use_compile = {}, compiled
        # every pass shape is compiled before the first frame, on each thread that asks for frames (here
        # first: an engine built and played on one thread starts without a slow first frame)
        extended = total_frames is None or prompt.shape[1] + total_frames > horizon
        self._warm_threads: set[int] | None = set() if compiled and extended else None
        if self._warm_threads is not None:
            self._warm_up()
        live = Context(0, -prompt.shape[1], 0, None, mx.random.key(seed))
        self._set_prefix(live)
        self.contexts: list[Context] = [live]
        self._open(live)
        # Computed now, so that another thread may carry on from here (MLX streams belong to threads).
        mx.eval(self.cache, self.ring.tokens, live.key, live.last)

    # --- settings, taking effect at the next step --------------------------------------------------

    def set_params(self, params: SamplingParams) -> None:
        self.params = params.arrays()

    def set_window(self, frames: int) -> None:
        """Seconds of past music the next context keeps (from the next re-prime on)."""
        self.window_frames = frames

    def set_cross(self, cross: mx.array | None, cross_mask: mx.array | None) -> None:
        """The condition's cross-attention keys/values (stacked: [layers, 2, B, heads, S, head_dim]) and
        mask. Kept stacked: the fused CUDA layers read them as one array, and a morph's new keys and values
        every frame are then one input of the pass, not one per layer."""
        self.cross, self.cross_mask = cross, cross_mask

    def set_seed(self, seed: int) -> None:
        key = mx.random.key(seed)
        for context in self.contexts:
            key, context.key = mx.random.split(key)

    def restart(self, new_prefix: bool = False, at: int | None = None) -> None:
        """Start over: a new context from nothing takes over as soon as it is built (a reset), or, with
        `new_prefix`, one that keeps the window but reads a new prefix (a melody model's new melody or
        text). The frames before it play out from the current context: the stream never breaks. `at`: the
        frame it takes over at (a quantized change; at the latest when the current context is full)."""
        self._request = (0 if not new_prefix else None, at)

    # --- the stream ---------------------------------------------------------------------------------

    def next_frames(self, count: int) -> mx.array:
        """The next `count` complete frames → codes [1, K, count] (lazy: nothing is waited for)."""
        if self._warm_threads is not None and threading.get_ident() not in self._warm_threads:
            self._warm_up()
        last = self.emitted + count - 1
        if self.total_frames is not None:
            last = min(last, self.total_frames - 1)  # frames past a finite stream's end are pad
        while self.written.min() < last:
            self._step()
        codes = self.ring.frames(self.emitted, count, self.total_frames)
        self.emitted += count
        return codes

    def next_frame(self) -> mx.array:
        return self.next_frames(1)[:, :, 0]

    # --- contexts -----------------------------------------------------------------------------------

    def _set_prefix(self, context: Context) -> None:
        if self.prefixes is not None:
            context.prefix, context.prefix_len = self.prefixes.prefix_for(context.frames_before)

    def _open(self, context: Context) -> None:
        """Build the first context before the stream starts, in large passes, then take its first sample."""
        while not context.sampling:
            length = min(PREFILL_CHUNK, context.prefix_len + context.width + 1 - context.position)
            self._run([(context, length, length)], compiled=False)
        self.steps += 1  # counted as one step, however many passes the prompt took

    def _successor_due(self, live: Context) -> tuple[int, int, int] | None:
        """(owns_from, width, catch-up) of the context that must be growing beside `live` now, or None.

        A context of `width` prompt frames is ready `lead(width, catch_up)` steps after it starts. A
        re-prime starts its successor that many steps before `live` is full, gently (one position gained
        per pass) when it can start at that point, else at the backend's pace; a request (reset, new
        prefix) as soon as it comes, at the backend's pace. When fewer steps are left than the window needs
        (the window grew late, a request near the end), the successor keeps what can be built in time: a
        frame never waits for more passes."""
        request, after = self._request, live.frames_before + live.audio_position  # cb0 frame of live's next sample
        limit = live.frames_before + self.horizon  # live holds no frame from here on
        width = request[0] if request is not None and request[0] is not None else None
        if width is None:
            width = self._window_width()
        lead, catch_up = self._lead, self.catch_up
        if request is None:
            if self.total_frames is not None and limit >= self.total_frames:
                return None
            if limit - after == lead(width, GENTLE_CATCH_UP):
                catch_up = GENTLE_CATCH_UP
            elif limit - after > lead(width, catch_up):
                return None
            owns_from = limit
        elif request[1] is not None:  # at a frame: started when there is just time to build it
            if request[1] - after > lead(width, catch_up):
                return None
            owns_from = min(max(request[1], after + lead(0, catch_up)), limit)
        else:
            owns_from = min(after + lead(width, catch_up), limit)
        fixed = self._fixed_lead
        prefix = self._prefix_guess
        fits = (owns_from - after - fixed) * (catch_up - 1) - prefix - 1  # the width `owns_from - after` allows
        width = max(0, min(width, fits, owns_from - self.first_frame))
        return owns_from, width, catch_up

    def _window_width(self) -> int:
        return min(self.window_frames, self.horizon - min(MIN_NEW_FRAMES, self.horizon // 2))

    @property
    def _prefix_guess(self) -> int:
        return 0 if self.prefixes is None else self.contexts[0].prefix_len  # the same text length, as a guess

    @property
    def _fixed_lead(self) -> int:
        return MARGIN_STEPS + (0 if self.prefixes is None else PREFIX_LEAD)

    def _lead(self, width: int, catch_up: int) -> int:
        """Steps from starting a context of `width` prompt frames, built at `catch_up` positions per pass,
        to its first sample."""
        return -(-(self._prefix_guess + width + 1) // (catch_up - 1)) + self._fixed_lead

    def lead_steps(self) -> int:
        """Steps a new context keeping the window takes to build (a change that needs one is asked for that
        much before the frame it must own)."""
        return self._lead(self._window_width(), self.catch_up)

    def _grow(self) -> None:
        """Start the next context when it is due (a re-prime, a reset, a new prefix)."""
        live = self.contexts[0]
        if len(self.contexts) > 1 and (self.contexts[1].sampling or self._request is None):
            return  # one is growing; a request waits until the one that already owns frames takes over
        due = self._successor_due(live)
        if due is None:
            return
        owns_from, width, catch_up = due
        if len(self.contexts) > 1:  # a request replaces a successor still catching up
            self.contexts.pop()
        self._request = None
        rows = self.batch if live.rows == 0 else 0
        live.key, key = mx.random.split(live.key)
        frames_before = owns_from - width
        self.contexts.append(Context(rows, frames_before, owns_from, None, key, created=self.steps,
                                     catch_up=catch_up))
        if self.prefixes is not None:
            self.prefixes.hint(frames_before)
        self.reprimes += 1

    def _step(self) -> None:
        self._grow()
        live = self.contexts[0]
        work = [(live, 1, 1)]
        if len(self.contexts) > 1:
            new = self.contexts[1]
            if new.sampling:
                work.append((new, 1, 1))
            elif self.prefixes is not None and new.prefix is None and self.steps - new.created < PREFIX_LEAD:
                pass  # its prefix is being prepared
            else:
                if self.prefixes is not None and new.prefix is None:
                    self._set_prefix(new)
                # the positions whose inputs are in the ring: up to the frame `live` reads this step
                ready = min(new.width, live.audio_position + live.frames_before - new.frames_before)
                real = new.prefix_len + ready + 1 - new.position
                if real > 0:
                    work.append((new, 1, 1) if real == 1 else (new, new.catch_up, min(real, new.catch_up)))
        self._run(work, compiled=self._use_compile)
        self.steps += 1
        if len(self.contexts) > 1 and self.contexts[1].sampling and self._retired(live):
            self.contexts.pop(0)

    def _retired(self, context: Context) -> bool:
        """Whether every frame `context` owns has all its codebooks written."""
        newer = self.contexts[1].owns_from
        return context.frames_before + context.audio_position - 1 - self.max_delay >= newer - 1

    def _warm_up(self) -> None:
        """Compile every pass shape the stream will use (a context alone or beside one catching up, in
        lockstep, or both sampling; in either pair of cache rows) on scratch inputs, for this thread: MLX
        traces a compiled function again on each thread's stream, which mid-stream took a GPU frame ~14 ms
        at the first re-prime (bench/soak.py built the engine on one thread and played it on another).
        The passes write at the cache's last positions, which only padding reaches, never read."""
        self._warm_threads.add(threading.get_ident())
        start = self.max_len - PREFILL_CHUNK
        melody = self.prefixes is not None
        prefix = mx.zeros((self.batch, 1, self.decoder.cfg.hidden_size), self.dtype)
        K, trash = self.num_codebooks, self.ring.index(np.full((self.num_codebooks,), TRASH))
        for rows in ((0, self.batch), (self.batch, 0)):
            shapes = (((1,), (True,)), ((1, self.catch_up), (True, False)), ((1, GENTLE_CATCH_UP), (True, False)),
                      ((1, 1), (True, False)), ((1, 1), (True, True)))
            for lengths, sample in dict.fromkeys(shapes):  # once each (the catch-up may be the gentle one)
                plan = Plan(rows[: len(lengths)], lengths, (melody,) * len(lengths), sample)
                meta = []
                for length, s in zip(lengths, sample):
                    meta += [start, 0] + [int(self.ring.index(np.array([PAD]))[0])] * K * length
                    meta += [-1] * length if melody else []
                    meta += ([-1] * K + list(trash)) if s else []
                inputs = [(self._no_tokens, prefix if melody else self._no_tokens, mx.random.key(0))] * len(lengths)
                out = self._graph_for(plan)(mx.array(np.array(meta, np.int32)), inputs, self.ring.tokens, self.cache,
                                            self.cross, self.cross_mask, self.params)
                mx.eval(out)
                self.cache = out[2]

    # --- one decoder pass ---------------------------------------------------------------------------

    def _run(self, work: list[tuple[Context, int, int]], compiled: bool) -> None:
        """One pass: each (context, length, real) processes `length` positions from its own, the first
        `real` of them real (the rest padding, overwritten later); contexts that reach their own frames
        sample."""
        meta, samples = [], []
        for context, length, real in work:
            positions = context.position + np.arange(length)
            audio = positions - context.prefix_len
            last_audio = context.audio_position + real - 1
            sample = last_audio >= context.width
            parts = [[context.position], [real - 1], self._sources(context, audio, real).reshape(-1)]
            if context.prefix is not None:
                parts.append(np.where((audio < 0) & (np.arange(length) < real), positions, -1))
            if sample:
                parts += [self._forced(context, last_audio + 1), self._writes(context, last_audio + 1)]
            meta.append(np.concatenate([np.asarray(p, np.int64).reshape(-1) for p in parts]))
            samples.append(sample)
        plan = Plan(tuple(c.rows for c, _, _ in work), tuple(n for _, n, _ in work),
                    tuple(c.prefix is not None for c, _, _ in work), tuple(samples))
        graph = self._graph_for(plan) if compiled else partial(self._graph, plan)
        inputs = [(c.last if c.sampling else self._no_tokens, self._no_tokens if c.prefix is None else c.prefix,
                   c.key) for c, _, _ in work]
        tokens, keys, self.cache, self.ring.tokens = graph(
            mx.array(np.concatenate(meta).astype(np.int32)), inputs, self.ring.tokens, self.cache,
            self.cross, self.cross_mask, self.params)
        for (context, _, real), sample, key in zip(work, samples, keys):
            context.position += real
            context.key = key
            if sample:
                context.last = tokens.pop(0)
                self._note_written(context)
        mx.async_eval(self.ring.tokens)

    @property
    def _no_tokens(self) -> mx.array:
        return mx.zeros((1, self.num_codebooks), mx.int32)

    def _newer(self, context: Context) -> int | None:
        """The first frame a newer context owns (the last frame `context` owns is the one before)."""
        i = self.contexts.index(context)
        return self.contexts[i + 1].owns_from if i + 1 < len(self.contexts) else None

    def _frames_at(self, context: Context, audio_positions: np.ndarray) -> np.ndarray:
        """Global frame of each codebook's token at audio positions ([K, n]); BOS and before: PAD."""
        frames = context.frames_before + audio_positions[None, :] - 1 - self.pattern.delays[:, None]
        return np.where(frames < context.frames_before, PAD, frames)

    def _sources(self, context: Context, audio: np.ndarray, real: int) -> np.ndarray:
        """Where each input token comes from: a ring index, or -1 for the context's own last sample."""
        if context.sampling:
            return np.full((self.num_codebooks, 1), -1)
        frames = self._frames_at(context, audio)
        frames[:, np.arange(len(audio)) >= real] = PAD  # padding positions read pad
        frames[:, audio < 0] = PAD  # prefix positions read no tokens
        return self.ring.index(frames)

    def _forced(self, context: Context, audio_position: int) -> np.ndarray:
        """Per codebook at this output position: a ring index (pad, or a frame owned by an older context
        or the prompt) or -1 where the context samples."""
        frames = self._frames_at(context, np.array([audio_position]))[:, 0]
        past_end = self.total_frames is not None and frames >= self.total_frames
        forced = (frames < context.owns_from) | past_end  # PAD is below every frame
        index = self.ring.index(np.where(past_end, PAD, frames))
        return np.where(forced, index, -1)

    def _owned(self, context: Context, frames: np.ndarray) -> np.ndarray:
        own = (frames >= context.owns_from) & (frames != PAD)
        newer = self._newer(context)
        if newer is not None:
            own &= frames < newer
        if self.total_frames is not None:
            own &= frames < self.total_frames
        return own

    def _writes(self, context: Context, audio_position: int) -> np.ndarray:
        """Where this context's sample goes: its own frames into the ring, everything else to the trash."""
        frames = self._frames_at(context, np.array([audio_position]))[:, 0]
        return self.ring.index(np.where(self._owned(context, frames), frames, TRASH))

    def _note_written(self, context: Context) -> None:
        frames = self._frames_at(context, np.array([context.audio_position]))[:, 0]
        self.written = np.where(self._owned(context, frames), np.maximum(self.written, frames), self.written)

    def _graph_for(self, plan: Plan):
        if plan not in self._compiled:
            self._compiled[plan] = mx.compile(partial(self._graph, plan))
        return self._compiled[plan]

    def _graph(self, plan: Plan, meta, inputs, ring, cache, cross, cross_mask, params):
        """The pass as one graph: embed each context's inputs (ring tokens, its last sample, or prefix
        rows), run the decoder over all of them, then sample where a context reaches its own frames, merge
        what it must take from older contexts, and write what it owns into the ring."""
        K, dim = self.num_codebooks, self.decoder.cfg.hidden_size
        embeds, spans, picks, layout, at = [], [], [], [], 0
        for i, (rows, length, has_prefix, sample) in enumerate(zip(plan.rows, plan.lengths, plan.prefix, plan.sample)):
            last, prefix, _ = inputs[i]
            start, last_real = meta[at : at + 1], meta[at + 1 : at + 2]
            sources = meta[at + 2 : at + 2 + K * length].reshape(1, K, length)
            at += 2 + K * length
            tokens = mx.where(sources >= 0, ring[mx.maximum(sources, 0)], last[:, :, None])
            x = mx.broadcast_to(self.decoder.embed_tokens(tokens), (self.batch, length, dim))
            if has_prefix:
                rows_from_prefix = meta[at : at + length]
                at += length
                x = mx.where((rows_from_prefix >= 0)[None, :, None],
                             prefix[:, mx.clip(rows_from_prefix, 0, prefix.shape[1] - 1)].astype(x.dtype), x)
            if sample:
                layout.append((meta[at : at + K], meta[at + K : at + 2 * K]))
                at += 2 * K
                picks.append(sum(plan.lengths[:i]) + last_real)
            embeds.append(x.astype(self.dtype))
            spans.append(Span(rows, length, start, cache[0].shape[3], self.dtype))
        x = embeds[0] if len(embeds) == 1 else mx.concatenate(embeds, axis=1)
        hidden, cache = self.decoder(x, spans, cache, cross, cross_mask)
        tokens, keys = [], [key for _, _, key in inputs]
        if picks:
            logits = self.decoder.logits(mx.take(hidden, mx.concatenate(picks), axis=1))  # [B, K, n, V]
            cfg_scale, temperature, top_k, top_p = params
            samplers = [i for i, s in enumerate(plan.sample) if s]
            for j, (forced, writes) in enumerate(layout):
                i = samplers[j]
                keys[i], sub = mx.random.split(keys[i])
                chosen = guide(logits[:, :, j], cfg_scale, self.guided)
                sampled = mx.random.categorical(filter_logits(chosen, temperature, top_k, top_p), key=sub)
                merged = mx.where(forced >= 0, ring[mx.maximum(forced, 0)], sampled[0]).astype(mx.int32)
                ring = mx.put_along_axis(ring, writes, merged, axis=0)
                tokens.append(merged[None])
        return tokens, keys, cache, ring
