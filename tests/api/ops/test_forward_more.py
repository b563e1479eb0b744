"""Forward values, dtypes and argument errors of the Keras 3 ops added after the first set.

Each op against NumPy (or its formula) on plain arrays and, where it has a
traced path, on a watched Tensor (the two paths must agree); then the errors
(named argument and value). Gradients are in test_gradients.py, PyTorch
parity in test_torch_parity_more.py.
"""

import numpy as np
import pytest

import ranvier as rv

ops = rv.ops
RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5))
X3 = RNG.standard_normal((2, 3, 4))


def both(fn, *arrays):
    """``fn`` on plain arrays and on watched Tensors: the values, checked equal."""
    plain = fn(*arrays)
    with rv.GradientTape() as tape:
        traced = fn(*tape.watch(list(arrays)))
    for p, t in zip(
        plain if isinstance(plain, (list, tuple)) else [plain],
        traced if isinstance(traced, (list, tuple)) else [traced],
    ):
        assert not isinstance(p, ops.Tensor) and isinstance(t, ops.Tensor)
        np.testing.assert_allclose(t.value, p, rtol=1e-12, atol=1e-12)
    return plain


# -------------------------------------------------------------- numpy: sorting and order statistics
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_sort_and_argsort(axis):
    x = np.round(X * 2) / 2  # ties
    np.testing.assert_array_equal(both(lambda v: ops.sort(v, axis), x), np.sort(x, axis))
    idx = ops.argsort(x, axis)
    assert idx.dtype == np.int32
    np.testing.assert_array_equal(idx, np.argsort(x, axis, kind="stable"))


def test_sort_errors_and_scalar():
    assert ops.sort(np.float64(3.0)) == 3.0
    with pytest.raises(ValueError, match="ops.sort: axis .* got axis=2"):
        ops.sort(X, axis=2)
    with pytest.raises(ValueError, match="ops.argsort: axis .* got axis=-3"):
        ops.argsort(X, axis=-3)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_median_and_quantile(axis, keepdims):
    np.testing.assert_allclose(both(lambda v: ops.median(v, axis, keepdims), X), np.median(X, axis, keepdims=keepdims))
    q = np.array([0.0, 0.25, 0.5, 1.0])
    for method in ("linear", "lower", "higher", "midpoint", "nearest"):
        got = both(lambda v, m=method: ops.quantile(v, q, axis, m, keepdims), X)
        np.testing.assert_allclose(got, np.quantile(X, q, axis=axis, method=method, keepdims=keepdims))


def test_quantile_dtypes_and_errors():
    assert ops.quantile(X.astype(np.float32), 0.5).dtype == np.float32
    assert ops.quantile(np.arange(5), 0.5).dtype == np.float32  # floatx for ints
    assert ops.median(np.arange(4)).dtype == np.float32
    assert ops.median(np.array([1, 2, 3, 4])) == 2.5
    assert ops.median(np.array([True, False, True])) == 1.0
    np.testing.assert_array_equal(ops.quantile(np.array([[True, False], [True, True]]), 0.5, 1), [0.5, 1.0])
    # Python floats in q stay float64 (not floatx-rounded).
    np.testing.assert_array_equal(ops.quantile(X, [0.2, 0.7], 1), np.quantile(X, [0.2, 0.7], 1))
    with pytest.raises(ValueError, match="ops.quantile: method .* got 'cubic'"):
        ops.quantile(X, 0.5, method="cubic")
    with pytest.raises(ValueError, match=r"ops.quantile: q .* got q=1.5"):
        ops.quantile(X, 1.5)
    with pytest.raises(ValueError, match="ops.median: axis 3 is out of range"):
        ops.median(X, axis=3)


def test_top_k():
    x = np.array([[5, 2, 7, 1, 9, 3], [1, 1, 0, 1, 2, 2]])
    values, indices = ops.top_k(x, 3)
    np.testing.assert_array_equal(values, [[9, 7, 5], [2, 2, 1]])
    np.testing.assert_array_equal(indices, [[4, 2, 0], [4, 5, 0]])  # ties: lower index first
    assert indices.dtype == np.int32 and values.dtype == x.dtype
    v, i = both(lambda t: ops.top_k(t, 2), X)
    np.testing.assert_allclose(v, -np.sort(-X, axis=-1)[:, :2])
    with rv.GradientTape() as tape:
        _, idx = ops.top_k(tape.watch(X), 2)
    assert isinstance(idx, ops.Tensor) and not idx.traced
    for k in (0, 7, 2.0):
        with pytest.raises(ValueError, match=f"ops.top_k: k must be .* got k={k!r}"):
            ops.top_k(x, k)


