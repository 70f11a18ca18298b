"""Decoder speed: our compiled static-cache step in each dtype/quantization, and — when PyTorch with CUDA
is present — the PyTorch anchors of the same architecture, all in one run on one device.

    python bench/bench.py                      # sizes: small,medium,large on a GPU, tiny on a CPU
    python bench/bench.py --sizes small --steps 300

Random weights, CFG batch 2, top-k 250 sampling, a 1536-position cache. ms/step is wall time per decoder
step with one step in flight ahead of the one being read back, as generation runs. RTF = audio seconds
per wall second for the decoder alone (one step = one 20 ms frame); > 1 is faster than real time.

The floor: a step reads every weight it multiplies once (the layers' linears but the cross-attention's
keys/values, cached per prompt; the codebook heads), so it cannot beat those bytes over this device's
bandwidth, measured here as a plain copy. "of limit" is that floor over the measured time.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import _repo  # noqa: F401  (mg_live from this checkout)

import mlx.core as mx
from mlx.utils import tree_flatten, tree_unflatten

from mg_live.engine import cuda_decoder, tiny
from mg_live.engine.audio import UnpacedSink
from mg_live.engine.config import from_dict, hub_config
from mg_live.engine.conditioning import BUCKET, cross_inputs
from mg_live.engine.frames import FrameGenerator
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.loading import Loaded, Tokenizer, quantize_decoder, set_dtype
from mg_live.engine.musicgen import MusicGen
from mg_live.engine.streaming import StreamingEngine

MAX_POSITIONS = 1500  # one context: no re-prime within the steps timed
TEXT_TOKENS = 16


def config_for(size: str, stereo: bool) -> dict:
    return tiny.config(stereo) if size == "tiny" else hub_config(size, stereo)


def random_model(raw: dict, dtype, bits: int | None) -> MusicGen:
    model = MusicGen(from_dict(raw))
    params = []
    for name, p in tree_flatten(model.decoder.parameters()):
        value = mx.ones(p.shape) if name.endswith("norm.weight") else mx.random.normal(p.shape) * 0.02
        params.append((name, value.astype(dtype)))
    model.decoder.update(tree_unflatten(params))
    set_dtype(model, dtype)
    if bits:
        quantize_decoder(model, bits)
    mx.eval(model.decoder.parameters())
    return model


def copy_bandwidth() -> float:
    """Bytes per second this device reads plus writes in an elementwise copy, the best of a few."""
    x = mx.zeros(((256 if mx.default_device() == mx.gpu else 32) * 2**20,), mx.float32)
    mx.eval(x)
    best = float("inf")
    for _ in range(6):
        start = time.perf_counter()
        mx.eval(x + 1)
        best = min(best, time.perf_counter() - start)
    return 2 * x.nbytes / best


def bytes_per_step(model: MusicGen) -> int:
    """What one decoder step must read: every parameter but the token embeddings (a few rows gathered) and
    the cross-attention's key/value projections (applied once per prompt)."""
    return sum(p.nbytes for name, p in tree_flatten(model.decoder.parameters())
               if not name.startswith("embed") and "encoder_attn.kv_proj" not in name)


def step_times(model: MusicGen, steps: int, warmup: int, compiled: bool = True) -> tuple[float, float]:
    """(wall ms per step, host ms per step spent building and dispatching it, the device waits left out):
    the frame generator's steps with one context playing (no re-prime within the steps timed)."""
    D = model.cfg.decoder.hidden_size
    condition = (mx.random.normal((1, TEXT_TOKENS, D)) * 0.1, mx.ones((1, TEXT_TOKENS), mx.int32))
    cross, cross_mask = cross_inputs(model, condition, None, True, BUCKET)
    generator = FrameGenerator(model, SamplingParams(), compiled=compiled, cross=cross, cross_mask=cross_mask,
                               horizon=MAX_POSITIONS)
    previous, start, host = None, 0.0, 0.0
    for t in range(warmup + steps):
        if t == warmup:
            mx.eval(generator.ring.tokens)
            start, host = time.perf_counter(), 0.0
        dispatch = time.perf_counter()
        codes = generator.next_frames(1)
        host += time.perf_counter() - dispatch
        if previous is not None:
            mx.eval(previous)  # one step in flight ahead of the one read back, as generation runs
        previous = codes
    mx.eval(previous)
    return (time.perf_counter() - start) / steps * 1000, host / steps * 1000


def our_step_ms(model: MusicGen, steps: int, warmup: int, compiled: bool = True) -> float:
    return step_times(model, steps, warmup, compiled)[0]


