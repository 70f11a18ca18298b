import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported anywhere
# Before MLX is imported: on CUDA, float32 matmuls in float32, not TF32 (the parity tests compare at 1e-4,
# and the fused layers' tests compare with the plain layers; alone, test_parity.py failed 13 of 32 with TF32)
os.environ.setdefault("MLX_ENABLE_TF32", "0")

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

try:
    import torch  # noqa: F401
    import transformers  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The tiny model and any download go to a per-run cache, never the user's."""
    os.environ["MG_LIVE_CACHE"] = str(tmp_path_factory.mktemp("mg-live-cache"))


def fixture_name(stereo: bool, melody: bool) -> str:
    return {(False, False): "mono", (True, False): "stereo", (False, True): "melody", (True, True): "stereo-melody"}[
        (stereo, melody)]


def _sources(melody: bool):
    """The committed fixtures, and the same architectures built now by transformers when torch is here."""
    out = [pytest.param(("fixture", s), id=f"fixture-{fixture_name(s, melody)}") for s in (False, True)]
    out += [pytest.param(("live", s), id=f"live-oracle-{fixture_name(s, melody)}",
                         marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch/transformers not installed"))
            for s in (False, True)]
    return out


def _checkpoint(request, tmp_path_factory, melody: bool):
    """(folder, reference arrays): the committed fixture, or one transformers builds now with a new seed."""
    kind, stereo = request.param
    name = fixture_name(stereo, melody)
    if kind == "fixture":
        folder = oracle.FIXTURES / name
        return folder, dict(np.load(folder / "reference.npz"))
    folder = tmp_path_factory.mktemp(f"oracle-{name}")
    model, tokenizer = oracle.build(folder, stereo, seed=7, melody=melody)
    return folder, (oracle.melody_reference if melody else oracle.reference)(model, tokenizer, seed=7)


@pytest.fixture(scope="session", params=_sources(melody=False))
def reference_checkpoint(request, tmp_path_factory):
    return _checkpoint(request, tmp_path_factory, melody=False)


@pytest.fixture(scope="session", params=_sources(melody=True))
def melody_checkpoint(request, tmp_path_factory):
    return _checkpoint(request, tmp_path_factory, melody=True)
