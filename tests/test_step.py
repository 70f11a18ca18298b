"""The compiled static-cache step is the plain step: same tokens, greedy and sampled (float32)."""

import numpy as np
import pytest

from mg_live.engine import generation, loading
from mg_live.engine.sampling import SamplingParams
import oracle


@pytest.mark.parametrize("name", ["mono", "stereo"])
@pytest.mark.parametrize("params", [SamplingParams(top_k=1),
                                    SamplingParams(top_k=50, top_p=0.9, temperature=1.3)],
                         ids=["greedy", "sampled"])
def test_compiled_step_matches_plain(name, params):
    loaded = loading.load(str(oracle.FIXTURES / name))
    run = lambda compiled: generation.generate_codes(loaded.model, loaded.tokenizer, oracle.PROMPTS[1], 24, params,
                                                     seed=11, compiled=compiled)
    np.testing.assert_array_equal(run(True), run(False))
