"""Where streaming's time goes on top of the decoder (timing only):

    python bench/probe_stream.py small,medium 400

Per size: the decoder alone (as bench.py times it), streaming end to end at one frame per codec call, and
the same with a codec that costs nothing (zeros of the right length). The streamed rows also give the host
CPU time per frame of the thread that steps the decoder and of the codec's thread, and split a frame into
dispatching its decoder pass and waiting for the codec's oldest chunk.
"""

import resource
import sys
import time
from typing import NamedTuple

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx
import numpy as np

import bench
from mg_live.engine.streaming import StreamingEngine


class NullCodec:
    """Zeros as long as the audio a call gives: what the frame loop costs without the codec's work."""

    def __init__(self, codec, hop: int):
        self.latency_samples, self.hop = codec.latency_samples, hop

    def __call__(self, codes: mx.array) -> mx.array:
        return mx.zeros((codes.shape[0], codes.shape[-1] * self.hop))


def thread_cpu_ms(thread) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident)) * 1000


class Phases(NamedTuple):
    """Where one chunk's dispatch went, in ms: all of it; the controls applied before each frame; the
    compiled passes' calls (building the lazy graph); their evaluation (encoding and launching the kernels,
    `mx.async_eval`); the stepping thread's CPU time over it (wall well above CPU: the thread waited, for the
    interpreter lock or for the device) and the part of that spent in the kernel (page faults, driver
    calls). Then counts: the page faults the thread took, the times the scheduler took the core from it,
    and whether it ran on another CPU after the chunk than before. Kernel time, faults and switches are
    Linux's per-thread counts (0 elsewhere); the kernel time is sampled at the scheduler's tick, so read it
    over many frames, not one."""

    dispatch: float
    steer: float
    graph: float
    evaluate: float
    cpu: float
    system: float
    faults: int
    preempted: int
    moved: int


COUNTS = ("faults", "preempted", "moved")  # the Phases that are counts, not ms


def _kernel_side() -> tuple[float, int, int]:
    """(seconds in the kernel, minor page faults, involuntary context switches) of the calling thread."""
    if not hasattr(resource, "RUSAGE_THREAD"):
        return 0.0, 0, 0
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_stime, usage.ru_minflt, usage.ru_nivcsw


def _cpu_now() -> int:
    """The CPU the calling thread last ran on (Linux; -1 elsewhere)."""
    try:
        with open("/proc/thread-self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return -1


class _Timed:
    """Wraps a callable, adding the seconds spent in it to `spent[0]`."""

    def __init__(self, fn, spent: list):
        self.fn, self.spent = fn, spent

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.spent[0] += time.perf_counter() - start


class _FramesMx:
    """mlx.core as the frames module sees it, its async_eval timed."""

    def __init__(self, spent: list):
        self.async_eval = _Timed(mx.async_eval, spent)

    def __getattr__(self, name):
        return getattr(mx, name)


def time_dispatch(engine: StreamingEngine) -> list[Phases]:
    """Times each chunk's dispatch (its decoder passes, built and queued): the list's one item."""
    timed_chunk, make_chunk, graph_for = [Phases(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0)], engine._make_chunk, \
        engine.generator._graph_for
    steer, graph, evaluate = [0.0], [0.0], [0.0]
    engine.steering.at_frame = _Timed(engine.steering.at_frame, steer)
    engine.generator._graph_for = lambda plan: _Timed(graph_for(plan), graph)
    frames_module = sys.modules[type(engine.generator).__module__]
    frames_module.mx = _FramesMx(evaluate)

    def timed():
        steer[0] = graph[0] = evaluate[0] = 0.0
        core, (system, faults, preempted) = _cpu_now(), _kernel_side()
        cpu, start = time.thread_time(), time.perf_counter()
        codes = make_chunk()
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        system_after, faults_after, preempted_after = _kernel_side()
        timed_chunk[0] = Phases(wall * 1000, steer[0] * 1000, graph[0] * 1000, evaluate[0] * 1000, cpu * 1000,
                                (system_after - system) * 1000, faults_after - faults, preempted_after - preempted,
                                int(_cpu_now() != core))
        return codes

    engine._make_chunk = timed
    return timed_chunk


def stream(model, frames: int, null_codec: bool) -> dict:
    split, cpu = [], {}

    def watch(engine):
        if null_codec:
            engine.codec.codec = NullCodec(engine.codec.codec, engine.hop)
        dispatch = time_dispatch(engine)
        cpu["main"] = time.thread_time()

        def after_chunk(e):
            split.append((dispatch[0].dispatch, e.metrics.frame_times.recent[-1][1]))
            cpu["codec"], cpu["frames"] = thread_cpu_ms(e.codec._thread), e.metrics.frames
            cpu["main end"] = time.thread_time()

        return after_chunk

    ms = bench.stream_ms(model, frames, 20, "float16", watch=watch)
    d, total = np.array(split).T
    return {"ms": ms, "dispatch": np.median(d), "wait": np.median(total - d),
            "main cpu": (cpu["main end"] - cpu["main"]) * 1000 / cpu["frames"], "codec cpu": cpu["codec"] / cpu["frames"]}


def main(sizes: str, frames: str = "400") -> None:
    frames = int(frames)
    print(f"device: MLX {mx.__version__} {mx.default_device()}")
    print("| size | what | ms/frame | dispatch ms | codec wait ms | CPU ms/frame: stepping thread | codec thread |\n"
          "|---|---|---|---|---|---|---|")
    for size in sizes.split(","):
        dtype = mx.float16 if mx.default_device() == mx.gpu else mx.float32
        model = bench.random_model(bench.config_for(size, False), dtype, None)
        step, host = bench.step_times(model, frames, 20)
        print(f"| {size} | decoder alone | {step:.2f} | {host:.2f} | | | |", flush=True)
        for null in (False, True):
            r = stream(model, frames, null)
            what = "streaming, codec costing nothing" if null else "streaming, 1 frame per codec call"
            print(f"| {size} | {what} | {r['ms']:.2f} | {r['dispatch']:.2f} | {r['wait']:.2f} | {r['main cpu']:.2f} "
                  f"| {r['codec cpu']:.2f} |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
