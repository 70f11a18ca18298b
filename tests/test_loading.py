"""Every checkpoint layout loads to the same weights; broken or hostile checkpoints fail in one clear line."""

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from safetensors.numpy import load_file, save_file

from conftest import HAVE_TORCH
from mg_live.engine import loading
from mg_live.engine.config import from_dict, hub_config
from mg_live.engine.musicgen import MusicGen, Span
from mg_live.engine.weights import CheckpointError, read_torch_bin
import oracle

MONO = oracle.FIXTURES / "mono"


def params(loaded) -> dict:
    return {k: np.array(v) for k, v in tree_flatten(loaded.model.parameters())}


@pytest.fixture(scope="module")
def reference_params():
    return params(loading.load(str(MONO)))


def copy_without_weights(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(MONO, folder, ignore=shutil.ignore_patterns("model.safetensors", "reference.npz"))
    return folder


def assert_same(loaded, reference):
    got = params(loaded)
    assert got.keys() == reference.keys()
    for key in reference:
        np.testing.assert_array_equal(got[key], reference[key], err_msg=key)


def test_sharded_safetensors(tmp_path, reference_params):
    folder = copy_without_weights(tmp_path)
    tensors = load_file(MONO / "model.safetensors")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for file, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, folder / file)
        weight_map |= {k: file for k in keys}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert_same(loading.load(str(folder)), reference_params)


def test_legacy_weight_norm_names(tmp_path, reference_params):
    folder = copy_without_weights(tmp_path)
    renamed = {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): v
               for k, v in load_file(MONO / "model.safetensors").items()}
    assert any(k.endswith("weight_g") for k in renamed)
    save_file(renamed, folder / "model.safetensors")
    assert_same(loading.load(str(folder)), reference_params)


@pytest.mark.skipif(not HAVE_TORCH, reason="writing a .bin needs torch (reading it does not)")
@pytest.mark.parametrize("sharded", [False, True])
def test_torch_bin(tmp_path, reference_params, sharded):
    import torch

    folder = copy_without_weights(tmp_path)
    state = {k: torch.from_numpy(v) for k, v in load_file(MONO / "model.safetensors").items()}
    if sharded:
        names = sorted(state)
        files = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
                 "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
        for file, keys in files.items():
            torch.save({k: state[k] for k in keys}, folder / file)
        index = {"weight_map": {k: f for f, keys in files.items() for k in keys}}
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    assert_same(loading.load(str(folder)), reference_params)


@pytest.mark.skipif(not HAVE_TORCH, reason="writing a .bin needs torch")
def test_torch_bin_bfloat16(tmp_path):
    import torch

    path = tmp_path / "w.bin"
    value = torch.randn(3, 5).to(torch.bfloat16)
    torch.save({"w": value, "t": value.t()}, path)  # a transposed view exercises strides
    got = read_torch_bin(path)
    assert got["w"].dtype == mx.bfloat16
    np.testing.assert_array_equal(np.array(got["w"].astype(mx.float32)), value.float().numpy())
    np.testing.assert_array_equal(np.array(got["t"].astype(mx.float32)), value.float().t().numpy())


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Exploit(marker)}))
    with pytest.raises(CheckpointError, match=r"refusing to load.*system"):
        read_torch_bin(path)
    assert not marker.exists()


def run_generate(*args):
    return subprocess.run([sys.executable, "-m", "mg_live.engine.generate", *args], capture_output=True, text=True,
                          env=os.environ | {"PYTHONWARNINGS": "ignore"})


def assert_one_line_error(result, *needles):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_truncated_file_is_one_line(tmp_path):
    folder = copy_without_weights(tmp_path)
    data = (MONO / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    result = run_generate("--model", str(folder), "--prompt", "x", "--seconds", "0.2", "--out", str(tmp_path / "o.wav"))
    assert_one_line_error(result, "model.safetensors", "truncated")


def test_missing_tensor_is_named(tmp_path):
    folder = copy_without_weights(tmp_path)
    tensors = load_file(MONO / "model.safetensors")
    del tensors["decoder.model.decoder.layers.1.fc1.weight"]
    save_file(tensors, folder / "model.safetensors")
    result = run_generate("--model", str(folder), "--prompt", "x", "--seconds", "0.2", "--out", str(tmp_path / "o.wav"))
    assert_one_line_error(result, "model.safetensors", "decoder.model.decoder.layers.1.fc1.weight")


def test_not_a_model(tmp_path):
    result = run_generate("--model", str(tmp_path), "--prompt", "x", "--out", str(tmp_path / "o.wav"))
    assert_one_line_error(result, "config.json")


def test_bfloat16_safetensors(tmp_path, reference_params):
    folder = copy_without_weights(tmp_path)
    tensors = {k: mx.array(v).astype(mx.bfloat16) for k, v in load_file(MONO / "model.safetensors").items()}
    mx.save_safetensors(str(folder / "model.safetensors"), tensors)
    got = params(loading.load(str(folder)))
    key = "decoder.layers.0.fc1.weight"
    expected = np.array(mx.array(reference_params[key]).astype(mx.bfloat16).astype(mx.float32))
    np.testing.assert_array_equal(got[key], expected)


@pytest.mark.parametrize("stereo", [False, True])
def test_hub_sized_model_builds_and_steps(stereo):
    """musicgen-small's shapes (zeros, never materialised beyond one step): the wiring holds at full size."""
    cfg = from_dict(hub_config("small", stereo))
    model = MusicGen(cfg)
    K = cfg.decoder.num_codebooks
    condition = model.condition(mx.array([[5, 6, 1]]), mx.array([[1, 1, 1]]))
    assert condition.shape == (1, 3, 1024)
    cache = model.decoder.new_cache(4, 8)
    tokens = mx.full((2, K, 1), 2048, mx.int32)
    hidden, cache = model.decoder(model.decoder.embed_tokens(tokens), [Span(2, 1, mx.array([0]), 8)], cache,
                                  mx.stack(model.cross_keys_values(mx.concatenate([condition, condition]))))
    assert model.decoder.logits(hidden).shape == (2, K, 1, 2048)
    assert cache[0].shape == (2, 4, 16, 8, 64)
    audio = model.audio_encoder.decode(mx.zeros((1, 4, 2), mx.int32))
    assert audio.shape == (1, 2 * 640)


def test_hub_id_from_the_cache_offline(tmp_path):
    """A hub id already in huggingface_hub's cache loads with no network; one that is not ends in one line
    that says what to do."""
    snapshot = tmp_path / "hub" / "models--facebook--musicgen-small" / "snapshots" / ("0" * 40)
    shutil.copytree(MONO, snapshot, ignore=shutil.ignore_patterns("reference.npz"))
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    env = os.environ | {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    code = "from mg_live.engine import loading; print(loading.resolve('facebook/musicgen-small'))"
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(snapshot)
    missing = subprocess.run([sys.executable, "-m", "mg_live.engine.generate", "--model", "facebook/musicgen-medium",
                              "--prompt", "x", "--out", str(tmp_path / "x.wav")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("mg-generate: facebook/musicgen-medium: not in the Hugging Face cache, and the "
                                      "hub cannot be reached; download it where there is a network (or copy its "
                                      "folder here) and pass --model FOLDER")
