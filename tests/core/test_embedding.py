"""Embedding kernels vs their NumPy twins."""

import numpy as np
import pytest

from ranvier.core import _embedding
from ranvier.reference import embedding as ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_embedding_kernels_match_reference(dtype, beta):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((11, 4)).astype(dtype)
    ids = rng.integers(0, 11, 50).astype(np.int64)  # repeated ids must accumulate
    out, out_ref = np.empty((50, 4), dtype), np.empty((50, 4), dtype)
    _embedding.embedding_forward(ids, table, out, 2)
    ref.embedding_forward(ids, table, out_ref)
    np.testing.assert_array_equal(out, out_ref)
    dy = rng.standard_normal((50, 4)).astype(dtype)
    grad, grad_ref = np.ones_like(table), np.ones_like(table)
    _embedding.embedding_backward(ids, dy, grad, beta)
    ref.embedding_backward(ids, dy, grad_ref, beta)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-6)


@pytest.mark.parametrize("bad", [-1, 11])
def test_embedding_kernels_reject_out_of_range_ids(bad):
    ids = np.array([0, bad], np.int64)
    with pytest.raises(ValueError, match=f"got {bad}"):
        _embedding.embedding_forward(ids, np.zeros((11, 2)), np.empty((2, 2)), 1)
    with pytest.raises(ValueError, match=f"got {bad}"):
        _embedding.embedding_backward(ids, np.zeros((2, 2)), np.zeros((11, 2)), 0.0)


def test_embedding_kernels_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"embedding_forward: out must have shape \(2, 2\), got \(2, 3\)"):
        _embedding.embedding_forward(np.array([0, 1]), np.zeros((3, 2)), np.empty((2, 3)), 1)
