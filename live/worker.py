"""The background threads of the control surfaces (OSC in, telemetry out, MIDI in), supervised: a surface
whose loop dies of an unexpected error is counted, logged and started again, so that no fault silences
OSC, MIDI or telemetry for the rest of a show."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("mg-live")


class Worker:
    """Runs `self._run` on a daemon thread; `_run` returns once `self._stop` is set. An exception out of
    `_run` restarts it (after `restart_s`), counted in `restarts` and reported through `on_fault`."""

    thread_name = "mg-live-worker"
    restart_s = 0.2

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=self.thread_name, daemon=True)
        self.restarts = 0
        self.on_fault = None  # called with a one-line description of each fault

    def _run(self) -> None:
        raise NotImplementedError

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except Exception as e:  # noqa: BLE001 - whatever it was, the surface must live on
                self.restarts += 1
                message = f"{self.thread_name} failed ({type(e).__name__}: {e}); restarted"
                log.warning(message) if self.restarts == 1 else log.debug(message)
                if self.on_fault:
                    self.on_fault(message)
                self._stop.wait(self.restart_s)

    def start(self):
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
