"""Attention kernels vs their NumPy twin, float64 finite differences, threads and bad input."""

import numpy as np
import pytest

from ranvier.core import _attention as K
from ranvier.core import _dropout
from ranvier.reference import attention as R

DTYPES = [np.float32, np.float64]
# (B, H, Tq, Tk, D, Dv): odd sizes around the 16/32-column panels, Tq != Tk, D != Dv.
SHAPES = [(1, 1, 1, 1, 1, 1), (2, 3, 5, 7, 4, 6), (2, 2, 17, 33, 8, 40), (3, 4, 32, 32, 32, 32)]
NO_MASK = np.zeros((0, 0, 0, 0), np.uint8)


def _tol(dtype):
    return {"rtol": 3e-5, "atol": 3e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}


def _bhtd(rng, b, h, t, d, dtype):
    # The layer passes (B, T, H, D) buffers as transposed views: test that layout.
    return rng.normal(size=(b, t, h, d)).astype(dtype).transpose(0, 2, 1, 3)


def _inputs(shape, dtype, seed=0):
    b, h, tq, tk, d, dv = shape
    rng = np.random.default_rng(seed)
    q, k, v = _bhtd(rng, b, h, tq, d, dtype), _bhtd(rng, b, h, tk, d, dtype), _bhtd(rng, b, h, tk, dv, dtype)
    dout = rng.normal(size=(b, h, tq, dv)).astype(dtype)
    return q, k, v, dout


def _keep(shape, rate, seed=7):
    b, h, tq, tk = shape[:4]
    keep = np.empty(b * h * tq * tk, np.uint8)
    _dropout.keep_mask(seed, rate, keep, 1)
    return keep.reshape(b, h, tq, tk)


def _run(mod, q, k, v, dout, mask=NO_MASK, causal=False, keep=NO_MASK, rate=0.0, n_threads=2):
    b, h, tq, d = q.shape
    tk, dv = v.shape[2], v.shape[3]
    scale = 1.0 / np.sqrt(d)
    out = np.empty((b, tq, h, dv), q.dtype).transpose(0, 2, 1, 3)
    probs = np.empty((b, h, tq, tk), q.dtype)
    mod.attention_forward(q, k, v, mask, causal, scale, keep, rate, out, probs, n_threads)
    dq, dk, dvv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    mod.attention_backward(q, k, v, probs, keep, rate, dout, scale, dq, dk, dvv, n_threads)
    return out, probs, dq, dk, dvv


