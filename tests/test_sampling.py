"""Sampling filters and reproducibility, checked against straightforward numpy definitions."""

import mlx.core as mx
import numpy as np
import pytest

from mg_live.engine import generation, loading
from mg_live.engine.sampling import SamplingParams, filter_logits, guide


def logits(seed=0, shape=(2, 4, 2048)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3


def kept(x, temperature=1.0, top_k=0, top_p=0.0):
    out = filter_logits(mx.array(x), mx.array(temperature), mx.array(top_k), mx.array(top_p))
    return np.isfinite(np.array(out))


@pytest.mark.parametrize("k", [1, 5, 250, 2048])
def test_top_k_keeps_exactly_k(k):
    x = logits()
    mask = kept(x, top_k=k)
    assert (mask.sum(-1) == k).all()
    kth = -np.sort(-x, axis=-1)[..., k - 1 : k]
    np.testing.assert_array_equal(mask, x >= kth)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.5])
def test_top_p_keeps_smallest_set_reaching_p(p, temperature):
    x = logits(1)
    mask = kept(x, temperature=temperature, top_p=p)
    z = x.astype(np.float64) / temperature
    probs = np.exp(z - z.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    mass = np.where(mask, probs, 0).sum(-1)
    smallest_kept = np.where(mask, probs, np.inf).min(-1)
    # reaches p, and would not without its least likely member (float32 cumsum: 1e-5 slack)
    assert (mass >= p - 1e-5).all()
    assert (mass - smallest_kept < p + 1e-5).all()
    # and it is a top set: every kept token is at least as likely as every dropped one
    assert (smallest_kept >= np.where(mask, -np.inf, probs).max(-1)).all()


def test_top_k_then_top_p():
    x = logits(2)
    both = kept(x, top_k=20, top_p=0.5)
    assert (both <= kept(x, top_k=20)).all() and (both.sum(-1) >= 1).all()


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_temperature_scales_the_kept_logits(temperature):
    """What is kept is logits / temperature exactly; what is dropped is -inf."""
    x = logits(6)
    out = np.array(filter_logits(mx.array(x), mx.array(temperature), mx.array(40), mx.array(0.0)))
    mask = np.isfinite(out)
    assert (mask.sum(-1) == 40).all()
    np.testing.assert_allclose(out[mask], (x / temperature)[mask], rtol=1e-6)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_samples_follow_softmax_of_logits_over_temperature(temperature):
    """A sampled histogram over the kept set matches softmax(logits / T) renormalised on it (chi-square)."""
    x = np.array([[2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -4.0, -5.0]], np.float32) * 1.5
    filtered = filter_logits(mx.array(x), mx.array(temperature), mx.array(6), mx.array(0.0))
    n = 40000
    draws = np.array(mx.random.categorical(filtered, num_samples=n, key=mx.random.key(1)))[0]
    counts = np.bincount(draws, minlength=8)
    expected = np.zeros(8)
    expected[:6] = softmax(x[0, :6] / temperature)
    assert counts[6:].sum() == 0
    chi2 = ((counts[:6] - n * expected[:6]) ** 2 / (n * expected[:6])).sum()
    assert chi2 < 25  # 5 degrees of freedom: p ≈ 1e-4; a wrong temperature is off by thousands
    other = softmax(x[0, :6] / (1.0 if temperature != 1.0 else 2.0))
    assert ((counts[:6] - n * other) ** 2 / (n * other)).sum() > 200


def test_top_p_runs_on_the_renormalised_top_k():
    """top-p counts probability within the top-k (renormalised), as transformers applies them in turn."""
    x = np.array([[3.0, 2.9, 2.8, 0.0, -0.1, -0.2, -0.3, -0.4] + [-0.5] * 200], np.float32)
    k, p = 3, 0.6
    mask = kept(x, top_k=k, top_p=p)[0]
    within = softmax(x[0, :k])  # [0.367, 0.332, 0.301]: the first two reach 0.6
    assert within[0] < p <= within[:2].sum()
    assert mask.tolist()[:3] == [True, True, False] and mask.sum() == 2
    whole = softmax(x[0])[:2].sum()  # over the whole vocabulary the first two are far from 0.6
    assert whole < p


def test_greedy_is_argmax():
    x = logits(3)
    mask = kept(x, top_k=1)
    np.testing.assert_array_equal(mask.argmax(-1), x.argmax(-1))
    assert (mask.sum(-1) == 1).all()


def test_samples_only_kept_tokens():
    x = mx.array(logits(4, (1, 1, 2048)))
    filtered = filter_logits(x, mx.array(1.0), mx.array(3), mx.array(0.0))
    draws = np.array(mx.random.categorical(filtered, num_samples=500, key=mx.random.key(0)))
    assert set(np.unique(draws)) <= set(np.argsort(-np.array(x)[0, 0])[:3])


def test_guidance_formula():
    x = logits(5, (2, 4, 16))
    mixed = np.array(guide(mx.array(x), mx.array(3.0), guided=True))
    np.testing.assert_allclose(mixed, x[1:] + 3.0 * (x[:1] - x[1:]), rtol=1e-6)


@pytest.fixture(scope="module")
def tiny():
    return loading.load("tiny")


def test_same_seed_same_codes(tiny):
    params = SamplingParams(top_k=50, temperature=1.2)
    run = lambda seed: generation.generate_codes(tiny.model, tiny.tokenizer, "lofi piano", 30, params, seed=seed)
    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
