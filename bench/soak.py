"""Soak: play for minutes, paced by the wall clock, while a driver sends OSC the way a busy patch does
(10–30 messages a second: guidance, temperature, top-k, prompts, slot blends, window changes, and some
malformed packets), through mg-live's own OSC server. Prints one table row: underruns, frame times
(median, p99, worst, worst while a context was being built), re-primes, memory at start and end, RTF.

    python bench/soak.py --size tiny --minutes 3                       # a CPU
    python bench/soak.py --size medium --dtype float16 --minutes 8     # a GPU, random weights
    python bench/soak.py --size medium --minutes 3 --burst-every 20    # and bursts of prompt changes
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from typing import NamedTuple
from pathlib import Path

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx
import numpy as np
from pythonosc.udp_client import SimpleUDPClient

import bench
import host_noise
from probe_stream import COUNTS, NullCodec, Phases, thread_cpu_ms, time_dispatch
from mg_live.engine import loading, tiny
from mg_live.engine.audio import ClockSink
from mg_live.engine.loading import Loaded, Tokenizer
from mg_live.engine.prepare import mlx_thread
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import StreamingEngine
from mg_live.live.app import Controls
from mg_live.live.osc import OscServer
from mg_live.live.params import Registry

PROMPTS = ["dark techno with heavy kick", "soft jazz piano", "ambient pad with slow strings", "funk bass groove",
           "epic orchestral brass", "lofi hip hop beat", "acoustic guitar and flute", "minimal house loop"]


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def model_for(size: str, dtype: str) -> Loaded:
    if size == "tiny":
        return loading.load("tiny", dtype)
    model = bench.random_model(bench.config_for(size, False), loading.DTYPES[dtype], None)
    return Loaded(model, Tokenizer(tiny.ensure()), model.cfg, Path("."), dtype, None)


class Chunk(NamedTuple):
    """One chunk as the soak saw it (chunks sort by frame time first)."""

    ms: float  # per frame
    building: bool  # a context was being built beside the playing one
    changed: bool  # a change applied
    morphing: bool
    preparing: bool  # a change was being prepared on the preparing thread (text through T5, keys and values)
    played: float  # seconds of audio written to the sink so far (an underrun's time falls among these)
    target_ms: float  # the adaptive buffer's target
    when: float  # monotonic time it was measured
    active_mb: float  # MLX memory
    cached_mb: float
    phases: Phases  # of `ms`, dispatching the decoder's passes (the compiled calls in it, the thread's CPU)
    codec_cpu_ms: float  # the codec thread's CPU time since the chunk before
    probe_ms: float  # a fixed piece of host work timed on the frame loop's thread right after the chunk


class Driver:
    """Sends OSC to mg-live at `rate` messages a second, from a fixed random sequence."""

    def __init__(self, port: int, rate: tuple[float, float], seed: int = 0):
        self.client, self.raw = SimpleUDPClient("127.0.0.1", port), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port, self.rate, self.rng = port, rate, random.Random(seed)
        self.sent, self.stop = 0, threading.Event()
        self.log: list[tuple[float, str]] = []  # (monotonic time sent, address): what preceded a slow frame

    def message(self):
        r, choice = self.rng, self.rng.random()
        if choice < 0.35:
            return "/mg/cfg", r.uniform(1.0, 7.0)
        if choice < 0.55:
            return "/mg/temperature", r.uniform(0.7, 1.3)
        if choice < 0.62:
            return "/mg/topk", r.choice([50, 100, 250, 500])
        if choice < 0.72:
            return "/mg/prompt", r.choice(PROMPTS)
        if choice < 0.80:
            return f"/mg/slot/{r.randint(1, 3)}/prompt", r.choice(PROMPTS)
        if choice < 0.90:
            return f"/mg/slot/{r.randint(1, 3)}/weight", r.uniform(0.0, 1.0)
        if choice < 0.94:
            return "/mg/window", r.choice([4.0, 8.0, 10.0, 12.0, 16.0])
        return None  # a malformed packet

    def run(self) -> None:
        while self.rate[1] > 0 and not self.stop.is_set():
            message = self.message()
            if message is None:
                self.raw.sendto(bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 40))),
                                ("127.0.0.1", self.port))
            else:
                self.client.send_message(*message)
            self.log.append((time.monotonic(), "malformed" if message is None else message[0]))
            self.sent += 1
            self.stop.wait(1.0 / self.rng.uniform(*self.rate))

    def bursts(self, every: float) -> None:
        """Every `every` seconds, four prompt changes 0.1 s apart (a performer flicking through presets;
        one such burst once outran the buffer)."""
        rng = random.Random(1)
        while not self.stop.wait(every):
            for _ in range(4):
                self.client.send_message("/mg/prompt", rng.choice(PROMPTS))
                self.log.append((time.monotonic(), "/mg/prompt (burst)"))
                self.sent += 1
                time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", help="tiny, or small/medium/large (random weights)")
    parser.add_argument("--dtype", default=None, help="default: float16 on a GPU, float32 on a CPU")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--buffer-ms", type=float, default=100.0, help="the adaptive buffer's ceiling")
    parser.add_argument("--rate", default="10,30", help="OSC messages per second: low,high (0,0: none, to see what "
                                                         "re-primes alone cost)")
    parser.add_argument("--fixed-buffer", action="store_true", help="the buffer stays at its ceiling (not adaptive)")
    parser.add_argument("--burst-every", type=float, default=0.0,
                        help="seconds between bursts of four prompt changes 0.1 s apart (0: none)")
    parser.add_argument("--no-brace", action="store_true",
                        help="the buffer does not brace for a new prompt (to see what bracing does)")
    parser.add_argument("--save", help="where to keep each frame's (time.monotonic(), ms, building a context), a .npy "
                                       "file (host_noise.py --compare reads it)")
    parser.add_argument("--codec", default="encodec", choices=["encodec", "none"],
                        help="none: a codec that costs nothing, to see what the codec's thread costs the frame loop")
    args = parser.parse_args()
    started = time.monotonic()
    dtype = args.dtype or ("float16" if mx.default_device() == mx.gpu else "float32")
    loaded = model_for(args.size, dtype)
    rate = loaded.config.sample_rate
    sink = ClockSink(rate, loaded.config.audio_channels, args.buffer_ms)
    engine = StreamingEngine(loaded, PROMPTS[0], SamplingParams(), sink, morph_seconds=2.0,
                             adaptive=not args.fixed_buffer)
    if args.codec == "none":
        engine.codec.codec = NullCodec(engine.codec.codec, engine.hop)
    if args.no_brace:
        engine.buffer.brace = lambda: None
    registry = Registry()
    controls = Controls(engine, registry, Path("."))
    osc = OscServer(registry, lambda name, value: controls(name, value, "osc"), "127.0.0.1", 0).start()
    driver = Driver(osc.address[1], tuple(float(x) for x in args.rate.split(",")))
    chunks: list[Chunk] = []
    dispatch, cpu = time_dispatch(engine), {}
    rss_start = rss_mb()
    applied = [0]
    # Is the frame loop's core slow at the moment of a slow frame? host_noise.py's control runs in another
    # process (another core); this probe runs the same fixed work on the frame loop's own thread, ~0.1 ms.
    probe_loops = host_noise.calibrate(0.1)

    collections = []  # (start, ms, generation) of Python's garbage collections

    def on_gc(phase, info):
        if phase == "start":
            collections.append([time.monotonic(), 0.0, info["generation"]])
        elif collections:
            collections[-1][1] = (time.monotonic() - collections[-1][0]) * 1e3

    gc.callbacks.append(on_gc)

    def on_chunk(e):
        if e.sink.ring.waiting:  # priming (the first frame warms up the compiled passes): nothing plays yet
            return
        when, ms = e.metrics.frame_times.recent[-1]
        codec_cpu, probe = thread_cpu_ms(e.codec._thread), host_noise.timed(probe_loops)
        chunks.append(Chunk(ms, len(e.generator.contexts) > 1, e.steering.applied != applied[0], e.conditioner.morphing,
                            bool(e.steering.pending), e.metrics.samples / rate, e.sink.target / rate * 1000, when,
                            mx.get_active_memory() / 2**20, mx.get_cache_memory() / 2**20, dispatch[0],
                            codec_cpu - cpu.get("codec", 0.0), probe))
        applied[0] = e.steering.applied
        cpu["engine"], cpu["codec"] = time.thread_time() * 1000, codec_cpu

    # A time limit (timeout's SIGTERM) ends the run early but still prints what was measured.
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    print(f"ready after {time.monotonic() - started:.0f} s of set-up", file=sys.stderr, flush=True)
    engine_thread = mlx_thread(lambda: engine.run(args.minutes * 60, on_chunk=on_chunk), "mg-engine", daemon=False)
    engine_thread.start()
    driver_thread = threading.Thread(target=driver.run, daemon=True)
    driver_thread.start()
    if args.burst_every:
        threading.Thread(target=driver.bursts, args=(args.burst_every,), daemon=True).start()
    engine_thread.join()
    driver.stop.set()
    driver_thread.join()
    osc.close()
    rss_end = rss_mb()
    if args.save:
        np.save(args.save, np.array([(c.when, c.ms, c.building) for c in chunks]))
    times = np.array([c.ms for c in chunks])
    building = np.array([c.ms for c in chunks if c.building])
    quiet = np.array([c.ms for c in chunks  # a re-prime alone: nothing else happening
                      if c.building and not (c.changed or c.morphing or c.preparing)])
    m = engine.metrics
    print(f"device: MLX {mx.__version__} {mx.default_device()}; {args.size} {dtype}, {m.samples / rate / 60:.1f} min played, "
          f"buffer ceiling {args.buffer_ms:g} ms ({engine.buffer.near_misses} near misses), {driver.sent} OSC messages "
          f"({', '.join(f'{k} {v}' for k, v in registry.errors.items()) or 'none refused'})", file=sys.stderr)
    print("| model | dtype | minutes | OSC msgs | underruns | median frame ms | p99 frame ms | worst frame ms "
          "| worst while building a context ms | re-primes | RSS start → end MB | RTF |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    minutes = m.samples / rate / 60
    print(f"| {args.size} | {dtype} | {minutes:.1f} | {driver.sent} | {sink.underruns} | {np.median(times):.2f} "
          f"| {np.percentile(times, 99):.2f} | {times.max():.2f} | {building.max() if len(building) else 0:.2f} "
          f"| {m.reprimes} | {rss_start:.0f} → {rss_end:.0f} | {m.rtf(rate):.2f} |")
    playing = np.array([c.ms for c in chunks if not c.building])  # one context alone: what a re-prime is judged against
    spread = lambda ms: f"{len(ms)}, median {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, p99.9 {np.percentile(ms, 99.9):.2f} ms"  # noqa: E731
    if len(building):
        print(f"frames while building a context: {spread(building)}, worst {building.max():.2f} ms "
              f"({building.max() / np.median(times):.1f}× the median frame); with no change applied, morphing or being prepared at the same time: "
              f"{f'worst {quiet.max():.2f} ms ({quiet.max() / np.median(times):.1f}×)' if len(quiet) else 'none'}")
    if len(playing):
        print(f"frames with one context: {spread(playing)}, worst {playing.max():.2f} ms")
    print(f"host CPU per frame: engine thread {cpu['engine'] / m.frames:.2f} ms, codec thread "
          f"{cpu['codec'] / m.frames:.2f} ms")
    for name, picked in (("one context", [c for c in chunks if not c.building]),
                         ("building", [c for c in chunks if c.building]),
                         ("morphing", [c for c in chunks if c.morphing]),
                         ("not morphing", [c for c in chunks if not c.morphing])):
        if picked:
            p = {f: np.array([getattr(c.phases, f) for c in picked]) for f in Phases._fields}
            print(f"dispatching a frame's passes, {name}: " + "; ".join(
                f"{f} median {np.median(v):.2f} / p99 {np.percentile(v, 99):.2f}{'' if f in COUNTS else ' ms'}"
                for f, v in p.items()))
    probes = np.array([c.probe_ms for c in chunks])
    probe_median, slow = np.median(probes), times > np.percentile(times, 99)
    print(f"the frame loop's probe ({probe_loops} loops of host_noise.work right after each frame): median "
          f"{probe_median:.3f} ms; after the frames above p99, median {np.median(probes[slow]) / probe_median:.2f}× "
          f"and p90 {np.percentile(probes[slow], 90) / probe_median:.2f}× its median")
    print("slowest frames: ms (dispatching: wall / controls / compiled calls / evaluating them / the thread's CPU, "
          "of it in the kernel; page faults, preemptions, moved to another CPU; the codec thread's CPU; the probe "
          "after it against its median) at s, B building a context, C a change applied, M morphing, P preparing a change:")
    print("  " + ", ".join(f"{c.ms:.1f} ({c.phases.dispatch:.1f}/{c.phases.steer:.1f}/{c.phases.graph:.1f}/"
                          f"{c.phases.evaluate:.1f}/{c.phases.cpu:.1f}, {c.phases.system:.1f}; {c.phases.faults}, "
                          f"{c.phases.preempted}, {c.phases.moved}; {c.codec_cpu_ms:.1f}; "
                          f"{c.probe_ms / probe_median:.1f}×)@{c.played:.1f}"
                          f"{'B' if c.building else ''}{'C' if c.changed else ''}{'M' if c.morphing else ''}"
                          f"{'P' if c.preparing else ''}"
                          for c in sorted(chunks, reverse=True)[:16]))
    for c in sorted(chunks, reverse=True)[:4]:  # what came just before the slowest frames
        ms, when = c.ms, c.when
        sent = Counter(a for t, a in driver.log if when - ms / 1e3 - 0.3 <= t <= when)
        gcs = [f"gen{g} {d:.0f} ms" for t, d, g in collections if when - ms / 1e3 - 0.05 <= t <= when]
        print(f"  {ms:.0f} ms frame at {c.played:.1f} s: OSC in the 0.3 s before: {dict(sent)}; garbage collections: "
              f"{gcs or 'none'}; MLX memory active {c.active_mb:.0f} MB, cached {c.cached_mb:.0f} MB")
    print("underruns at (s), with the buffer's target then:", ", ".join(
        f"{t:.1f} ({next((c.target_ms for c in chunks if c.played >= t), 0):.0f} ms)" for _, t in m.underrun_events[:20]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
