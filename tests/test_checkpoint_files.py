"""Malformed and hostile checkpoint files: every one ends in a one-line CheckpointError naming the file and
the problem; none reads outside its buffer, runs code or crashes the process.

`.bin` files are written here without torch: a pickle of stand-ins for torch's storage classes and
`_rebuild_tensor_v2`, whose module names are then rewritten to torch's, as torch.save lays them out."""

import io
import json
import pickle
import struct
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from mg_live.engine.weights import CheckpointError, read_safetensors, read_torch_bin

fake = types.ModuleType("fakeorch")
fake_utils = types.ModuleType("fakeorch._utils")


class FloatStorage:  # stands for torch.FloatStorage in the pickle
    pass


def _rebuild_tensor_v2(*args):  # stands for torch._utils._rebuild_tensor_v2
    raise AssertionError("never called here")


FloatStorage.__module__, fake.FloatStorage = "fakeorch", FloatStorage
_rebuild_tensor_v2.__module__, fake_utils._rebuild_tensor_v2 = "fakeorch._utils", _rebuild_tensor_v2


class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return _rebuild_tensor_v2, self.args


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", FloatStorage, obj.key, "cpu", obj.numel) if isinstance(obj, Storage) else None


def write_bin(path, state, storages: dict[str, bytes]) -> None:
    sys.modules.update({"fakeorch": fake, "fakeorch._utils": fake_utils})
    try:
        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(state)
    finally:
        del sys.modules["fakeorch"], sys.modules["fakeorch._utils"]
    data = buffer.getvalue().replace(b"fakeorch", b"torch")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)


FOUR = np.arange(4, dtype=np.float32).tobytes()  # a 16-byte storage


def test_a_well_formed_bin_reads(tmp_path):
    path = tmp_path / "ok.bin"
    write_bin(path, OrderedDict(w=Tensor(Storage("0", 4), 0, (2, 2), (1, 2))), {"0": FOUR})
    np.testing.assert_array_equal(np.array(read_torch_bin(path)["w"]), [[0, 2], [1, 3]])


@pytest.mark.parametrize("offset,size,stride,problem", [
    (0, (65536,), (1,), "reaches past its storage"),  # heap memory after a 16-byte storage
    (0, (1 << 40,), (1,), "reaches past its storage"),  # would segfault
    (3, (2,), (1,), "reaches past its storage"),
    (8, (1,), (1,), "reaches past its storage"),
    (3, (2,), (-1,), "negative"),  # a negative stride
    (-1, (1,), (1,), "negative"),
    (0, "4", (1,), "malformed tensor record"),  # wrong types
    (0, (4,), None, "malformed tensor record"),
    (0.5, (4,), (1,), "malformed tensor record"),
    (0, (2, 2), (1,), "malformed tensor record"),
], ids=["heap", "huge", "offset-past", "offset-at-end", "negative-stride", "negative-offset", "size-str",
        "stride-none", "offset-float", "rank-mismatch"])
def test_bad_tensor_records(tmp_path, offset, size, stride, problem):
    path = tmp_path / "evil.bin"
    write_bin(path, OrderedDict(w=Tensor(Storage("0", 4), offset, size, stride)), {"0": FOUR})
    with pytest.raises(CheckpointError) as e:
        read_torch_bin(path)
    message = str(e.value)
    assert str(path) in message and problem in message and "\n" not in message


@pytest.mark.parametrize("state,storages,problem", [
    (OrderedDict(w=Tensor(Storage("9", 4), 0, (4,), (1,))), {"0": FOUR}, "KeyError"),  # missing storage
    (OrderedDict(w=Tensor(Storage("0", 4), 0, (4,), (1,))), {"0": FOUR[:6]}, "ValueError"),  # ragged storage
    (OrderedDict(w=3), {}, "is not a tensor"),
    (OrderedDict(w=Tensor("not a storage", 0, (4,), (1,))), {}, "without a storage"),
    ([1, 2, 3], {}, "not a state dict"),
], ids=["missing-storage", "ragged-storage", "not-a-tensor", "no-storage", "a-list"])
def test_bad_structure(tmp_path, state, storages, problem):
    path = tmp_path / "odd.bin"
    write_bin(path, state, storages)
    with pytest.raises(CheckpointError) as e:
        read_torch_bin(path)
    assert str(path) in str(e.value) and problem in str(e.value) and "\n" not in str(e.value)


def write_safetensors(path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize("header,problem", [
    ({"w": {"dtype": "F32", "shape": [65536], "data_offsets": [0, 16]}}, "needs 262144 bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}, "needs 8 bytes"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}, "bad data offsets"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}}, "truncated"),
    ({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, "bad shape"),
    ({"w": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}}, "unsupported dtype"),
    ({"w": {"dtype": "F32"}}, "corrupt header entry"),
    ({"w": [1, 2]}, "corrupt header entry"),
], ids=["shape-too-big", "shape-too-small", "reversed", "past-end", "negative", "dtype", "missing-keys", "list"])
def test_bad_safetensors_headers(tmp_path, header, problem):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, header, FOUR)
    with pytest.raises(CheckpointError) as e:
        read_safetensors(path)
    assert str(path) in str(e.value) and problem in str(e.value) and "\n" not in str(e.value)


def test_a_hostile_file_is_one_line_on_the_command_line(tmp_path):
    """mg-convert on a folder whose .bin reaches past its storage: exit 2, one line, nothing written."""
    folder = tmp_path / "model"
    folder.mkdir()
    from mg_live.engine import tiny

    (folder / "config.json").write_text(json.dumps(tiny.config()))
    write_bin(folder / "pytorch_model.bin", OrderedDict(w=Tensor(Storage("0", 4), 0, (65536,), (1,))), {"0": FOUR})
    result = subprocess.run([sys.executable, "-m", "mg_live.engine.convert", "--model", str(folder), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pytorch_model.bin" in lines[0] and "reaches past its storage" in lines[0], lines
    assert not (tmp_path / "out").exists()
