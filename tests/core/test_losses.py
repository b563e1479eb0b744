"""ranvier.core._losses vs the NumPy reference vs direct scipy formulas; gradients vs finite differences."""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_expit, logsumexp, softmax, xlogy

from ranvier.core import _losses as core
from ranvier.reference import losses as ref

EPS = 1e-7
ROWS, K = 6, 4


def _data(name, rng, dtype=np.float64):
    """(y_true, y_pred) away from clipping bounds and kinks, for kernel kind ``name``."""
    if name.startswith("sparse"):
        t = rng.integers(0, K, ROWS).astype(np.intp)
    elif name in ("categorical_hinge",):
        t = np.eye(K)[rng.integers(0, K, ROWS)]
    elif name.startswith("categorical"):
        t = rng.dirichlet(np.ones(K), ROWS)
    elif name.startswith("binary") or name == "kl_divergence":
        t = rng.uniform(0.05, 0.95, (ROWS, K))
    elif "hinge" in name:
        t = rng.choice([-1.0, 1.0], (ROWS, K))
    else:
        t = rng.standard_normal((ROWS, K))
    if name.endswith("_logits"):
        p = rng.standard_normal((ROWS, K)) * 3
    elif name.endswith("_fused"):
        z = rng.standard_normal((ROWS, K))
        p = expit(z) if name.startswith("binary") else softmax(z, axis=1)
    elif name.startswith(("binary", "categorical_cross", "sparse")) or name == "kl_divergence":
        p = rng.uniform(0.05, 0.95, (ROWS, K))
    else:
        p = rng.standard_normal((ROWS, K)) * 2
    if "hinge" in name and name != "categorical_hinge":
        m = 1 - t * p
        p = np.where(np.abs(m) < 1e-2, p + 0.05, p)
    return (t if t.dtype == np.intp else t.astype(dtype)), p.astype(dtype)


def direct(name, t, p, c):
    """Unweighted per-row losses straight from the definitions."""
    t64 = t if t.dtype == np.intp else t.astype(np.float64)
    p = p.astype(np.float64)
    if name.startswith("sparse"):
        t64 = np.eye(p.shape[1])[t]
        name = name.replace("sparse_", "")
    e = p - t64
    if name == "mean_squared_error":
        return np.mean(e**2, axis=1)
    if name == "mean_absolute_error":
        return np.mean(np.abs(e), axis=1)
    if name == "half_squared_error":
        return 0.5 * np.sum(e**2, axis=1)
    if name in ("binary_crossentropy", "binary_crossentropy_fused"):
        q = np.clip(p, c, 1 - c)
        return np.mean(-(xlogy(t64, q) + xlogy(1 - t64, 1 - q)), axis=1)
    if name == "binary_crossentropy_logits":
        return np.mean(-(t64 * log_expit(p) + (1 - t64) * log_expit(-p)), axis=1)
    if name == "hinge":
        return np.mean(np.maximum(1 - t64 * p, 0), axis=1)
    if name == "squared_hinge":
        return np.mean(np.maximum(1 - t64 * p, 0) ** 2, axis=1)
    if name == "huber":
        a = np.abs(e)
        return np.mean(np.where(a <= c, 0.5 * e**2, c * a - 0.5 * c**2), axis=1)
    if name == "log_cosh":
        return np.mean(np.log(np.cosh(e)), axis=1)
    if name == "kl_divergence":
        tq, q = np.clip(t64, c, 1), np.clip(p, c, 1)
        return np.sum(tq * np.log(tq / q), axis=1)
    if name in ("categorical_crossentropy", "categorical_crossentropy_fused"):
        q = np.clip(p / p.sum(axis=1, keepdims=True), c, 1 - c)
        return -np.sum(xlogy(t64, q), axis=1)
    if name == "categorical_crossentropy_logits":
        return -np.sum(t64 * (p - logsumexp(p, axis=1, keepdims=True)), axis=1)
    assert name == "categorical_hinge"
    return np.maximum(np.max((1 - t64) * p, axis=1) - np.sum(t64 * p, axis=1) + 1, 0)


FAMILIES = (
    [(core.elementwise_loss, ref.elementwise_loss, n, k) for n, k in core.ELEMENTWISE.items()]
    + [(core.categorical_loss, ref.categorical_loss, n, k) for n, k in core.CATEGORICAL.items()]
    + [(core.sparse_categorical_loss, ref.sparse_categorical_loss, n, k) for n, k in core.SPARSE.items()]
)
IDS = [f[2] for f in FAMILIES]


def _param(name):
    return 0.7 if name == "huber" else EPS


def run(kernel, kind, t, p, w, c, scale, need_grad=True, threads=1):
    losses = np.empty(p.shape[0], p.dtype)
    grad = np.empty_like(p) if need_grad else np.empty((0, 0), p.dtype)
    total = kernel(kind, t, p, w, c, scale, losses, grad, need_grad, threads)
    return total, losses, grad