def test_in_top_k():
    p = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05]])
    t = np.array([2, 0, 1])
    np.testing.assert_array_equal(ops.in_top_k(t, p, 1), [False, False, False])
    np.testing.assert_array_equal(ops.in_top_k(t, p, 2), [True, True, True])  # ties count in
    np.testing.assert_array_equal(ops.in_top_k(t, p, 5), [True, True, True])
    with pytest.raises(TypeError, match="ops.in_top_k: targets must be integer"):
        ops.in_top_k(t.astype(float), p, 1)
    with pytest.raises(ValueError, match=r"ops.in_top_k: predictions .* got shapes \(3,\) and \(3,\)"):
        ops.in_top_k(t, p[0], 1)
    with pytest.raises(ValueError, match="ops.in_top_k: k must be an int >= 1, got k=0"):
        ops.in_top_k(t, p, 0)


# -------------------------------------------------------------- numpy: reductions and counts
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cumprod(axis):
    np.testing.assert_allclose(both(lambda v: ops.cumprod(v, axis), X), np.cumprod(X, axis))
    assert ops.cumprod(np.array([True, False]), 0).dtype == np.int32
    assert ops.cumprod(np.arange(3), dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="ops.cumprod: axis .* got axis=2"):
        ops.cumprod(X, 2)


@pytest.mark.parametrize("axis", [None, 0, (0, 1)])
def test_count_nonzero(axis):
    x = (X > 0) * X
    got = ops.count_nonzero(x, axis)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.count_nonzero(x, axis=axis))


def test_average():
    w = RNG.uniform(0.5, 2, 5)
    np.testing.assert_allclose(both(lambda v: ops.average(v, 1, w), X), np.average(X, 1, w))
    np.testing.assert_allclose(both(lambda v: ops.average(v, None, w * X), X), np.average(X, None, w * X))
    np.testing.assert_allclose(ops.average(X, 0), np.average(X, 0))
    assert ops.average(np.arange(4), weights=np.arange(4)).dtype == np.float32
    with pytest.raises(ValueError, match=r"ops.average: weights .* got weights of shape \(4,\) with axis=1"):
        ops.average(X, 1, np.ones(4))
    with pytest.raises(ValueError, match=r"ops.average: weights .* with axis=None"):
        ops.average(X, None, w)


def test_trace_diag_diagonal():
    np.testing.assert_allclose(both(lambda v: ops.trace(v, 1), X), np.trace(X, 1))
    np.testing.assert_allclose(both(lambda v: ops.trace(v, 0, 1, 2), X3), np.trace(X3, 0, 1, 2))
    assert ops.trace(np.ones((3, 3), np.int8)).dtype == np.int32
    assert ops.trace(np.ones((3, 3), np.uint8)).dtype == np.uint32
    assert ops.trace(np.ones((3, 3), np.int64)).dtype == np.int64
    for k in (-2, 0, 3):
        np.testing.assert_array_equal(both(lambda v, k=k: ops.diag(v, k), X), np.diag(X, k))
        np.testing.assert_array_equal(both(lambda v, k=k: ops.diag(v, k), X[0]), np.diag(X[0], k))
    np.testing.assert_array_equal(both(lambda v: ops.diagonal(v, -1, 2, 0), X3), np.diagonal(X3, -1, 2, 0))
    with pytest.raises(ValueError, match=r"ops.diag: x must be 1-D or 2-D, got shape \(2, 3, 4\)"):
        ops.diag(X3)
    with pytest.raises(ValueError, match=r"ops.diagonal: .* got shape \(5,\)"):
        ops.diagonal(X[0])
    with pytest.raises(ValueError, match=r"ops.trace: .* got shape \(5,\)"):
        ops.trace(X[0])


@pytest.mark.parametrize("n, axis", [(0, -1), (1, -1), (2, 0), (3, 1), (6, 1)])
def test_diff(n, axis):
    np.testing.assert_allclose(both(lambda v: ops.diff(v, n, axis), X), np.diff(X, n, axis))


def test_diff_errors():
    with pytest.raises(ValueError, match=r"ops.diff: n must be an int >= 0, got n=-1"):
        ops.diff(X, -1)
    with pytest.raises(ValueError, match=r"ops.diff: axis must be an int in range .* got axis=2"):
        ops.diff(X, 1, 2)
    with pytest.raises(ValueError, match=r"ops.diff: a must have at least one axis"):
        ops.diff(np.float64(1.0))


