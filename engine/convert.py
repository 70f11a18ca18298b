"""`mg-convert`: write a model as an MLX folder (our tensor names, chosen dtype, optional 8/4-bit decoder)
that loads without any remapping: config.json (with an `mg_live` section), weights.safetensors, tokenizer."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from .cli import Parser, add_model_arguments
from .loading import QUANT_GROUP_SIZE, load
from .weights import CheckpointError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model")


def convert(model: str, out: Path, dtype: str = "float32", quantize: int | None = None) -> Path:
    loaded = load(model, dtype, quantize)
    out.mkdir(parents=True, exist_ok=True)
    raw = dict(loaded.config.raw)
    raw["mg_live"] = {
        "format": 1, "dtype": dtype,
        "quantization": {"bits": quantize, "group_size": QUANT_GROUP_SIZE} if quantize else None,
    }
    mx.save_safetensors(str(out / "weights.safetensors"), dict(tree_flatten(loaded.model.parameters())))
    (out / "config.json").write_text(json.dumps(raw, indent=2))
    for name in TOKENIZER_FILES:
        if (loaded.folder / name).exists() and loaded.folder.resolve() != out.resolve():
            shutil.copy(loaded.folder / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="mg-convert", description="Convert a MusicGen checkpoint to an MLX folder.")
    add_model_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        out = convert(args.model, args.out, args.dtype or "float32", args.quantize)
    except CheckpointError as e:
        print(f"mg-convert: {e}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    print(f"wrote {out} ({size:.1f} MiB, decoder {args.dtype or 'float32'}{f', {args.quantize}-bit' if args.quantize else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
