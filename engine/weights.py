"""Reading checkpoint tensors with no PyTorch: safetensors (single or sharded) and `pytorch_model*.bin`.

Every failure is a `CheckpointError` whose message names the file and the problem in one line.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import mlx.core as mx
import numpy as np


class CheckpointError(Exception):
    """A missing, truncated, malformed or unsafe checkpoint file (message: one line, names the file)."""


_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "U32": np.uint32, "U16": np.uint16, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def _to_mx(array: np.ndarray, bfloat16: bool) -> mx.array:
    out = mx.array(array)
    return out.view(mx.bfloat16) if bfloat16 else out


def read_safetensors(path: Path, wanted: Callable[[str], bool] = lambda k: True) -> dict[str, mx.array]:
    """Read only the wanted tensors; checks the header and that every tensor lies inside the file and fills
    exactly its byte range."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated (no safetensors header)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            raise CheckpointError(f"{path}: truncated or not a safetensors file (header of {header_len} bytes)")
        try:
            header = json.loads(f.read(header_len))
        except ValueError as e:
            raise CheckpointError(f"{path}: corrupt safetensors header ({e})") from None
        if not isinstance(header, dict):
            raise CheckpointError(f"{path}: corrupt safetensors header (not a table of tensors)")
        header.pop("__metadata__", None)
        data_start = 8 + header_len
        for name, info in header.items():
            _check_entry(path, name, info, size - data_start)
        out = {}
        for name, info in header.items():
            if not wanted(name):
                continue
            begin, stop = info["data_offsets"]
            f.seek(data_start + begin)
            array = np.frombuffer(f.read(stop - begin), dtype=_SAFETENSORS_DTYPES[info["dtype"]])
            out[name] = _to_mx(array.reshape(info["shape"]), info["dtype"] == "BF16")
    return out


def _check_entry(path: Path, name: str, info, data_size: int) -> None:
    """One header entry: a known dtype, a shape of non-negative ints, offsets inside the data whose span is
    exactly the shape's bytes."""
    def bad(problem: str):
        return CheckpointError(f"{path}: tensor {name}: {problem}")

    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise bad("corrupt header entry")
    if info["dtype"] not in _SAFETENSORS_DTYPES:
        raise bad(f"unsupported dtype {info['dtype']!r}")
    shape, offsets = info["shape"], info["data_offsets"]
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise bad(f"bad shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(n, int) for n in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"bad data offsets {offsets!r}")
    if offsets[1] > data_size:
        raise CheckpointError(f"{path}: truncated: tensor {name} ends at byte {offsets[1]} of the data, "
                              f"which holds {data_size}")
    needed = math.prod(shape) * np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).itemsize
    if offsets[1] - offsets[0] != needed:
        raise bad(f"shape {shape} needs {needed} bytes, its data range holds {offsets[1] - offsets[0]}")


# --- torch `.bin` (zip of a pickle + raw storages), read through an unpickler that builds only tensors ----

_TORCH_STORAGES = {
    "FloatStorage": np.float32, "HalfStorage": np.float16, "BFloat16Storage": np.uint16,
    "DoubleStorage": np.float64, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    def __init__(self, data: np.ndarray, bfloat16: bool):
        self.data, self.bfloat16 = data, bfloat16


def _rebuild_tensor(storage, offset, size, stride, *_):
    """A tensor from the pickle's (storage, offset, size, stride), every field checked first: the pickle
    is untrusted, and a view reaching past its storage would read (or crash on) memory that is not it."""
    if not isinstance(storage, _Storage):
        raise ValueError("a tensor without a storage")
    if not (isinstance(offset, int) and isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list))
            and len(size) == len(stride) and all(isinstance(n, int) for n in (*size, *stride))):
        raise ValueError(f"malformed tensor record (offset {offset!r}, size {size!r}, stride {stride!r})")
    if offset < 0 or any(n < 0 for n in size) or any(n < 0 for n in stride):
        raise ValueError(f"negative offset, size or stride (offset {offset}, size {size}, stride {stride})")
    count = len(storage.data)
    if math.prod(size) and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= count:
        raise ValueError(f"a tensor of size {tuple(size)} (stride {tuple(stride)}, offset {offset}) reaches past "
                         f"its storage of {count} elements")
    if not math.prod(size):
        return _to_mx(np.zeros(tuple(size), storage.data.dtype), storage.bfloat16)
    itemsize = storage.data.itemsize
    array = np.lib.stride_tricks.as_strided(
        storage.data[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return _to_mx(np.ascontiguousarray(array), storage.bfloat16)


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _TensorsOnlyUnpickler(pickle.Unpickler):
    """Allows exactly the globals a state dict needs; anything else (os.system, eval, …) is refused."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in _TORCH_STORAGES:
            return _StorageType(name)
        raise CheckpointError(f"{self.path}: refusing to load, the pickle asks for {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)):
            raise CheckpointError(f"{self.path}: unexpected persistent object {str(pid)[:80]!r}")
        _kind, storage_type, key, _location, _numel = pid
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return _Storage(np.frombuffer(raw, dtype=_TORCH_STORAGES[storage_type.name]), storage_type.name == "BFloat16Storage")


def read_torch_bin(path: Path, wanted: Callable[[str], bool] = lambda k: True) -> dict[str, mx.array]:
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
            if pkl is None:
                raise CheckpointError(f"{path}: not a torch zip checkpoint (no data.pkl)")
            with archive.open(pkl) as f:
                state = _TensorsOnlyUnpickler(f, archive, pkl.rsplit("/", 1)[0], path).load()
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a malformed file provokes ends in one line
        raise CheckpointError(f"{path}: truncated or corrupt torch checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, mx.array):
            raise CheckpointError(f"{path}: entry {str(key)[:60]!r} is not a tensor")
    return {k: v for k, v in state.items() if wanted(k)}


# --- a folder: single file or shards, safetensors preferred ---------------------------------------------

def _read_shards(folder: Path, index_name: str, reader, wanted) -> dict[str, mx.array]:
    index_path = folder / index_name
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{index_path}: corrupt shard index ({e})") from None
    shards = sorted({file for key, file in weight_map.items() if wanted(key)})
    for shard in shards:
        if not (folder / shard).exists():
            raise CheckpointError(f"{folder / shard}: shard named in {index_name} is missing")
    out: dict[str, mx.array] = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, max(1, len(shards)))) as pool:
        for part in pool.map(lambda s: reader(folder / s, wanted), shards):
            out.update(part)
    return out


def read_folder(folder: Path, wanted: Callable[[str], bool] = lambda k: True) -> tuple[dict[str, mx.array], str]:
    """All wanted tensors of a hub-layout folder, and a description of where they came from."""
    if (folder / "model.safetensors.index.json").exists():
        return _read_shards(folder, "model.safetensors.index.json", read_safetensors, wanted), "sharded safetensors"
    if (folder / "model.safetensors").exists():
        return read_safetensors(folder / "model.safetensors", wanted), "model.safetensors"
    if (folder / "pytorch_model.bin.index.json").exists():
        return _read_shards(folder, "pytorch_model.bin.index.json", read_torch_bin, wanted), "sharded pytorch .bin"
    if (folder / "pytorch_model.bin").exists():
        return read_torch_bin(folder / "pytorch_model.bin", wanted), "pytorch_model.bin"
    raise CheckpointError(f"{folder}: no model.safetensors, shard index or pytorch_model.bin found")
