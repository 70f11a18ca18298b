"""What the command lines share: one-line errors, the model flags, and the flags that come from the
parameter registry (their defaults and ranges are the registry's, so `--cfg 99` is refused as OSC's
/mg/cfg 99 is clamped: never applied raw)."""

from __future__ import annotations

import argparse
import math
import sys

from .loading import DTYPES
from .params import BY_NAME
from .sampling import SamplingParams


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line ("prog: problem") and exits 2."""

    def error(self, message: str):
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def registry_type(name: str):
    """An argparse type: the registry's parameter `name`, checked against its range."""
    param = BY_NAME[name]

    def parse(text: str):
        try:
            return param.check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e) if "between" in str(e) or param.choices
                                             else f"{name} takes a number, got {text!r}")

    parse.__name__ = param.kind  # how argparse names the type in its messages
    return parse


def add_registry_argument(parser: argparse.ArgumentParser, name: str, help_text: str | None = None) -> None:
    param = BY_NAME[name]
    default = param.default if param.choices else f"{param.default:g}"
    metavar = ("{" + ",".join(c.replace(" ", "") for c in param.choices) + "}" if param.choices
               else param.range_text.split()[0] if param.range_text else None)
    parser.add_argument("--" + name.replace("_", "-"), type=registry_type(name), default=param.default,
                        metavar=metavar, help=f"{help_text or param.doc} (default {default})")


def positive(kind=float, allow_zero: bool = False):
    """An argparse type for a finite positive number (seconds, milliseconds, counts)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_model_arguments(parser: argparse.ArgumentParser, default_model: str | None = "tiny") -> None:
    parser.add_argument("--model", default=default_model,
                        help="hub id (facebook/musicgen-small), local folder, converted MLX folder, or tiny")
    parser.add_argument("--dtype", choices=list(DTYPES), help="decoder weight dtype (default float32)")
    parser.add_argument("--quantize", type=int, choices=[8, 4], help="quantize the decoder's linear layers")


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser, "cfg", "guidance scale (1 disables guidance)")
    add_registry_argument(parser, "top_k", "keep the k most likely tokens (1 = greedy, 0 = off)")
    add_registry_argument(parser, "top_p")
    add_registry_argument(parser, "temperature")
    add_registry_argument(parser, "seed", "seed of the sampler: same seed, same music")


def sampling_from(args) -> SamplingParams:
    return SamplingParams(cfg_scale=args.cfg, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