def test_bincount():
    x = np.array([0, 1, 1, 4])
    got = ops.bincount(x)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.bincount(x))
    np.testing.assert_array_equal(ops.bincount(x, minlength=7), np.bincount(x, minlength=7))
    w = np.array([0.5, 1.0, 2.0, 3.0], np.float32)
    got = ops.bincount(x, weights=w)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.bincount(x, w))
    x2 = np.array([[0, 2, 2], [1, 1, 0]])
    np.testing.assert_array_equal(ops.bincount(x2, minlength=4), [[1, 0, 2, 0], [1, 2, 0, 0]])
    with pytest.raises(ValueError, match="ops.bincount: x must be .* non-negative integers"):
        ops.bincount(np.array([0, -1]))
    with pytest.raises(ValueError, match=r"ops.bincount: weights must have x's shape \(4,\), got shape \(3,\)"):
        ops.bincount(x, np.ones(3))
    with pytest.raises(ValueError, match="ops.bincount: sparse .* got sparse=True"):
        ops.bincount(x, sparse=True)


def test_digitize_searchsorted():
    x = np.array([-1.0, 0.0, 0.5, 2.0, 9.0])
    bins = np.array([0.0, 1.0, 2.0])
    got = ops.digitize(x, bins)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.digitize(x, bins))
    for side in ("left", "right"):
        got = ops.searchsorted(bins, x, side=side)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, np.searchsorted(bins, x, side=side))
    with pytest.raises(ValueError, match=r"ops.searchsorted: sorted_sequence must be 1-D, got shape \(4, 5\)"):
        ops.searchsorted(X, x)
    with pytest.raises(ValueError, match="ops.searchsorted: side .* got 'middle'"):
        ops.searchsorted(bins, x, side="middle")


# -------------------------------------------------------------- numpy: shapes and creation
def test_stacks_and_meshgrid():
    a, b = X[:, :2], X[:, 2:]
    np.testing.assert_array_equal(both(lambda u, v: ops.hstack([u, v]), a, b), np.hstack([a, b]))
    np.testing.assert_array_equal(both(lambda u, v: ops.vstack([u, v]), a.T, b.T), np.vstack([a.T, b.T]))
    np.testing.assert_array_equal(ops.hstack([1.0, np.array([2.0, 3.0])]), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ops.vstack([np.arange(3), np.arange(3)]), np.vstack([np.arange(3)] * 2))
    with pytest.raises(ValueError, match="ops.hstack: xs must be a non-empty list"):
        ops.hstack([])
    for indexing in ("xy", "ij"):
        vs = [np.arange(2.0), np.arange(3.0), np.arange(4.0)]
        got = both(lambda *v, i=indexing: ops.meshgrid(*v, indexing=i), *vs)
        for g, e in zip(got, np.meshgrid(*vs, indexing=indexing)):
            np.testing.assert_array_equal(g, e)
    assert [g.shape for g in ops.meshgrid(np.arange(3.0))] == [(3,)]
    with pytest.raises(ValueError, match="ops.meshgrid: indexing .* got 'xx'"):
        ops.meshgrid(np.arange(3), indexing="xx")


def test_nonzero_isclose_nan_to_num():
    x = np.array([[0, 1, 0], [2, 0, 3]])
    got = ops.nonzero(x)
    assert isinstance(got, tuple) and all(g.dtype == np.int32 for g in got)
    for g, e in zip(got, np.nonzero(x)):
        np.testing.assert_array_equal(g, e)
    a, b = np.array([1.0, 1.0, np.nan]), np.array([1.0 + 1e-9, 1.1, np.nan])
    np.testing.assert_array_equal(ops.isclose(a, b), [True, False, False])
    np.testing.assert_array_equal(ops.isclose(a, b, equal_nan=True), [True, False, True])
    np.testing.assert_array_equal(ops.isclose(a, b, rtol=0.2), np.isclose(a, b, rtol=0.2))
    y = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    got = ops.nan_to_num(y, nan=1.0, neginf=-2.0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.nan_to_num(y, nan=1.0, neginf=-2.0))


def test_logspace_array_and_complex_parts():
    got = ops.logspace(0, 3, 4)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1, 10, 100, 1000])
    np.testing.assert_allclose(
        ops.logspace(np.array([0.0, 1.0]), 2.0, 3, endpoint=False, base=2, axis=1),
        np.logspace(np.array([0.0, 1.0]), 2.0, 3, endpoint=False, base=2, axis=1),
    )
    assert ops.logspace(np.float64(0), np.array(1.0), 3).dtype == np.float64
    assert ops.array([1.0, 2.0]).dtype == np.float32
    assert ops.array([1, 2], dtype="int32").dtype == np.int32
    with rv.GradientTape() as tape:
        t = tape.watch(X)
        assert ops.array(t) is t
    z = np.array([1 + 2j, -3j])
    np.testing.assert_array_equal(ops.real(z), [1, 0])
    np.testing.assert_array_equal(ops.imag(z), [2, -3])
    np.testing.assert_array_equal(ops.conj(z), np.conj(z))
    np.testing.assert_array_equal(ops.conjugate(X), X)
    np.testing.assert_array_equal(ops.imag(X), np.zeros_like(X))


