"""Compile the fused decoder layer's CUDA source without a GPU, to catch errors and see register use and
spills before spending device time. The source is wrapped the way `mx.fast.cuda_kernel` wraps it (a
plain CUDA-header stand-in for MLX's own device header) and compiled for sm_90 by NVRTC, or by nvcc when
the NVRTC wheels are not installed.

    python bench/compile_cuda.py        # nvcc on the PATH, or: pip install nvidia-cuda-nvrtc-cu12
                                        #   nvidia-cuda-runtime-cu12 nvidia-cuda-cccl-cu12
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _repo  # noqa: F401  (mg_live from this checkout)

from mg_live.engine import cuda_decoder

# (T, B, R, H, HD, F, MAX_LEN, NSPLIT, CROSS, QBITS, L): large and medium with guidance, one context (B = 2
# rows) and one catching up beside it (2 + 2·k rows), medium with 8-bit weights; a tiny melody model
# without guidance
CONFIGS = [("__half", 2, 4, 32, 64, 8192, 1664, 2, True, 0, 48), ("__half", 6, 4, 32, 64, 8192, 1664, 1, True, 0, 48),
           ("float", 2, 4, 24, 64, 6144, 1664, 2, True, 0, 48), ("__half", 8, 4, 24, 64, 6144, 1664, 1, True, 0, 48),
           ("__half", 2, 4, 24, 64, 6144, 1664, 2, True, 8, 48),
           ("__nv_bfloat16", 1, 2, 4, 16, 256, 100, 33, False, 0, 2)]
NAMES = ("B", "R", "H", "HD", "F", "MAX_LEN", "NSPLIT")
EXTRA = {"cross": ["const Shape cross_shape"], "cross_mask": ["const int cross_mask_ndim"]}  # as MLX adds them


def nvidia_root() -> Path:
    import nvidia  # the namespace package the NVIDIA wheels install into

    return Path(next(iter(nvidia.__path__)))


def source(dtype: str, *values, blocks: int = 132) -> str:
    *ints, cross, qbits, layers = values
    types = {"x": "float", "rows": "int32_t", "barrier": "uint32_t", "cross_mask": "bool"}
    types |= {f"w_{name}": "uint32_t" for name in cuda_decoder.LINEARS if qbits}  # packed quantized weights
    params = [p for n in cuda_decoder.input_names(layers) for p in [f"const {types.get(n, dtype)}* {n}"]
              + EXTRA.get(n, [])]
    params += [f"float* {n}" for n in cuda_decoder.OUTPUTS]
    constants = "".join(f"  constexpr int {n} = {v};\n" for n, v in
                        zip(NAMES + ("NB", "QBITS", "L"), (*ints, blocks, qbits, layers)))
    return ("#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n#include <cuda/std/array>\n#include <cuda/std/cstdint>\n"
            "using cuda::std::int32_t; using cuda::std::uint32_t; using Shape = cuda::std::array<int32_t, 8>;\n"
            + cuda_decoder.HEADER
            + "__global__ void musicgen_step(" + ", ".join(params) + ") {\n"
            + f"  using T = {dtype};\n{constants}  constexpr bool CROSS = {str(cross).lower()};\n"
            + cuda_decoder.kernel_source(layers) + "}\n")


def compile_source(nvrtc, root: Path, text: str) -> tuple[int, str]:
    program = ctypes.c_void_p()
    if nvrtc.nvrtcCreateProgram(ctypes.byref(program), text.encode(), b"layer.cu", 0, None, None):
        return 1, "nvrtcCreateProgram failed"
    options = [b"--gpu-architecture=sm_90", b"-std=c++17", b"--ptxas-options=-v",
               f"-I{root / 'cuda_runtime' / 'include'}".encode(), f"-I{root / 'cuda_cccl' / 'include'}".encode()]
    status = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    return status, log.value.decode()


def compile_with_nvcc(text: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layer.cu"
        path.write_text(text)
        result = subprocess.run(["nvcc", "-arch=sm_90", "-std=c++17", "--ptxas-options=-v", "-c", str(path), "-o",
                                 str(Path(folder) / "layer.o")], capture_output=True, text=True)
        return result.returncode, result.stdout + result.stderr


def main() -> int:
    try:
        root = nvidia_root()
        nvrtc = ctypes.CDLL(str(next((root / "cuda_nvrtc" / "lib").glob("libnvrtc.so*"))))
        compile_one = lambda text: compile_source(nvrtc, root, text)
    except (ImportError, StopIteration, OSError):
        if not shutil.which("nvcc"):
            print("neither NVRTC nor nvcc found: pip install nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12 "
                  "nvidia-cuda-cccl-cu12, or put the CUDA toolkit's bin on the PATH")
            return 2
        compile_one = compile_with_nvcc
    failed = 0
    for config in CONFIGS:
        status, log = compile_one(source(*config))
        summary = [line.split("ptxas", 1)[-1].lstrip(" info.:") for line in log.splitlines()
                   if "registers" in line or "spill" in line]
        print(f"{config}: {'ok' if status == 0 else 'FAILED'} {'; '.join(summary)}")
        if status:
            print(log)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
