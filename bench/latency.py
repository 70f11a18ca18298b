"""Control-to-ear latency: time from a change's arrival to the first sample played that was generated
entirely with it (the delay pattern makes that max_delay frames after the change), wall-clock paced.

    python bench/latency.py                       # tiny, default buffer, 20 s
    python bench/latency.py --model facebook/musicgen-small --buffer-ms 100
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import _repo  # noqa: F401  (mg_live from this checkout)

import numpy as np

from mg_live.engine.audio import ClockSink
from mg_live.engine.generation import SamplingParams
from mg_live.engine.loading import load
from mg_live.engine.streaming import StreamingEngine
from mg_live.live.app import DEFAULT_BUFFER_MS


def measure(loaded, buffer_ms: float, seconds: float, param: str, values: list) -> tuple[list, int]:
    rate, channels = loaded.config.sample_rate, loaded.config.audio_channels
    sink = ClockSink(rate, channels, buffer_ms)
    engine = StreamingEngine(loaded, "warm analog synth pad", SamplingParams(), sink)

    def steer():
        time.sleep(2.0)
        i = 0
        while not engine.stop_event.is_set():
            engine.submit(param, values[i % len(values)], "bench")
            i += 1
            time.sleep(0.7)

    threading.Thread(target=steer, daemon=True).start()
    engine.run(seconds)
    return list(engine.metrics.latencies_ms), sink.underruns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--buffer-ms", type=float, default=DEFAULT_BUFFER_MS)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    loaded = load(args.model, args.dtype)
    print("| change | buffer | p50 ms | p95 ms | n | underruns |\n|---|---|---|---|---|---|")
    for param, values in (("cfg", [1.5, 6.0]), ("prompt", ["dark techno with heavy kick", "soft jazz piano"])):
        latencies, underruns = measure(loaded, args.buffer_ms, args.seconds, param, values)
        p50, p95 = np.percentile(latencies, [50, 95])
        print(f"| {param} | {args.buffer_ms:.0f} ms | {p50:.0f} | {p95:.0f} | {len(latencies)} | {underruns} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