def test_kind_tables_match_reference():
    assert core.ELEMENTWISE == ref.ELEMENTWISE
    assert core.CATEGORICAL == ref.CATEGORICAL
    assert core.SPARSE == ref.SPARSE


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,reference,name,kind", FAMILIES, ids=IDS)
def test_values_match_reference_and_formula(kernel, reference, name, kind, dtype):
    rng = np.random.default_rng(0)
    t, p = _data(name, rng, dtype)
    w = rng.uniform(0.5, 2, ROWS).astype(dtype)
    c = _param(name)
    total, losses, grad = run(kernel, kind, t, p, w, c, 0.25, threads=2)
    rtotal, rlosses, rgrad = run(reference, kind, t, p, w, c, 0.25)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(losses, w * direct(name, t, p, c), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(losses, rlosses, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, rgrad, rtol=rtol * 10, atol=rtol)
    assert total == pytest.approx(float(np.sum(losses, dtype=np.float64)), rel=1e-12)
    # No sample weights: the (0,) array stands for ones.
    _, unweighted, _ = run(kernel, kind, t, p, np.empty(0, dtype), c, 1.0)
    np.testing.assert_allclose(unweighted, direct(name, t, p, c), rtol=rtol, atol=rtol)


def _preactivation(name, p):
    """For fused kinds, the pre-activation whose activation gave p."""
    return np.log(p / (1 - p)) if name.startswith("binary") else np.log(p)


@pytest.mark.parametrize("kernel,reference,name,kind", FAMILIES, ids=IDS)
def test_gradient_matches_finite_differences(kernel, reference, name, kind):
    rng = np.random.default_rng(1)
    t, p = _data(name, rng)
    w = rng.uniform(0.5, 2, ROWS)
    c, scale = _param(name), 1.0 / ROWS
    fused = name.endswith("_fused")
    kinds = {**core.ELEMENTWISE, **core.CATEGORICAL, **core.SPARSE}
    value_kind = kinds[name.replace("_fused", "")] if fused else kind

    def f(x):
        if fused:  # the loss as a function of the pre-activation
            x = expit(x) if name.startswith("binary") else softmax(x, axis=1)
        return run(kernel, value_kind, t, x, w, c, scale, need_grad=False)[0] * scale

    _, _, grad = run(kernel, kind, t, p, w, c, scale)
    x0 = _preactivation(name, p) if fused else p
    num = np.empty_like(x0)
    h = 1e-6
    for idx in np.ndindex(x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (f(xp) - f(xm)) / (2 * h)
    err = np.linalg.norm(grad - num) / (np.linalg.norm(grad) + np.linalg.norm(num))
    assert err < 1e-6, err


@pytest.mark.parametrize(
    "name", ["binary_crossentropy", "categorical_crossentropy", "kl_divergence", "sparse_categorical_crossentropy"]
)
def test_clipped_probabilities_have_zero_gradient(name):
    kinds = {**core.ELEMENTWISE, **core.CATEGORICAL, **core.SPARSE}
    kernel = dict((n, k) for k, _, n, _ in FAMILIES)[name]
    p = np.array([[0.0, 1.0, 0.5, 0.5]])
    t = np.array([0], np.intp) if name.startswith("sparse") else np.array([[1.0, 0.0, 0.3, 0.7]])
    total, losses, grad = run(kernel, kinds[name], t, p, np.empty(0), EPS, 1.0)
    assert np.isfinite(total) and np.isfinite(grad).all()
    assert grad[0, 0] == 0 or name.startswith("categorical")  # p = 0 is clipped
    np.testing.assert_allclose(losses, direct(name, t, p, EPS), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "name", ["binary_crossentropy_logits", "categorical_crossentropy_logits", "sparse_categorical_crossentropy_logits"]
)
def test_huge_logits_stay_finite_and_exact(name, dtype):
    kinds = {**core.ELEMENTWISE, **core.CATEGORICAL, **core.SPARSE}
    kernel = dict((n, k) for k, _, n, _ in FAMILIES)[name]
    p = np.array([[1e4, -1e4, 0.0], [-1e4, 5e3, 5e3]], dtype)
    if name.startswith("sparse"):
        t = np.array([1, 2], np.intp)
    elif name.startswith("binary"):
        t = np.array([[1, 1, 0], [0, 1, 1]], dtype)
    else:
        t = np.array([[0, 1, 0], [0, 0, 1]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total, losses, grad = run(kernel, kinds[name], t, p, np.empty(0, dtype), EPS, 1.0)
    assert np.isfinite(losses).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(losses, direct(name, t, p, EPS), rtol=1e-6)


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(2)
    p = rng.standard_normal((3000, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 3000).astype(np.intp)
    w = rng.uniform(size=3000).astype(np.float32)
    kind = core.SPARSE["sparse_categorical_crossentropy_logits"]
    results = [run(core.sparse_categorical_loss, kind, labels, p, w, EPS, 1 / 3000, threads=n) for n in (1, 2, 3)]
    for total, _, grad in results[1:]:
        assert total == results[0][0]
        np.testing.assert_array_equal(grad, results[0][2])


def test_bad_input_raises():
    p = np.full((2, 3), 0.5)
    kind = core.SPARSE["sparse_categorical_crossentropy"]
    with pytest.raises(ValueError, match=r"labels\[1\] must be in \[0, 3\), got 3"):
        run(core.sparse_categorical_loss, kind, np.array([0, 3], np.intp), p, np.empty(0), EPS, 1.0)
    with pytest.raises(ValueError, match=r"labels\[0\] must be in \[0, 3\), got -1"):
        run(core.sparse_categorical_loss, kind, np.array([-1, 0], np.intp), p, np.empty(0), EPS, 1.0)
    with pytest.raises(ValueError, match=r"y_true must have shape \(2, 3\), got \(2, 2\)"):
        run(core.elementwise_loss, 0, np.zeros((2, 2)), p, np.empty(0), EPS, 1.0)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\) or \(0,\), got \(3,\)"):
        run(core.elementwise_loss, 0, p, p, np.ones(3), EPS, 1.0)
    with pytest.raises(ValueError, match=r"categorical_loss: kind must be in \[0, 4\), got 42"):
        run(core.categorical_loss, 42, p, p, np.empty(0), EPS, 1.0)
    with pytest.raises(ValueError, match=r"y_pred must have shape \(2, >= 1\), got \(2, 0\)"):
        run(core.elementwise_loss, 0, np.zeros((2, 0)), np.zeros((2, 0)), np.empty(0), EPS, 1.0)
