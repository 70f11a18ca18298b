"""Find a model (hub id, local folder, converted MLX folder, `tiny`), build it and load its weights.

T5 and EnCodec stay in float32 (off the critical path, and T5 overflows in float16); `dtype` and
`quantize` apply to the decoder, where the time goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_map

from . import tiny
from .config import MusicGenConfig, from_dict
from .musicgen import MusicGen, sanitize
from .weights import CheckpointError, read_folder, read_safetensors

DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}
QUANT_GROUP_SIZE = 64
_TRAINING_ONLY = (".cluster_size", ".embed_avg", ".inited", "embed_positions.weights")


class Tokenizer:
    """Text → padded token ids and attention mask, from tokenizer.json (or a sentencepiece-only folder)."""

    def __init__(self, folder: Path):
        if (folder / "tokenizer.json").exists():
            from tokenizers import Tokenizer as Fast

            self._fast = Fast.from_file(str(folder / "tokenizer.json"))
            self._slow = None
        else:
            try:
                from transformers import AutoTokenizer

                self._slow = AutoTokenizer.from_pretrained(str(folder))
            except Exception as e:  # noqa: BLE001 - any failure here means the folder has no usable tokenizer
                raise CheckpointError(f"{folder}: no usable tokenizer (tokenizer.json or spiece.model): {e}") from None
            self._fast = None

    def __call__(self, texts: list[str]) -> tuple[mx.array, mx.array]:
        ids = [e.ids for e in self._fast.encode_batch(texts)] if self._fast else self._slow(texts)["input_ids"]
        width = max(len(i) for i in ids)
        padded = [i + [0] * (width - len(i)) for i in ids]
        mask = [[1] * len(i) + [0] * (width - len(i)) for i in ids]
        return mx.array(padded, dtype=mx.int32), mx.array(mask, dtype=mx.int32)


@dataclass
class Loaded:
    model: MusicGen
    tokenizer: Tokenizer
    config: MusicGenConfig
    folder: Path
    dtype: str
    quantize: int | None

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return self.config.audio_channels


def resolve(name: str) -> Path:
    """A model name → local folder: `tiny`/`tiny-stereo`, an existing folder, or a hub id (downloaded once)."""
    if name in ("tiny", "tiny-stereo"):
        return tiny.ensure(stereo=name == "tiny-stereo")
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise CheckpointError(f"{path}: no config.json (expected a hub-layout or converted model folder)")
        return path
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise CheckpointError(f"{name}: no such folder, and not a hub id like facebook/musicgen-small")
    return _download(name)


def _download(repo_id: str) -> Path:
    """Into huggingface_hub's cache, once, with its progress bars; from the cache alone when offline."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    common = ["config.json", "generation_config.json", "preprocessor_config.json", "tokenizer*", "spiece.model",
              "special_tokens_map.json"]
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=common + ["model*.safetensors*"]))
        if not any(folder.glob("model*.safetensors")):  # medium/large may ship only .bin on main
            folder = Path(snapshot_download(repo_id, allow_patterns=common + ["pytorch_model*.bin*"]))
    except LocalEntryNotFoundError:  # offline (no network, or HF_HUB_OFFLINE=1) and not downloaded before
        raise CheckpointError(f"{repo_id}: not in the Hugging Face cache, and the hub cannot be reached; download "
                              "it where there is a network (or copy its folder here) and pass --model FOLDER") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"{repo_id}: no such model on the Hugging Face hub (or it needs a login: "
                              "huggingface-cli login)") from None
    except Exception as e:  # noqa: BLE001 - network, auth and disk errors all end the same way
        raise CheckpointError(f"{repo_id}: could not download ({type(e).__name__}: {str(e).splitlines()[0]}); "
                              "pass a local folder or `tiny`") from None
    return folder


def _wanted(key: str) -> bool:
    return not key.endswith(_TRAINING_ONLY)


def load(name: str, dtype: str = "float32", quantize: int | None = None) -> Loaded:
    folder = resolve(name)
    try:
        raw = json.loads((folder / "config.json").read_text())
        cfg = from_dict(raw)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from None
    model = MusicGen(cfg)
    converted = raw.get("mg_live")
    stored_bits = None
    if converted:
        source = folder / "weights.safetensors"
        if not source.exists():
            raise CheckpointError(f"{source}: missing (converted model folder without weights)")
        weights = read_safetensors(source)
        if converted.get("quantization"):  # stored quantized: build the quantized layers before loading
            stored_bits = converted["quantization"]["bits"]
            quantize_decoder(model, stored_bits)
        if dtype == "float32":
            dtype = converted.get("dtype", dtype)
    else:
        weights, source = read_folder(folder, _wanted)
        source = folder / source
        try:
            weights = sanitize(weights, cfg)
        except KeyError as e:
            raise CheckpointError(f"{source}: missing tensor {e.args[0]}") from None
    _check(model, weights, source)
    model.load_weights(list(weights.items()))
    set_dtype(model, DTYPES[dtype])
    if quantize and stored_bits and quantize != stored_bits:
        raise CheckpointError(f"{folder}: stored {stored_bits}-bit; convert from the original to get {quantize}-bit")
    if quantize and not stored_bits:
        quantize_decoder(model, quantize)
    quantize = quantize or stored_bits
    mx.eval(model.parameters())
    return Loaded(model, Tokenizer(folder), cfg, folder, dtype, quantize)


def _check(model: nn.Module, weights: dict, source: Path) -> None:
    expected = {name: p.shape for name, p in tree_flatten(model.parameters())}
    missing = sorted(set(expected) - set(weights))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"{source}: missing tensor {missing[0]}{more}")
    for name, value in weights.items():
        if name in expected and tuple(value.shape) != tuple(expected[name]):
            raise CheckpointError(f"{source}: tensor {name} has shape {tuple(value.shape)}, "
                                  f"the config needs {tuple(expected[name])}")


def set_dtype(model: MusicGen, dtype) -> None:
    """Decoder and its input projections in `dtype`; T5 and EnCodec stay float32."""
    for name, child in model.children().items():
        target = mx.float32 if name in ("text_encoder", "audio_encoder") else dtype
        child.update(tree_map(lambda p: p.astype(target) if mx.issubdtype(p.dtype, mx.floating) else p,
                              child.parameters()))


def quantize_decoder(model: MusicGen, bits: int) -> None:
    """8/4-bit affine quantization of the decoder's linear layers (embeddings and norms stay as they are)."""
    nn.quantize(
        model.decoder, group_size=QUANT_GROUP_SIZE, bits=bits,
        class_predicate=lambda _, m: isinstance(m, nn.Linear) and m.weight.shape[-1] % QUANT_GROUP_SIZE == 0,
    )
