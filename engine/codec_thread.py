"""The codec beside the decoder: chunk N becomes audio on its own thread (and MLX stream) while the frame
loop makes chunk N + 1, so a frame costs the slower of the two, not their sum. (That matters when frames
are made back to back; a frame loop about to wait for room first takes every chunk, the newest too.)

A streaming codec call is small, so on a GPU backend its cost is the host's: building and dispatching its
operations (~1 ms on MLX-CUDA), then waiting for them. Run inline, that came on top of every decoder step
(bench/bench.py, H200: +45–84 % per frame at one frame per call). MLX releases the interpreter lock while
it evaluates, so the two threads' host work and the two streams' kernels overlap. Chunks that queue up
while a call runs are decoded together in the next (a call's cost hardly grows with its frames). Chunks
come out in the order they went in, decoded by one StreamingDecoder, so the audio is the same as inline.
"""

from __future__ import annotations

import queue

import mlx.core as mx
import numpy as np

from .encodec import StreamingDecoder
from .prepare import mlx_thread


class CodecThread:
    def __init__(self, codec: StreamingDecoder, channels: int, hop: int):
        self.codec, self.channels, self.hop = codec, channels, hop
        self.in_flight = 0  # chunks submitted and not yet taken
        self.frames = 0  # frames submitted in all
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = None  # started by the first chunk: an engine that never plays leaves no thread

    def samples_after(self, frames: int) -> int:
        """Samples the codec has given out once `frames` frames went in: all but its look-ahead."""
        return max(0, frames * self.hop - self.codec.latency_samples)

    def submit(self, codes: mx.array) -> None:
        """codes [1, K, n], possibly not yet computed: scheduled here, decoded on the codec's thread."""
        if self._thread is None:
            self._thread = mlx_thread(self._run, "mg-codec")
            self._thread.start()
        mx.async_eval(codes)  # an array another thread reads must be scheduled on its own stream first
        self._todo.put(codes)
        self.in_flight += 1
        self.frames += codes.shape[-1]

    def take(self) -> tuple[np.ndarray, mx.array]:
        """The oldest chunk's (audio [samples, channels], codes), waiting for it; the codec's error if it failed."""
        item = self._done.get()
        self.in_flight -= 1
        if isinstance(item, BaseException):
            raise item
        return item

    def _run(self) -> None:
        decoded = 0  # frames decoded so far
        while (codes := self._todo.get()) is not None:
            # Chunks that queued up meanwhile are decoded in the same call (a call's cost is mostly fixed),
            # then handed out one by one: the codec's output does not depend on how frames are grouped.
            chunks, closing = [codes], False
            while not self._todo.empty() and not closing:
                more = self._todo.get()
                closing = more is None
                if not closing:
                    chunks.append(more)
            try:
                codes = chunks[0] if len(chunks) == 1 else mx.concatenate(chunks, axis=-1)
                # stereo interleaves the channels' codebooks: decode left and right as a batch of two
                channels = mx.concatenate([codes[:, c :: self.channels] for c in range(self.channels)])
                audio, offset = np.array(self.codec(channels).T.astype(mx.float32)), 0
                for chunk in chunks:  # each chunk's share: what the codec gives out once its frames are in
                    before = self.samples_after(decoded)
                    decoded += chunk.shape[-1]
                    size = self.samples_after(decoded) - before
                    self._done.put((audio[offset : offset + size], chunk))
                    offset += size
            except Exception as e:  # noqa: BLE001 - handed to the frame loop, which raises it
                for _ in chunks:
                    self._done.put(e)
            if closing:
                return

    def close(self) -> None:
        """Finish what was submitted and stop (the process may exit only once no thread is inside MLX)."""
        if self._thread is not None and self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()
