"""Central-difference gradient check (the lecture's numerical gradient check).

For a parameter entry w, the numerical derivative is
``(L(w + eps) - L(w - eps)) / (2 eps)``; it is compared with backprop's value
by the relative error ``|a - n| / max(|a| + |n|, tiny)`` over each array
(norms of the difference and of the two gradients). In float64 with
eps = 1e-6 a correct backward gives errors around 1e-9; anything above
1e-6 is a bug.

A relative error means nothing for a gradient that is zero in truth: the
analytic value is then about 1e-17 and the numeric one is rounding noise,
about ``1e-16 * |L| / eps`` = 1e-10 for a loss of order 1, so their relative
error is near 1. As in torch's ``gradcheck`` (``|a - n| <= atol + rtol |n|``),
an array passes when ``||a - n|| <= atol + tol (||a|| + ||n||)``: ``tol`` is the
relative tolerance and ``atol`` (default 1e-8, a hundred times that noise)
the absolute one. Raise ``atol`` for losses of order 100 and more.
"""

import numpy as np

from ..api.layers import _tracing

__all__ = ["check_gradients", "GradientCheckResult"]


class GradientCheckResult:
    """How far the analytic gradients are from the numeric ones, by name.

    Parameters
    ----------
    comparisons : dict[str, (float, float)]
        ``(||a - n||, ||a|| + ||n||)`` of each array (analytic ``a``, numeric ``n``).
    tol, atol : float
        Relative and absolute tolerances: an array fails when ``||a - n|| > atol + tol (||a|| + ||n||)``.

    Attributes
    ----------
    errors : dict[str, float]
        Relative error of each array, ``diff / scale`` (0.0 when both gradients are 0).
    abs_errors : dict[str, float]
        ``||a - n||`` of each array.
    max_error : float
        The largest relative error.
    failed : list of str
        The arrays over both tolerances.
    passed : bool
    """

    def __init__(self, comparisons, tol, atol=0.0):
        self.abs_errors = {k: diff for k, (diff, _) in comparisons.items()}
        self.errors = {k: _relative(diff, scale) for k, (diff, scale) in comparisons.items()}
        self.tol, self.atol = tol, atol
        self.max_error = max(self.errors.values()) if self.errors else 0.0
        self.failed = [k for k, (diff, scale) in comparisons.items() if diff > atol + tol * scale]
        self.passed = not self.failed

    def __repr__(self):
        worst = ", ".join(
            f"{k}: {v:.2e} (abs {self.abs_errors[k]:.1e})"
            for k, v in sorted(self.errors.items(), key=lambda kv: -kv[1])[:5]
        )
        return f"<GradientCheckResult passed={self.passed} max_error={self.max_error:.2e} ({worst})>"


def numerical_gradient(loss_fn, array, eps=1e-6):
    """Central differences of ``loss_fn()`` with respect to every entry of ``array``.

    Parameters
    ----------
    loss_fn : callable
        Returns a float; it must read ``array``, which is perturbed in place
        (every entry is restored).
    array : ndarray, float64
    eps : float, default 1e-6

    Returns
    -------
    ndarray of ``array``'s shape, float64: ``(loss(a + eps) - loss(a - eps)) / (2 eps)`` per entry.
    """
    return _numeric(array, loss_fn, eps, np.arange(array.size)).reshape(array.shape)


def relative_error(analytic, numeric):
    """``|a - n| / (|a| + |n|)`` (Euclidean norms); 0.0 when both are zero."""
    return _relative_error(analytic, numeric)


def _relative_error(a, n):
    return _relative(*_compare(a, n))


def _compare(a, n):
    """``(||a - n||, ||a|| + ||n||)`` of two gradients."""
    a, n = np.asarray(a, np.float64).ravel(), np.asarray(n, np.float64).ravel()
    return float(np.linalg.norm(a - n)), float(np.linalg.norm(a) + np.linalg.norm(n))


def _relative(diff, scale):
    return 0.0 if scale < 1e-300 else diff / max(scale, 1e-12)


def _entries(size, max_checks, rng):
    if max_checks is None or size <= max_checks:
        return np.arange(size)
    return np.sort(rng.choice(size, max_checks, replace=False))


def _numeric(array, loss_fn, eps, idx):
    flat = array.reshape(-1)
    out = np.zeros(flat.shape[0], np.float64)
    for i in idx:
        orig = flat[i]
        flat[i] = orig + eps
        up = loss_fn()
        flat[i] = orig - eps
        down = loss_fn()
        flat[i] = orig
        out[i] = (up - down) / (2 * eps)
    return out


def _require_float64(variables, arrays):
    for v in variables:
        if v.dtype != np.float64:
            raise ValueError(
                f"check_gradients needs float64 weights ({v.name} is {v.dtype}): build with "
                "dtype='float64' or after rv.config.set_floatx('float64')"
            )
    for a in arrays:
        if a.dtype.kind == "f" and a.dtype != np.float64:
            raise ValueError(f"check_gradients needs float64 inputs, got {a.dtype}")