def stream_ms(model: MusicGen, frames: int, warmup: int, dtype: str, chunk_frames: int = 1, watch=None) -> float:
    """End to end through the streaming engine (unpaced sink): ms per 20 ms frame of audio, in the steady
    state (from the first chunk made to the last: a run's start-up and its drain are left out). `watch`:
    called with the timed engine before it runs; what it returns is called after each chunk."""
    tokenizer = Tokenizer(tiny.ensure())  # any tokenizer will do: its ids are valid T5 ids
    loaded = Loaded(model, tokenizer, model.cfg, Path("."), dtype, None)
    sink = UnpacedSink(model.cfg.sample_rate, model.cfg.audio_channels, 100)
    make = lambda: StreamingEngine(loaded, "bench", SamplingParams(), sink, horizon=MAX_POSITIONS,
                                   chunk_frames=chunk_frames)
    engine = make()
    engine.run((warmup * 2) / model.cfg.frames_per_second)  # warm: compile and the first contexts
    engine = make()
    after_chunk, marks = watch(engine) if watch else None, []

    def on_chunk(e):
        marks.append((time.perf_counter(), e.metrics.frames))
        if after_chunk:
            after_chunk(e)

    engine.run(frames / model.cfg.frames_per_second, on_chunk=on_chunk)
    (start, first), (end, last) = marks[0], marks[-1]
    return (end - start) / (last - first) * 1000


def main() -> int:
    on_gpu = mx.default_device() == mx.gpu
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,medium,large" if on_gpu else "tiny")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--variants",
                        default="float16,bfloat16,q8,q4,float32,float16-ops,float16-eager,float16-stream,float16-stream4",
                        help="dtype/quantization, -ops: MLX operations instead of the fused CUDA layers, "
                             "-eager: uncompiled step, -stream: streaming end to end, -stream4: four frames per "
                             "codec call")
    parser.add_argument("--stereo", action="store_true", help="also the stereo variant of each size")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()

    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch_ok = torch.cuda.is_available()
        except ImportError:
            pass
    if torch_ok:
        import torch_anchor

    bandwidth = copy_bandwidth()
    print(f"device: MLX {mx.__version__} {mx.default_device()}"
          + (f"; torch {torch.__version__} on {torch.cuda.get_device_name()}" if torch_ok else "; no PyTorch anchor")
          + f"; copy bandwidth {bandwidth / 1e9:.0f} GB/s")
    rows = []
    for size in args.sizes.split(","):
        for stereo in (False, True) if args.stereo else (False,):
            raw = config_for(size, stereo)
            label = f"{'stereo-' if stereo else ''}{size}"
            d = raw["decoder"]
            anchor = None
            if torch_ok and size != "tiny":
                ms = torch_anchor.static_decoder_ms(d["hidden_size"], d["num_hidden_layers"], d["num_attention_heads"],
                                                    d["num_codebooks"], args.steps, args.warmup)
                anchor = ms["cuda_graph"]
                rows += [(label, "torch static KV + CUDA graph (fp16)", anchor, "fp16"),
                         (label, "torch static KV eager (fp16)", ms["eager"], "fp16"),
                         (label, "transformers generate (fp16)", torch_anchor.transformers_generate_ms(raw), "fp16")]
            for variant in args.variants.split(","):
                if variant in ("float32", "float16-eager", "q4") and size in ("medium", "large"):
                    continue  # shown on small; saves scarce device time
                base = variant.split("-")[0]  # float16-stream: float16 weights, streamed
                dtype = {"float32": mx.float32, "bfloat16": mx.bfloat16}.get(base, mx.float16)
                bits = {"q8": 8, "q4": 4}.get(base)
                model = random_model(raw, dtype, bits)
                cuda_decoder.ENABLED = not variant.endswith("-ops")
                if "-stream" in variant:  # -stream4: four frames per codec call (mg-live --chunk-frames 4)
                    chunk = int(variant.split("-stream")[1] or 1)
                    ms = stream_ms(model, args.steps, args.warmup, base, chunk)
                    name = (f"mg-live {base} streaming end to end (decoder + codec + buffer)"
                            + (f", {chunk} frames per codec call" if chunk > 1 else ""))
                else:
                    ms = our_step_ms(model, args.steps, args.warmup, compiled=not variant.endswith("-eager"))
                    fused = cuda_decoder.usable(model.decoder, dtype)
                    name = f"mg-live {variant}" + (" (fp16 activations)" if bits else "") + (" fused" if fused else "")
                rows.append((label, name, ms, bytes_per_step(model)))
                del model
                gc.collect()
                mx.clear_cache()
            print_table([r for r in rows if r[0] == label], anchor, bandwidth)
    return 0


def print_table(rows, anchor, bandwidth):
    """One size's rows; the anchors read what our float16 step reads ("fp16")."""
    fp16 = next((size for _, name, _, size in rows if name.startswith("mg-live float16")), None)
    floors = {size: (fp16 if size == "fp16" else size) for *_, size in rows}
    print("\n| model | implementation | ms/step | RTF | vs CUDA graph | bandwidth floor ms | of limit |")
    print("|---|---|---|---|---|---|---|")
    for label, name, ms, size in rows:
        ratio = f"{ms / anchor:.2f}" if anchor else "–"
        floor = floors[size] / bandwidth * 1000 if floors[size] else None
        limits = f"{floor:.2f} | {floor / ms:.0%}" if floor else "– | –"
        print(f"| {label} | {name} | {ms:.2f} | {20 / ms:.2f} | {ratio} | {limits} |")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