def _masks(shape, seed=3):
    b, h, tq, tk = shape[:4]
    rng = np.random.default_rng(seed)
    key_padding = (rng.random((b, 1, 1, tk)) > 0.3).astype(np.uint8)
    key_padding[..., 0] = 1
    full = (rng.random((b, h, tq, tk)) > 0.4).astype(np.uint8)
    per_query = (rng.random((b, 1, tq, tk)) > 0.4).astype(np.uint8)
    return {"none": NO_MASK, "key_padding": key_padding, "full": full, "per_query": per_query}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mask_kind", ["none", "key_padding", "full", "per_query"])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_reference(dtype, shape, mask_kind, causal):
    q, k, v, dout = _inputs(shape, dtype)
    mask = _masks(shape)[mask_kind]
    got = _run(K, q, k, v, dout, mask, causal)
    want = _run(R, q, k, v, dout, mask, causal)
    for name, g, w in zip(["out", "probs", "dq", "dk", "dv"], got, want):
        np.testing.assert_allclose(g, w, **_tol(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_reference(dtype):
    shape = (2, 3, 9, 20, 8, 16)
    q, k, v, dout = _inputs(shape, dtype)
    keep = _keep(shape, 0.3)
    got = _run(K, q, k, v, dout, keep=keep, rate=0.3)
    want = _run(R, q, k, v, dout, keep=keep, rate=0.3)
    for name, g, w in zip(["out", "probs", "dq", "dk", "dv"], got, want):
        np.testing.assert_allclose(g, w, **_tol(dtype), err_msg=name)
    # Dropout changes the output, never the probabilities kept for backward.
    plain = _run(K, q, k, v, dout)
    np.testing.assert_array_equal(got[1], plain[1])
    assert not np.allclose(got[0], plain[0])


def test_masked_keys_get_zero_weight_and_fully_masked_rows_are_uniform():
    shape = (1, 2, 4, 6, 3, 3)
    q, k, v, dout = _inputs(shape, np.float32)
    mask = np.ones((1, 1, 4, 6), np.uint8)
    mask[0, 0, 1, 2:] = 0
    mask[0, 0, 3, :] = 0
    _, probs, *_ = _run(K, q, k, v, dout, mask)
    assert np.all(probs[:, :, 1, 2:] == 0.0)
    np.testing.assert_allclose(probs[:, :, 1].sum(-1), 1.0, rtol=1e-6)
    # Keras adds -1e9 to masked scores: in float32 that rounds every score of a fully masked row alike.
    np.testing.assert_allclose(probs[:, :, 3], 1.0 / 6.0, rtol=1e-6)


def test_causal_mask_is_lower_triangular():
    q, k, v, dout = _inputs((2, 2, 5, 5, 4, 4), np.float64)
    _, probs, *_ = _run(K, q, k, v, dout, causal=True)
    upper = np.triu_indices(5, 1)
    assert np.all(probs[:, :, upper[0], upper[1]] == 0.0)
    assert np.all(probs[:, :, np.arange(5), np.arange(5)] > 0.0)


@pytest.mark.parametrize("with_mask", [False, True])
def test_gradients_by_finite_differences(with_mask):
    shape = (2, 2, 4, 5, 3, 2)
    q, k, v, dout = (np.ascontiguousarray(a) for a in _inputs(shape, np.float64, seed=5))
    mask = _masks(shape)["per_query"] if with_mask else NO_MASK
    keep, rate = _keep(shape, 0.25), 0.25
    _, _, dq, dk, dv = _run(K, q, k, v, dout, mask, True, keep, rate)

    def loss():
        return float((_run(K, q, k, v, dout, mask, True, keep, rate)[0] * dout).sum())

    eps = 1e-6
    for arr, grad in [(q, dq), (k, dk), (v, dv)]:
        num = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_for_any_thread_count(dtype):
    shape = (3, 4, 33, 40, 16, 24)
    q, k, v, dout = _inputs(shape, dtype)
    mask, keep = _masks(shape)["key_padding"], _keep(shape, 0.1)
    runs = [_run(K, q, k, v, dout, mask, True, keep, 0.1, n_threads=t) for t in (1, 2, 3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def _call(**changes):
    q, k, v, dout = _inputs((2, 3, 4, 5, 6, 7), np.float32)
    args = {
        "q": q,
        "k": k,
        "v": v,
        "mask": NO_MASK,
        "causal": False,
        "scale": 0.5,
        "keep": NO_MASK,
        "rate": 0.0,
        "out": np.empty((2, 3, 4, 7), np.float32),
        "probs": np.empty((2, 3, 4, 5), np.float32),
        "n_threads": 1,
    }
    args.update(changes)
    K.attention_forward(*args.values())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"k": np.zeros((2, 3, 5, 4), np.float32)}, r"attention_forward: k must have shape \(2, 3, >= 1, 6\)"),
        ({"v": np.zeros((2, 3, 6, 7), np.float32)}, r"attention_forward: v must have shape"),
        ({"out": np.zeros((2, 3, 4, 6), np.float32)}, r"attention_forward: out must have shape"),
        ({"probs": np.zeros((2, 3, 5, 4), np.float32)}, r"attention_forward: probs must have shape"),
        ({"mask": np.ones((2, 2, 4, 5), np.uint8)}, r"mask must broadcast to \(2, 3, 4, 5\).*got \(2, 2, 4, 5\)"),
        ({"keep": np.ones((2, 3, 4, 4), np.uint8)}, r"attention_forward: keep must have shape"),
        ({"q": np.zeros((2, 3, 4, 12), np.float32)[..., ::2]}, r"q must have a contiguous last axis"),
        ({"rate": 1.0}, r"attention_forward: rate must be in \[0, 1\), got 1.0"),
        ({"probs": np.zeros((2, 4, 3, 5), np.float32).transpose(0, 2, 1, 3)}, r"C-contiguous"),
    ],
)
def test_bad_arguments_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        _call(**changes)


def test_mixed_dtypes_raise():
    with pytest.raises((TypeError, ValueError)):
        _call(k=_inputs((2, 3, 4, 5, 6, 7), np.float64)[1])