# -------------------------------------------------------------- numpy: products and elementwise
def test_cross_vdot():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    np.testing.assert_allclose(both(ops.cross, a, b), np.cross(a, b))
    np.testing.assert_allclose(both(lambda u, v: ops.cross(u, v, axis=0), a.T, b.T), np.cross(a.T, b.T, axis=0))
    np.testing.assert_allclose(
        both(lambda u, v: ops.cross(u, v, axisa=0, axisc=0), a.T, b[0]), np.cross(a.T, b[0], axisa=0, axisc=0)
    )
    # 2-vectors: z = a0 b1 - a1 b0; with a 3-vector the 2-vector's z is 0.
    np.testing.assert_allclose(both(ops.cross, a[:, :2], b[:, :2]), a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    np.testing.assert_allclose(
        both(ops.cross, a[:, :2], b), np.cross(np.concatenate([a[:, :2], np.zeros((4, 1))], 1), b)
    )
    with pytest.raises(ValueError, match=r"ops.cross: x1's vector axis must have 2 or 3 entries, got shape \(4, 5\)"):
        ops.cross(np.ones((4, 5)), b)
    np.testing.assert_allclose(both(ops.vdot, X, X.T.copy().T), np.vdot(X, X))
    z = np.array([1 + 1j, 2j])
    assert ops.vdot(z, z) == np.vdot(z, z)
    with pytest.raises(ValueError, match="ops.vdot: .* got 20 and 5"):
        ops.vdot(X, X[0])


def test_logaddexp_erfinv():
    a, b = X, X[0] * 300
    np.testing.assert_allclose(both(ops.logaddexp, a, b), np.logaddexp(a, b))
    assert ops.logaddexp(np.arange(3), np.arange(3)).dtype == np.float32
    assert ops.logaddexp(X.astype(np.float32), 1.0).dtype == np.float32
    u = np.array([-0.99, -0.3, 0.0, 0.5, 0.9])
    from scipy.special import erf

    np.testing.assert_allclose(erf(both(ops.erfinv, u)), u, rtol=1e-12, atol=1e-15)
    assert ops.erfinv(np.array([0.5], np.float32)).dtype == np.float32
    assert ops.math.erfinv is ops.erfinv


# -------------------------------------------------------------- math: segments
def test_segment_sum_max():
    data = RNG.standard_normal((6, 2))
    ids = np.array([0, 2, 2, -1, 0, 3])
    s = both(lambda d: ops.segment_sum(d, ids), data)
    m = both(lambda d: ops.segment_max(d, ids, num_segments=5), data)
    assert s.shape == (4, 2) and m.shape == (5, 2)
    for seg in range(5):
        rows = data[ids == seg]
        if seg < 4:
            np.testing.assert_allclose(s[seg], rows.sum(0))
        np.testing.assert_allclose(m[seg], rows.max(0) if len(rows) else -np.inf)
    assert ops.segment_max(np.array([3, 1]), np.array([1, 1]))[0] == np.iinfo(np.int64).min
    with pytest.raises(ValueError, match=r"ops.segment_sum: segment_ids must be a 1-D integer array.*shape \(2, 3\)"):
        ops.segment_sum(data, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"ops.segment_max: segment_ids and data .* got \(5,\) and \(6, 2\)"):
        ops.segment_max(data, ids[:5])
    with pytest.raises(ValueError, match="ops.segment_sum: segment_ids must be < num_segments=3, got the id 3"):
        ops.segment_sum(data, ids, 3)


# -------------------------------------------------------------- core: control flow and scatters
def test_control_flow():
    assert ops.cond(np.array(True), lambda: "a", lambda: "b") == "a"
    assert ops.cond(np.array([0.0]), lambda: "a", lambda: "b") == "b"
    with pytest.raises(ValueError, match=r"ops.cond: pred must be a scalar boolean, got an array of shape \(2,\)"):
        ops.cond(np.array([True, False]), lambda: 1, lambda: 2)
    assert ops.fori_loop(2, np.array(5), lambda i, v: v + i, 0) == 2 + 3 + 4
    assert ops.fori_loop(3, 1, lambda i, v: v + 1, 0) == 0
    with pytest.raises(TypeError, match="ops.fori_loop: lower and upper must be scalar ints, got 0.5 and 3"):
        ops.fori_loop(0.5, 3, lambda i, v: v, 0)
    i, x = ops.while_loop(lambda i, x: i < 4, lambda i, x: (i + 1, x * 2), (0, np.ones(2)))
    assert i == 4
    np.testing.assert_array_equal(x, [16, 16])
    out = ops.while_loop(lambda v: True, lambda v: v + 1, 0, maximum_iterations=3)
    assert out == 3 and not isinstance(out, tuple)
    assert ops.while_loop(lambda a, b: a < 2, lambda a, b: [a + 1, b], [0, 5]) == (2, 5)
    with pytest.raises(ValueError, match="ops.while_loop: maximum_iterations .* got -1"):
        ops.while_loop(lambda v: True, lambda v: v, 0, maximum_iterations=-1)


def test_scatter():
    idx = np.array([[0, 1], [2, 0], [0, 1]])
    got = both(lambda v: ops.scatter(idx, v, (3, 2)), np.array([1.0, 2.0, 4.0]))
    np.testing.assert_array_equal(got, [[0, 5], [0, 0], [2, 0]])
    got = ops.scatter([[1], [1]], np.ones((2, 3), np.float32), (2, 3))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[0, 0, 0], [2, 2, 2]])
    with pytest.raises(ValueError, match=r"ops.scatter: indices must lie inside shape \(3, 2\), got \[\[3, 0\]\]"):
        ops.scatter([[3, 0]], np.ones(1), (3, 2))
    with pytest.raises(ValueError, match=r"ops.scatter: values must have shape \(3,\) .* got shape \(2,\)"):
        ops.scatter(idx, np.ones(2), (3, 2))
    with pytest.raises(TypeError, match="ops.scatter: indices must be integers, got dtype float64"):
        ops.scatter(np.ones((1, 2)), np.ones(1), (3, 2))


