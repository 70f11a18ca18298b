"""Work that controls need before they can apply, done off the frame path.

A new prompt goes through T5 and the cross-attention projections, a melody is read from a file and turned
into chroma, a melody model's next decoder context needs its prefix: none of that may make a frame late.
The `Preparer` runs such jobs in order on its own thread (MLX gives each thread its own stream; every
result is evaluated before it is handed over) and the engine takes each result at a frame boundary once it
is ready. Offline rendering and replay prepare inline instead, on the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import threading

import mlx.core as mx

log = logging.getLogger("mg-live")


def mlx_thread(target, name: str, daemon: bool = True) -> threading.Thread:
    """A thread that uses MLX. MLX gives each thread its own streams; they must go when the thread ends
    (left behind, they abort the process at exit with "terminate called without an active exception")."""

    def run() -> None:
        try:
            target()
        finally:
            mx.clear_streams()

    return threading.Thread(target=run, name=name, daemon=daemon)


class Job:
    def __init__(self, work):
        self.work = work
        self.done = threading.Event()
        self.result = self.error = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except Exception as e:  # noqa: BLE001 - the engine reports it as a rejected change
            self.error = e
        self.done.set()

    def ready(self) -> bool:
        return self.done.is_set()

    def get(self):
        """The result (waiting for it if need be); a failed job raises its error here."""
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class Preparer:
    def __init__(self, inline: bool = False):
        self.inline = inline
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = None
        if not inline:
            self._thread = mlx_thread(self._run, "mg-prepare")
            self._thread.start()

    def submit(self, work) -> Job:
        job = Job(work)
        if self.inline:
            job.run()
        else:
            self._jobs.put(job)
        return job

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job.run()

    def close(self) -> None:
        """Finish the job at hand and stop (the process may exit only once no thread is inside MLX)."""
        if self._thread is not None and self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
