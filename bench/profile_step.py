"""Where a decoder step built from MLX operations spends its time (the portable path: Metal, the CPU,
and CUDA with MG_FUSED_LAYERS=0; bench/probe_fused.py profiles the fused CUDA layers): the step with
parts removed (timing only: the numbers of the ablated variants are wrong on purpose), and the primitive
count of one step's graph.

    python bench/profile_step.py --size small
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path


import mlx.core as mx
import mlx.nn as nn

import _repo  # noqa: F401  (mg_live from this checkout)
import bench
from mg_live.engine import cuda_decoder

cuda_decoder.ENABLED = False  # the MLX-operations step, on every backend

ABLATIONS = {
    "baseline": lambda: None,
    "no cross mask": lambda: _patch_sdpa(drop="cross"),
    "no masks": lambda: _patch_sdpa(drop="all"),
    "no attention": lambda: _patch_sdpa(drop="attention"),
    "no layer norms": lambda: setattr(nn.LayerNorm, "__call__", lambda self, x: x),
    "no KV write": lambda: setattr(mx, "slice_update", lambda a, u, s, axes: a),
    "unfused attention": lambda: _patch_sdpa(drop="fused"),
}


def _patch_sdpa(drop: str):
    original = mx.fast.scaled_dot_product_attention

    def sdpa(q, k, v, *, scale, mask=None):
        if drop == "attention":
            return q
        if drop == "fused":  # matmul, softmax, matmul: fewer host-side special cases than the fused op
            scores = (q * scale) @ k.swapaxes(-1, -2)
            if mask is not None:
                scores = scores + mask
            return mx.softmax(scores, axis=-1, precise=True) @ v
        if drop == "all" or (drop == "cross" and k.shape[2] != bench.MAX_POSITIONS):
            mask = None
        return original(q, k, v, scale=scale, mask=mask)

    mx.fast.scaled_dot_product_attention = sdpa


def count_primitives(model) -> Counter:
    """The primitives in one step's graph (one context playing, guided, uncompiled): what MLX dispatches."""
    from mg_live.engine.conditioning import cross_inputs
    from mg_live.engine.frames import FrameGenerator
    from mg_live.engine.sampling import SamplingParams

    D = model.cfg.decoder.hidden_size
    condition = (mx.zeros((1, bench.TEXT_TOKENS, D)), mx.ones((1, bench.TEXT_TOKENS), mx.int32))
    cross, cross_mask = cross_inputs(model, condition, None, True)
    gen = FrameGenerator(model, SamplingParams(), compiled=False, cross=cross, cross_mask=cross_mask,
                         horizon=bench.MAX_POSITIONS)
    live, path = gen.contexts[0], "/tmp/step.dot"
    original = gen._graph

    def capture(plan, *args):  # the graph as built, before anything evaluates it
        tokens, keys, cache, ring = out = original(plan, *args)
        mx.export_to_dot(path, *tokens, *keys, *cache, ring)
        return out

    gen._graph = capture
    gen._run([(live, 1, 1)], compiled=False)
    import re

    return Counter(re.findall(r'label ="([A-Za-z]+)', Path(path).read_text()))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--ablation", help="run one ablation (used by the driver)")
    args = parser.parse_args()
    raw = bench.config_for(args.size, False)
    if args.ablation:
        ABLATIONS[args.ablation]()
        model = bench.random_model(raw, mx.float16, None)
        print(f"{bench.our_step_ms(model, args.steps, 20):.2f}")
        return 0
    model = bench.random_model(raw, mx.float16, None)
    counts = count_primitives(model)
    print(f"primitives in one uncompiled step ({args.size}): {sum(counts.values())}:",
          ", ".join(f"{k} {v}" for k, v in counts.most_common(12)))
    runs = [(name, {}) for name in ABLATIONS]
    runs += [(f"baseline, {k}={v}", {k: v}) for k, v in (("MLX_USE_CUDA_GRAPHS", "0"), ("MLX_MAX_OPS_PER_BUFFER", "10"),
                                                        ("MLX_MAX_OPS_PER_BUFFER", "100"), ("MLX_MAX_OPS_PER_BUFFER", "1000"))]
    print(f"\n| {args.size} fp16 variant | ms/step |\n|---|---|")
    for name, env in runs:
        ablation = name.split(",")[0]
        out = subprocess.run([sys.executable, __file__, "--size", args.size, "--steps", str(args.steps),
                              "--ablation", ablation], capture_output=True, text=True, env=os.environ | env)
        result = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else f"failed: {out.stderr.strip()[-200:]}"
        print(f"| {name} | {result} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
