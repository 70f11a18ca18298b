"""Where the fused layer kernel's time goes: the compiled fp16 step with parts of the kernel removed
(timing only; the removed variants compute wrong numbers on purpose). One variant per process, since
MLX caches a custom kernel by name.

    python bench/probe_fused.py medium            # all variants, one table
"""

import subprocess
import sys

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx

import bench
from mg_live.engine import cuda_decoder

EDITS = {
    "full": [],
    "no barriers": [("grid_barrier(bar);", "__syncthreads();")],
    "no weight loads": [("return __ldg(", "return make_uint4(0, 0, 0, 0); return __ldg(")],
    "no attention": [("  attend<", "  if (0) attend<")],
    "no barriers, no weight loads": [("grid_barrier(bar);", "__syncthreads();"),
                                     ("return __ldg(", "return make_uint4(0, 0, 0, 0); return __ldg(")],
}


def main() -> int:
    size = sys.argv[1] if len(sys.argv) > 1 else "medium"
    if len(sys.argv) > 2:
        for old, new in EDITS[sys.argv[2]]:
            assert old in cuda_decoder.SOURCE + cuda_decoder.HEADER, old
            cuda_decoder.SOURCE = cuda_decoder.SOURCE.replace(old, new)
            cuda_decoder.HEADER = cuda_decoder.HEADER.replace(old, new)
        model = bench.random_model(bench.config_for(size, False), mx.float16, None)
        wall, host = bench.step_times(model, 200, 20)
        print(f"{wall:.2f}" + (f" (host dispatch {host:.2f})" if sys.argv[2] == "full" else ""))
        return 0
    print(f"| {size} fp16 fused, {cuda_decoder.step_blocks()} blocks | ms/step |\n|---|---|")
    for name in EDITS:
        out = subprocess.run([sys.executable, __file__, size, name], capture_output=True, text=True)
        result = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else f"failed: {out.stderr[-300:]}"
        print(f"| {name} | {result} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
