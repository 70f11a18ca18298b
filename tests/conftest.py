import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported anywhere

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


def _sources():
    out = [pytest.param(("fixture", stereo), id=f"fixture-{'stereo' if stereo else 'mono'}") for stereo in (False, True)]
    out += [pytest.param(("live", stereo), id=f"live-oracle-{'stereo' if stereo else 'mono'}",
                         marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch/transformers not installed"))
            for stereo in (False, True)]
    return out


@pytest.fixture(scope="session", params=_sources())
def reference_checkpoint(request, tmp_path_factory):
    """(folder, reference arrays): the committed fixture, or one transformers builds now with a new seed."""
    kind, stereo = request.param
    if kind == "fixture":
        folder = oracle.FIXTURES / ("stereo" if stereo else "mono")
        return folder, dict(np.load(folder / "reference.npz"))
    folder = tmp_path_factory.mktemp("oracle-stereo" if stereo else "oracle-mono")
    model, tokenizer = oracle.build(folder, stereo, seed=7)
    return folder, oracle.reference(model, tokenizer, seed=7)