def test_scatter_update():
    x = np.arange(9.0).reshape(3, 3)
    got = both(lambda a, u: ops.scatter_update(a, [[0, 0], [2, 1], [0, 0]], u), x, np.array([10.0, 20.0, 30.0]))
    expect = x.copy()
    expect[0, 0], expect[2, 1] = 30, 20  # the last write wins
    np.testing.assert_array_equal(got, expect)
    assert x[0, 0] == 0  # inputs untouched
    np.testing.assert_array_equal(ops.scatter_update(x, [[1]], np.ones((1, 3))), [[0, 1, 2], [1, 1, 1], [6, 7, 8]])
    for reduction, ufunc in (("add", np.add), ("max", np.maximum), ("min", np.minimum), ("mul", np.multiply)):
        expect = x.copy()
        ufunc.at(expect, ([0, 0], [1, 1]), np.array([3.0, 4.0]))
        np.testing.assert_array_equal(ops.scatter_update(x, [[0, 1], [0, 1]], np.array([3.0, 4.0]), reduction), expect)
    with pytest.raises(ValueError, match="ops.scatter_update: reduction must be .* got 'sum'"):
        ops.scatter_update(x, [[0, 1]], np.ones(1), "sum")
    with pytest.raises(ValueError, match=r"ops.scatter_update: updates must have shape \(1, 3\) .* got shape \(3,\)"):
        ops.scatter_update(x, [[0]], np.ones(3))
    with rv.GradientTape() as tape, pytest.raises(NotImplementedError, match="reduction='max'"):
        ops.scatter_update(tape.watch(x), [[0, 1]], np.ones(1), "max")


def test_slice_update():
    x = np.zeros((3, 4))
    u = np.arange(4.0).reshape(2, 2)
    got = both(lambda a, b: ops.slice_update(a, (1, np.int64(2)), b), x, u)
    expect = x.copy()
    expect[1:3, 2:4] = u
    np.testing.assert_array_equal(got, expect)
    assert not x.any()
    with pytest.raises(ValueError, match=r"ops.slice_update: updates of shape \(2, 2\) from start_indices \[2, 0\]"):
        ops.slice_update(x, (2, 0), u)
    with pytest.raises(ValueError, match=r"start_indices \[0\] must fit inside inputs of shape \(3, 4\)"):
        ops.slice_update(x, (0,), u)


