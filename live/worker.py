"""The background threads of the control surfaces (OSC in, telemetry out, MIDI in)."""

from __future__ import annotations

import threading


class Worker:
    """Runs `self._run` on a daemon thread; `_run` returns once `self._stop` is set."""

    thread_name = "mg-live-worker"

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