def check_gradients(
    model_or_layer,
    x,
    y=None,
    *,
    loss=None,
    eps=1e-6,
    tol=1e-6,
    atol=1e-8,
    training=True,
    check_inputs=True,
    max_checks=None,
    seed=0,
    raise_on_failure=True,
):
    """Compare backprop's gradients with central finite differences, in float64.

    Parameters
    ----------
    model_or_layer : Model or Layer
        A layer is checked on ``L = sum(R * layer(x))`` with a fixed random ``R``
        (so every output entry matters); a model on its compiled loss (with
        weight and activity penalties) for targets ``y``, or on ``loss`` if
        not compiled.
    x : ndarray or list of ndarray
        Inputs (float64, or integer ids for embeddings).
    y : ndarray, optional
        Targets, for models.
    eps : float, default 1e-6
    tol : float, default 1e-6
        Largest acceptable relative error (torch's ``rtol``).
    atol : float, default 1e-8
        Absolute tolerance on the norm of each array's difference: an array passes when
        ``||a - n|| <= atol + tol (||a|| + ||n||)``, so a gradient that is zero in truth
        (1e-17 against rounding noise of 1e-10) passes. ``atol=0`` is the relative test alone.
    training : bool, default True
        Mode of the forward passes (stochastic layers such as Dropout need
        ``training=False`` or a zero rate: each call draws a new mask).
    check_inputs : bool, default True
        Also check the gradient w.r.t. float inputs (layers only).
    max_checks : int, optional
        Check at most this many random entries per array (large weights).
    raise_on_failure : bool, default True
        Raise ``AssertionError`` listing the worst errors when a check fails.

    Returns
    -------
    GradientCheckResult
    """
    from ..api.layers.base import Layer
    from ..api.models.model import Model

    rng = np.random.default_rng(seed)
    if isinstance(model_or_layer, Model):
        result = _check_model(model_or_layer, x, y, loss, eps, tol, atol, max_checks, rng)
    elif isinstance(model_or_layer, Layer):
        result = _check_layer(model_or_layer, x, eps, tol, atol, training, check_inputs, max_checks, rng)
    else:
        raise TypeError(f"check_gradients expects a Model or a Layer, got {type(model_or_layer).__name__}")
    if raise_on_failure and not result.passed:
        raise AssertionError(f"Gradient check failed (tol {tol:g}, atol {atol:g}) for {result.failed}: {result!r}")
    return result


def _check_layer(layer, x, eps, tol, atol, training, check_inputs, max_checks, rng):
    multi = isinstance(x, (list, tuple))
    xs = [np.array(a, copy=True) for a in (x if multi else [x])]
    if not layer.built:
        shapes = [(None,) + a.shape[1:] for a in xs]
        layer._build_once(shapes if multi else shapes[0])
    _require_float64(layer.trainable_weights, xs)
    inputs = xs if multi else xs[0]
    out, _ = _forward(layer, inputs, training)
    outs = out if isinstance(out, (list, tuple)) else [out]
    projections = [rng.standard_normal(o.shape) for o in outs]

    def loss_fn():
        o, _ = _forward(layer, inputs, training)
        o = o if isinstance(o, (list, tuple)) else [o]
        return float(sum(np.sum(p * oi) for p, oi in zip(projections, o)))

    weights = layer.trainable_weights
    for v in weights:
        v._fresh = True
    out, cache = _forward(layer, inputs, training, record=True)
    dy = [p.copy() for p in projections]
    if layer._traced:
        dxs = _tracing.backpropagate(cache, dy)
    else:
        dx = layer.backward(dy if isinstance(out, (list, tuple)) else dy[0], cache, need_input_grad=True)
        dxs = dx if isinstance(dx, (list, tuple)) else [dx]
    analytic = {v.name: np.zeros(v.shape) if v._fresh else v.grad.copy() for v in weights}
    compared = {}
    for v in weights:
        idx = _entries(v.size, max_checks, rng)
        num = _numeric(v.value, loss_fn, eps, idx)
        compared[v.name] = _compare(analytic[v.name].reshape(-1)[idx], num[idx])
    if check_inputs:
        for i, (a, g) in enumerate(zip(xs, dxs)):
            if a.dtype.kind != "f" or g is None:
                continue
            idx = _entries(a.size, max_checks, rng)
            num = _numeric(a, loss_fn, eps, idx)
            compared[f"input_{i}"] = _compare(np.asarray(g).reshape(-1)[idx], num[idx])
    return GradientCheckResult(compared, tol, atol)


def _forward(layer, inputs, training, record=False):
    """(outputs, cache) of a hand-written layer, or of a traced one (on a tape when ``record``)."""
    if not layer._traced:
        return layer.call(inputs, training=training)
    if record:
        need = [True] * (len(inputs) if isinstance(inputs, (list, tuple)) else 1)
        return _tracing.trace(layer, inputs, need, training, {})
    # The flag reaches the layers it calls too, as in the recorded forward (Keras 3).
    return _tracing.run_call_within(layer, inputs, training, {}), None


def _check_model(model, x, y, loss, eps, tol, atol, max_checks, rng):
    if not model.compiled:
        if loss is None:
            raise ValueError("check_gradients: compile the model or pass loss=..., got neither")
        model.compile(optimizer="sgd", loss=loss)
    if y is None:
        raise ValueError("check_gradients: y (targets) is required for a model, got None")
    x, y, sw = model._prepare(x, y)
    _require_float64(model.trainable_weights, x)

    def loss_fn():
        return float(model._compute_gradients(x, y, sw)[0])

    model._compute_gradients(x, y, sw)
    analytic = {v.name: v.grad.copy() for v in model.trainable_weights}
    compared = {}
    for v in model.trainable_weights:
        idx = _entries(v.size, max_checks, rng)
        num = _numeric(v.value, loss_fn, eps, idx)
        compared[v.name] = _compare(analytic[v.name].reshape(-1)[idx], num[idx])
    return GradientCheckResult(compared, tol, atol)
