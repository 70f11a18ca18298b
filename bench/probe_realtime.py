"""Probes for real time on a GPU (timing only):

    python bench/probe_realtime.py spare small,medium 0,4,12   # streaming with SMs left to the codec
    python bench/probe_realtime.py catchup medium 2,3,4,8,16   # a frame's cost while a context catches up
                                                               # k positions per pass (a new prefix asked for)
"""

import sys
import time

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx
import numpy as np

import bench
from mg_live.engine import cuda_decoder
from mg_live.engine.conditioning import BUCKET, cross_inputs
from mg_live.engine.frames import FrameGenerator
from mg_live.engine.sampling import SamplingParams


def spare(sizes: str, spares: str) -> None:
    sms = cuda_decoder.device_limits()[0]
    print("| size | SMs left to others | step ms | streaming ms/frame | + % |\n|---|---|---|---|---|")
    for size in sizes.split(","):
        model = bench.random_model(bench.config_for(size, False), mx.float16, None)
        for k in (int(s) for s in spares.split(",")):
            cuda_decoder.step_blocks = lambda k=k: sms - k
            cuda_decoder._constants.cache_clear()
            step = bench.our_step_ms(model, 200, 20)
            stream = bench.stream_ms(model, 200, 20, "float16")
            print(f"| {size} | {k} | {step:.2f} | {stream:.2f} | {100 * (stream / step - 1):+.0f} |", flush=True)


def catchup(size: str, values: str) -> None:
    model = bench.random_model(bench.config_for(size, False), mx.float16, None)
    D = model.cfg.decoder.hidden_size
    condition = (mx.random.normal((1, 16, D)) * 0.1, mx.ones((1, 16), mx.int32))
    cross, cross_mask = cross_inputs(model, condition, None, True, BUCKET)
    prompt = np.random.default_rng(0).integers(0, 2048, (4, 900))
    print("| catch-up | plain ms | building ms (median / max) | both sampling ms | steps building |\n|---|---|---|---|---|")
    for c in (int(v) for v in values.split(",")):
        gen = FrameGenerator(model, SamplingParams(), cross=cross, cross_mask=cross_mask, prompt=prompt,
                             window_frames=500, catch_up=c)
        gen.restart(new_prefix=True)  # unforeseen: built at the generator's catch-up (a re-prime keeps pace)
        kinds = {"plain": [], "building": [], "both": []}
        for _ in range(660):
            building = len(gen.contexts) > 1 and not gen.contexts[1].sampling
            both = len(gen.contexts) > 1 and gen.contexts[1].sampling
            start = time.perf_counter()
            mx.eval(gen.next_frames(1))
            ms = (time.perf_counter() - start) * 1000
            kinds["building" if building else "both" if both else "plain"].append(ms)
        p, b, s = (np.array(kinds[k][2:]) for k in ("plain", "building", "both"))
        print(f"| {c} | {np.median(p):.2f} | {np.median(b):.2f} / {b.max():.2f} | "
              f"{np.median(s) if len(s) else 0:.2f} | {len(kinds['building'])} |", flush=True)


if __name__ == "__main__":
    {"spare": spare, "catchup": catchup}[sys.argv[1]](*sys.argv[2:])