# -------------------------------------------------------------- nn
def test_multi_hot():
    got = ops.multi_hot(np.array([0, 4]), 5)
    np.testing.assert_array_equal(got, [1, 0, 0, 0, 1])
    assert got.dtype == np.float32
    got = ops.multi_hot(np.array([[0, 2, 2], [1, 1, 1]]), num_tokens=3, dtype="int32")
    np.testing.assert_array_equal(got, [[1, 0, 1], [0, 1, 0]])
    assert got.dtype == np.int32
    with pytest.raises(ValueError, match="ops.multi_hot: num_classes must be given, got None"):
        ops.multi_hot(np.array([0]))


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("axis", [-1, 0])
def test_normalize(order, axis):
    got = both(lambda v: ops.normalize(v, axis, order), X)
    np.testing.assert_allclose(got, X / np.linalg.norm(X, order, axis, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(ops.normalize(np.zeros((2, 3)), order=order), 0)
    assert ops.normalize(np.array([[1, 2, 3]])).dtype == np.float32
    assert ops.normalize(np.float64(-3.0)).shape == (1,)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"ops.normalize: order must be an int >= 1, got order={bad!r}"):
            ops.normalize(X, order=bad)


def _conv_transpose_reference(x, k, stride, pad_before, out_len):
    """1-D transposed convolution by scattering: input cell i, tap t -> output i * stride - pad + t."""
    n, length, cin = x.shape
    out = np.zeros((n, out_len, k.shape[1]))
    for i in range(length):
        for t in range(k.shape[0]):
            o = i * stride - pad_before + t
            if 0 <= o < out_len:
                out[:, o] += x[:, i] @ k[t].T
    return out


@pytest.mark.parametrize(
    "stride, padding, output_padding, out_len, pad_before",
    [
        (1, "valid", None, 7, 0),
        (2, "valid", None, 11, 0),
        (2, "same", None, 10, 0),
        (3, "valid", 1, 16, 0),
        (3, "same", 1, 14, 0),
    ],
)
def test_conv_transpose_1d(stride, padding, output_padding, out_len, pad_before):
    x, k = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((3, 4, 3))
    got = both(lambda a, b: ops.conv_transpose(a, b, stride, padding, output_padding), x, k)
    np.testing.assert_allclose(got, _conv_transpose_reference(x, k, stride, pad_before, out_len), atol=1e-12)


def test_conv_errors():
    x = np.ones((2, 5, 5, 3))
    with pytest.raises(ValueError, match=r"ops.conv_transpose: kernel's last axis must be inputs' 3 channels"):
        ops.conv_transpose(x, np.ones((3, 3, 2, 4)))
    with pytest.raises(ValueError, match=r"ops.conv_transpose: output_padding must be smaller than strides"):
        ops.conv_transpose(x, np.ones((3, 3, 2, 3)), 2, output_padding=2)
    with pytest.raises(ValueError, match=r"ops.depthwise_conv: kernel's axis -2 must be inputs' 3 channels"):
        ops.depthwise_conv(x, np.ones((3, 3, 2, 1)))
    with pytest.raises(ValueError, match=r"ops.depthwise_conv: kernel must have shape .* got kernel shape \(3, 3\)"):
        ops.depthwise_conv(x, np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"ops.depthwise_conv: strides must be .* got 0"):
        ops.depthwise_conv(x, np.ones((3, 3, 3, 1)), strides=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_and_separable_conv(dtype):
    x = RNG.standard_normal((2, 6, 5, 3)).astype(dtype)
    k = RNG.standard_normal((3, 2, 3, 2)).astype(dtype)
    p = RNG.standard_normal((1, 1, 6, 4)).astype(dtype)
    got = ops.depthwise_conv(x, k, strides=(2, 1))
    assert got.dtype == dtype and got.shape == (2, 2, 4, 6)
    # Channel c * 2 + j is channel c convolved with k[..., c, j]: a conv on that channel alone.
    for c in range(3):
        for j in range(2):
            ref = ops.conv(x[..., c : c + 1], k[:, :, c : c + 1, j : j + 1], strides=(2, 1))
            np.testing.assert_allclose(got[..., c * 2 + j], ref[..., 0], rtol=1e-5, atol=1e-5)
    sep = ops.separable_conv(x, k, p, strides=(2, 1))
    np.testing.assert_allclose(sep, np.einsum("nhwc,cf->nhwf", got, p[0, 0]), rtol=1e-5, atol=1e-5)


# -------------------------------------------------------------- image
def test_resize_matches_the_resizing_layer():
    images = RNG.random((2, 5, 7, 3)).astype(np.float32)
    for interpolation in ("bilinear", "nearest"):
        for crop in (False, True):
            layer = rv.layers.Resizing(4, 9, interpolation, crop_to_aspect_ratio=crop)
            expect = np.asarray(layer(images))
            got = ops.image.resize(images, (4, 9), interpolation, crop_to_aspect_ratio=crop)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, expect, rtol=1e-6)
            first = ops.image.resize(
                np.moveaxis(images[0], -1, 0),
                (4, 9),
                interpolation,
                data_format="channels_first",
                crop_to_aspect_ratio=crop,
            )
            np.testing.assert_allclose(first, np.moveaxis(expect[0], -1, 0), rtol=1e-6)


def test_resize_formula_and_errors():
    # Upsampling 2 -> 4 with half-pixel centres: sources -0.25, 0.25, 0.75, 1.25 (clamped).
    got = ops.image.resize(np.array([[[0.0], [1.0]]]), (1, 4))
    np.testing.assert_allclose(got[0, :, 0], [0.0, 0.25, 0.75, 1.0])
    with pytest.raises(ValueError, match="ops.image.resize: interpolation must be one of .* got 'bicubic'"):
        ops.image.resize(np.ones((4, 4, 1)), (2, 2), "bicubic")
    with pytest.raises(NotImplementedError, match="antialias=True"):
        ops.image.resize(np.ones((4, 4, 1)), (2, 2), antialias=True)
    with pytest.raises(ValueError, match=r"ops.image.resize: images must have rank 3 .* got shape \(4, 4\)"):
        ops.image.resize(np.ones((4, 4)), (2, 2))
    with pytest.raises(ValueError, match=r"ops.image.resize: size must be two ints >= 1, got \(0, 2\)"):
        ops.image.resize(np.ones((4, 4, 1)), (0, 2))
    with pytest.raises(ValueError, match="ops.image.resize: data_format .* got 'nhwc'"):
        ops.image.resize(np.ones((4, 4, 1)), (2, 2), data_format="nhwc")


def test_rgb_to_grayscale():
    images = RNG.random((2, 3, 4, 3))
    weights = np.array([0.2989, 0.5870, 0.1140])
    got = both(ops.image.rgb_to_grayscale, images)
    np.testing.assert_allclose(got, (images @ weights)[..., None])
    first = ops.image.rgb_to_grayscale(np.moveaxis(images, -1, 1), "channels_first")
    np.testing.assert_allclose(first, np.moveaxis(got, -1, 1))
    ints = (images * 255).astype(np.uint8)
    got = ops.image.rgb_to_grayscale(ints)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, (ints @ weights)[..., None].astype(np.uint8))
    gray = images[..., :1]
    np.testing.assert_array_equal(ops.image.rgb_to_grayscale(gray), gray)
    with pytest.raises(ValueError, match=r"ops.image.rgb_to_grayscale: .* 3 \(RGB\) or 1 channels, got shape"):
        ops.image.rgb_to_grayscale(images[..., :2])


