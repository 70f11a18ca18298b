"""Control-to-ear latency, paced by the wall clock with the adaptive buffer on: from a change's arrival to
the first sample played of the first frame it touched ("onset": its finest codebooks, sampled at the next
step) and to the first sample of the first frame made entirely after it ("full": the delay pattern puts
that max_delay frames later). Changes start once the buffer has settled.

    python bench/latency.py                                     # tiny (this CPU)
    python bench/latency.py --size medium --buffer-ms 100       # random weights at a hub size, on a GPU
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx
import numpy as np

from mg_live.engine.audio import ClockSink
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import StreamingEngine
from soak import model_for

CHANGES = {"cfg": [1.5, 6.0], "temperature": [0.8, 1.2],
           "prompt": ["dark techno with heavy kick", "soft jazz piano"]}


def measure(loaded, buffer_ms: float, seconds: float, settle: float, param: str, values: list) -> dict:
    rate, channels = loaded.config.sample_rate, loaded.config.audio_channels
    sink = ClockSink(rate, channels, buffer_ms)
    engine = StreamingEngine(loaded, "warm analog synth pad", SamplingParams(), sink, morph_seconds=0.0)

    def steer():
        time.sleep(settle)
        i = 0
        while not engine.stop_event.is_set():
            engine.submit(param, values[i % len(values)], "bench")
            i += 1
            time.sleep(0.7)

    steering = threading.Thread(target=steer, daemon=True)
    steering.start()
    engine.run(seconds)
    engine.stop()
    steering.join()
    m = engine.metrics
    return {"full": list(m.latencies_ms), "onset": list(m.onsets_ms), "underruns": sink.underruns,
            "buffer_ms": sink.target / rate * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--buffer-ms", type=float, default=100.0, help="the adaptive buffer's ceiling")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--settle", type=float, default=15, help="seconds before the first change")
    parser.add_argument("--changes", default="cfg,temperature,prompt")
    args = parser.parse_args()
    dtype = args.dtype or ("float16" if mx.default_device() == mx.gpu else "float32")
    loaded = model_for(args.size, dtype)
    print(f"device: MLX {mx.__version__} {mx.default_device()}; {args.size} {dtype}", file=sys.stderr)
    print("| model | change | buffer ceiling → settled | onset p50 | onset p95 | full p50 | full p95 | n | underruns |")
    print("|---|---|---|---|---|---|---|---|---|")
    for param in args.changes.split(","):
        r = measure(loaded, args.buffer_ms, args.seconds, args.settle, param, CHANGES[param])
        onset, full = np.percentile(r["onset"], [50, 95]), np.percentile(r["full"], [50, 95])
        print(f"| {args.size} | {param} | {args.buffer_ms:.0f} → {r['buffer_ms']:.0f} ms | {onset[0]:.0f} | "
              f"{onset[1]:.0f} | {full[0]:.0f} | {full[1]:.0f} | {len(r['full'])} | {r['underruns']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