def test_keras_signatures():
    import inspect

    expect = {
        ops.quantile: "(x, q, axis=None, method='linear', keepdims=False)",
        ops.cross: "(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None)",
        ops.top_k: "(x, k, sorted=True, is_stable=True)",
        ops.scatter_update: "(inputs, indices, updates, reduction=None)",
        ops.while_loop: "(cond, body, loop_vars, maximum_iterations=None)",
        ops.multi_hot: "(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs)",
        ops.normalize: "(x, axis=-1, order=2, epsilon=None)",
        ops.conv_transpose: (
            "(inputs, kernel, strides=1, padding='valid', output_padding=None, data_format=None, dilation_rate=1)"
        ),
        ops.segment_max: "(data, segment_ids, num_segments=None, sorted=False)",
        ops.logspace: "(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0)",
    }
    for fn, sig in expect.items():
        assert str(inspect.signature(fn)) == sig, fn.__name__
    for name in ("resize", "rgb_to_grayscale"):
        assert callable(getattr(ops.image, name)) and name not in ops.__all__
    assert "image" in ops.__all__


def _affine_reference(images, transform, order, mode, cval):
    """Keras' NumPy backend recipe (affine transforms): pad the image, then SciPy's map_coordinates."""
    from scipy import ndimage

    out = []
    for image, (a0, a1, a2, b0, b1, b2, _, _) in zip(images, transform):
        ys, xs, cs = np.meshgrid(*(np.arange(n) for n in image.shape), indexing="ij")
        coords = [b0 * xs + b1 * ys + b2, a0 * xs + a1 * ys + a2, cs.astype(float)]
        pads = [
            (max(-int(np.floor(c.min())) + 1, 0), max(int(np.ceil(c.max())) + 1 - n, 0))
            for c, n in zip(coords, image.shape)
        ]
        pad_mode = {"nearest": "edge", "mirror": "reflect", "reflect": "symmetric"}.get(mode, mode)
        kwargs = {"constant_values": cval} if mode == "constant" else {}
        padded = np.pad(image, pads, mode=pad_mode, **kwargs)
        shifted = [c + p[0] for c, p in zip(coords, pads)]
        out.append(ndimage.map_coordinates(padded, shifted, order=order, mode=mode, cval=cval))
    return np.stack(out)


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("interpolation, order", [("bilinear", 1), ("nearest", 0)])
def test_affine_transform_matches_keras_numpy_backend(fill_mode, interpolation, order):
    images = RNG.random((2, 6, 7, 3))
    # No source coordinate lies within 1e-3 of a half (where rounding order would decide "nearest").
    transform = np.array([[1.13, 0.217, -1.31, -0.173, 0.93, 0.713, 0, 0], [0.83, -0.31, 2.21, 0.27, 1.21, -1.6, 0, 0]])
    expect = _affine_reference(images, transform, order, fill_mode, 0.5)
    got = both(lambda x: ops.image.affine_transform(x, transform, interpolation, fill_mode, 0.5), images)
    np.testing.assert_allclose(got, expect, atol=1e-12)
    one = ops.image.affine_transform(
        np.moveaxis(images[1], -1, 0), transform[1], interpolation, fill_mode, 0.5, data_format="channels_first"
    )
    np.testing.assert_allclose(one, np.moveaxis(expect[1], -1, 0), atol=1e-12)


def test_affine_transform_projective_dtype_and_errors():
    image = np.arange(12.0).reshape(3, 4, 1)
    # Identity, a pure shift, and a projective row: k = 1 + 0.5 y halves the sampling position on row 2.
    np.testing.assert_array_equal(ops.image.affine_transform(image, [1, 0, 0, 0, 1, 0, 0, 0]), image)
    np.testing.assert_allclose(ops.image.affine_transform(image, [1, 0, 1, 0, 1, 0, 0, 0])[0, :, 0], [1, 2, 3, 0])
    got = ops.image.affine_transform(image, [1, 0, 0, 0, 1, 0, 0, 0.5], "nearest")
    np.testing.assert_array_equal(got[2, :, 0], [4, 5, 5, 6])  # source (x / 2, 2 / 2): row 1, x = 0, .5, 1, 1.5
    ints = (RNG.random((5, 5, 3)) * 255).astype(np.uint8)
    assert ops.image.affine_transform(ints, [1, 0, 0.5, 0, 1, 0, 0, 0]).dtype == np.uint8
    with pytest.raises(ValueError, match=r"transform must have shape \(8,\) or \(1, 8\), got shape \(6,\)"):
        ops.image.affine_transform(image, np.ones(6))
    with pytest.raises(ValueError, match="fill_mode must be one of .* got 'edge'"):
        ops.image.affine_transform(image, np.ones(8), fill_mode="edge")
    with pytest.raises(ValueError, match="interpolation must be one of .* got 'cubic'"):
        ops.image.affine_transform(image, np.ones(8), "cubic")


def test_scan_map_vectorized_map_switch():
    xs = np.arange(1.0, 5.0)
    carry, ys = both(lambda x: ops.scan(lambda c, v: (c + v, c * v), 0.0, x), xs)
    assert carry == 10.0
    np.testing.assert_array_equal(ys, [0.0, 2.0, 9.0, 24.0])
    carry, ys = ops.scan(lambda c, v: (c + v, c), 0.0, xs, reverse=True)
    np.testing.assert_array_equal(ys, [9.0, 7.0, 4.0, 0.0])  # ys keep the steps' order
    carry, ys = ops.scan(lambda c, v: ((c[0] + 1, c[1]), {"y": c[0]}), (0, np.ones(2)), length=3)
    assert carry[0] == 3
    np.testing.assert_array_equal(ys["y"], [0, 1, 2])
    assert ops.scan(lambda c, v: (c + v["a"], None), 0.0, {"a": xs}) == (10.0, None)
    with pytest.raises(ValueError, match="ops.scan: give xs or length, got neither"):
        ops.scan(lambda c, v: (c, c), 0.0)
    with pytest.raises(ValueError, match="ops.scan: at least one step is needed, got 0"):
        ops.scan(lambda c, v: (c, c), 0.0, np.ones((0, 2)))
    with pytest.raises(ValueError, match="ops.scan: unroll must be a positive int or a bool, got unroll=0"):
        ops.scan(lambda c, v: (c, c), 0.0, xs, unroll=0)
    np.testing.assert_array_equal(both(lambda x: ops.map(lambda r: ops.sum(r * r), x), X), np.sum(X * X, 1))
    pair = ops.map(lambda r: (r[0], r[1:]), X)
    np.testing.assert_array_equal(pair[0], X[:, 0])
    np.testing.assert_array_equal(pair[1], X[:, 1:])
    np.testing.assert_array_equal(both(lambda x: ops.vectorized_map(ops.max, x), X), X.max(1))
    np.testing.assert_array_equal(ops.vectorized_map(lambda e: e[0] - e[1], [X, 2 * X]), -X)
    assert ops.switch(-3, [lambda a: a + 1, lambda a: a - 1], 5) == 6
    assert ops.switch(np.array(7), [lambda a: a + 1, lambda a: a - 1], 5) == 4
    with pytest.raises(TypeError, match="ops.switch: index must be a scalar int, got 1.5"):
        ops.switch(1.5, [lambda: 0])
