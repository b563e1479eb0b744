"""ranvier.core._activations vs the NumPy reference vs scipy, and derivatives vs finite differences."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf, expit, log_softmax, softmax

from ranvier.core import _activations as core
from ranvier.reference import activations as ref

INF = np.inf
# (name, (a, b, c)): every kind, and the relu variants the API maps onto the relu kernel.
CASES = [
    ("linear", (0, INF, 0)),
    ("sigmoid", (0, INF, 0)),
    ("tanh", (0, INF, 0)),
    ("relu", (0, INF, 0)),
    ("relu", (0.1, 2.0, 0.5)),
    ("relu", (0.2, INF, -0.7)),
    ("relu", (0, 6, 0)),
    ("elu", (1.0, 0, 0)),
    ("elu", (0.5, 0, 0)),
    ("selu", (0, INF, 0)),
    ("gelu", (0, 0, 0)),
    ("gelu_tanh", (0, 0, 0)),
    ("softplus", (0, INF, 0)),
    ("softsign", (0, INF, 0)),
    ("swish", (0, INF, 0)),
    ("hard_sigmoid", (0, INF, 0)),
    ("exponential", (0, INF, 0)),
    ("binary_step", (0, INF, 0)),
    ("softmax", (0, 0, 0)),
    ("log_softmax", (0, 0, 0)),
    ("mish", (0, INF, 0)),
    ("hard_silu", (0, INF, 0)),
    ("log_sigmoid", (0, INF, 0)),
    ("celu", (1.0, 0, 0)),
    ("celu", (0.4, 0, 0)),
]
IDS = [f"{n}-{p}" for n, p in CASES]


def scipy_formula(name, x, a, b, c):
    """Each activation written directly from its definition (scipy.special where it has it)."""
    x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        return {
            "linear": lambda: x,
            "sigmoid": lambda: expit(x),
            "tanh": lambda: np.tanh(x),
            "relu": lambda: np.where(x > c, np.minimum(np.maximum(x, 0), b), a * (x - c)),
            "elu": lambda: np.where(x > 0, x, a * (np.exp(np.minimum(x, 0)) - 1)),
            "selu": lambda: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
            "gelu": lambda: x * 0.5 * (1 + erf(x / np.sqrt(2))),
            "gelu_tanh": lambda: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
            "softplus": lambda: np.logaddexp(0, x),
            "softsign": lambda: x / (1 + np.abs(x)),
            "swish": lambda: x * expit(x),
            "hard_sigmoid": lambda: np.clip(x / 6 + 0.5, 0, 1),
            "exponential": lambda: np.exp(x),
            "binary_step": lambda: np.heaviside(x, 1.0),
            "softmax": lambda: softmax(x, axis=-1),
            "log_softmax": lambda: log_softmax(x, axis=-1),
            "mish": lambda: x * np.tanh(np.log1p(np.exp(x))),
            "hard_silu": lambda: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
            "log_sigmoid": lambda: np.log(expit(x)),
            "celu": lambda: np.maximum(x, 0) + np.minimum(0, a * (np.exp(x / a) - 1)),
        }[name]()


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def test_kind_tables_match_reference():
    assert core.KINDS == ref.KINDS
    assert core.NEEDS_INPUT == ref.NEEDS_INPUT
    assert core.ROWWISE == ref.ROWWISE
    assert (core.SELU_ALPHA, core.SELU_SCALE) == (ref.SELU_ALPHA, ref.SELU_SCALE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_forward_matches_reference_and_scipy(name, params, dtype):
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((37, 19)) * 3).astype(dtype)
    kind = core.KINDS[name]
    out = np.empty_like(z)
    core.activation_forward(kind, z, *params, out, 2)
    expected = np.empty_like(z)
    ref.activation_forward(kind, z, *params, expected, 1)
    np.testing.assert_allclose(out, expected, **tol(dtype))
    np.testing.assert_allclose(out, scipy_formula(name, z, *params), **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "name,params",
    [c for c in CASES if c[0] != "exponential"],
    ids=[i for c, i in zip(CASES, IDS) if c[0] != "exponential"],
)
def test_extreme_inputs_stay_finite(name, params, dtype):
    z = np.array([[-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4]] * 3, dtype=dtype)
    kind = core.KINDS[name]
    out = np.empty_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.activation_forward(kind, z, *params, out, 1)
        dz = np.empty_like(z)
        core.activation_backward(kind, np.ones_like(z), z, out, *params, dz, 1)
    assert np.isfinite(out).all() and np.isfinite(dz).all()
    if name not in (
        "selu",
        "elu",
        "gelu",
        "gelu_tanh",
        "softsign",
        "swish",
        "log_softmax",
        "linear",
        "mish",
        "hard_silu",
        "log_sigmoid",
        "celu",
    ):
        # Bounded activations are exact at the extremes too.
        np.testing.assert_allclose(out, scipy_formula(name, z, *params), **tol(dtype))


def test_softmax_huge_logits_is_a_one_hot():
    z = np.array([[1e4, -1e4, 0.0], [5e3, 5e3, -1e4]], dtype=np.float32)
    out = np.empty_like(z)
    core.activation_forward(core.KINDS["softmax"], z, 0, 0, 0, out, 1)
    np.testing.assert_allclose(out, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)
    core.activation_forward(core.KINDS["log_softmax"], z, 0, 0, 0, out, 1)
    np.testing.assert_allclose(out, log_softmax(z.astype(np.float64), axis=1), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_bias_forward_updates_z_and_may_write_in_place(name, params, dtype):
    rng = np.random.default_rng(2)
    z0 = rng.standard_normal((8, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    kind = core.KINDS[name]
    z, y = z0.copy(), np.empty_like(z0)
    core.bias_activation_forward(kind, z, bias, *params, y, 1)
    np.testing.assert_array_equal(z, z0 + bias)
    expected = np.empty_like(z)
    core.activation_forward(kind, z, *params, expected, 1)
    np.testing.assert_array_equal(y, expected)
    inplace = z0.copy()
    core.bias_activation_forward(kind, inplace, bias, *params, inplace, 1)
    np.testing.assert_array_equal(inplace, expected)


def _away_from_kinks(name, params, rng, shape):
    """Random points at least 1e-3 away from the points where the derivative jumps."""
    a, b, c = params
    kinks = {
        "relu": [0.0, b, c],
        "hard_sigmoid": [-3.0, 3.0],
        "hard_silu": [-3.0, 3.0],
        "elu": [0.0],
        "selu": [0.0],
        "celu": [0.0],
        "binary_step": [0.0],
    }.get(name, [])
    z = rng.standard_normal(shape) * 2
    for k in kinks:
        if np.isfinite(k):
            z = np.where(np.abs(z - k) < 1e-3, z + 0.01, z)
    return z


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_derivative_matches_finite_differences(name, params):
    rng = np.random.default_rng(3)
    kind = core.KINDS[name]
    z = _away_from_kinks(name, params, rng, (6, 7))
    r = rng.standard_normal(z.shape)

    def f(zz):
        out = np.empty_like(zz)
        core.activation_forward(kind, zz, *params, out, 1)
        return np.sum(r * out)

    y = np.empty_like(z)
    core.activation_forward(kind, z, *params, y, 1)
    z_arg = z if kind in core.NEEDS_INPUT else np.empty((0, 0))
    dz = np.empty_like(z)
    core.activation_backward(kind, r, z_arg, y, *params, dz, 1)
    eps = 1e-6
    num = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        num[idx] = (f(zp) - f(zm)) / (2 * eps)
    err = np.linalg.norm(dz - num) / max(np.linalg.norm(dz) + np.linalg.norm(num), 1e-300)
    if name == "binary_step":
        assert np.all(dz == 0) and np.all(num == 0)
    else:
        assert err < 1e-6, err
    expected = np.empty_like(z)
    ref.activation_backward(kind, r, z, y, *params, expected, 1)
    np.testing.assert_allclose(dz, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_backward_float32_matches_reference_and_in_place(name, params, dtype):
    rng = np.random.default_rng(4)
    kind = core.KINDS[name]
    z = rng.standard_normal((9, 11)).astype(dtype)
    y = np.empty_like(z)
    core.activation_forward(kind, z, *params, y, 1)
    dy = rng.standard_normal(z.shape).astype(dtype)
    dz = np.empty_like(z)
    core.activation_backward(kind, dy, z, y, *params, dz, 2)
    expected = np.empty_like(z)
    ref.activation_backward(kind, dy, z, y, *params, expected, 1)
    np.testing.assert_allclose(dz, expected, **tol(dtype))
    core.activation_backward(kind, dy, z, y, *params, dy, 1)
    np.testing.assert_array_equal(dy, dz)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "softmax", "mish", "hard_silu", "log_sigmoid"])
def test_results_do_not_depend_on_thread_count(name):
    rng = np.random.default_rng(5)
    kind = core.KINDS[name]
    z = rng.standard_normal((300, 257)).astype(np.float32)
    bias = rng.standard_normal(257).astype(np.float32)
    outs = []
    for threads in (1, 2, 4):
        zz, y, dz = z.copy(), np.empty_like(z), np.empty_like(z)
        core.bias_activation_forward(kind, zz, bias, 0, INF, 0, y, threads)
        core.activation_backward(kind, z, zz, y, 0, INF, 0, dz, threads)
        outs.append((y, dz))
    for y, dz in outs[1:]:
        np.testing.assert_array_equal(y, outs[0][0])
        np.testing.assert_array_equal(dz, outs[0][1])


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 40), cols=st.integers(1, 5000), kind=st.sampled_from(sorted(core.KINDS.values())))
def test_any_shape_matches_reference(rows, cols, kind):
    # Flat blocks straddle rows; rows of any length and empty arrays work.
    z = np.random.default_rng(rows * cols).standard_normal((rows, cols))
    out, expected = np.empty_like(z), np.empty_like(z)
    core.activation_forward(kind, z, 0.1, 3.0, 0.0, out, 2)
    ref.activation_forward(kind, z, 0.1, 3.0, 0.0, expected, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_shape_errors():
    z = np.zeros((3, 4))
    relu = core.KINDS["relu"]
    with pytest.raises(ValueError, match=r"out must have shape \(3, 4\), got \(4, 3\)"):
        core.activation_forward(relu, z, 0, INF, 0, np.zeros((4, 3)), 1)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        core.bias_activation_forward(relu, z, np.zeros(3), 0, INF, 0, z, 1)
    with pytest.raises(ValueError, match=r"activation_forward: kind must be in \[0, 20\), got 99"):
        core.activation_forward(99, z, 0, INF, 0, z, 1)
    with pytest.raises(ValueError, match=r"z must have shape \(3, 4\), got \(0, 0\)"):
        core.activation_backward(core.KINDS["gelu"], z, np.empty((0, 0)), z, 0, 0, 0, z.copy(), 1)
    with pytest.raises(ValueError, match=r"z must have shape \(2, >= 1\), got \(2, 0\)"):
        core.activation_forward(core.KINDS["softmax"], np.zeros((2, 0)), 0, 0, 0, np.zeros((2, 0)), 1)
    with pytest.raises(ValueError, match="dtype mismatch"):
        core.activation_forward(relu, z, 0, INF, 0, np.zeros((3, 4), np.float32), 1)


@pytest.mark.parametrize("name, exact", [("sigmoid", expit), ("tanh", np.tanh), ("swish", lambda x: x * expit(x))])
def test_float32_fast_math_is_accurate_over_the_whole_range(name, exact):
    # float32 sigmoid/tanh use polynomial exp/tanh (ranvier.core._fastmath): check them
    # densely near 0 (tanh's polynomial branch and its switch point), across the
    # whole range and into saturation, at extremes and at every SIMD-tail length.
    z = np.concatenate(
        [
            np.linspace(-100, 100, 40001),
            np.linspace(-1, 1, 40001),
            [0.0, -0.0, 1e-30, -1e-30, 0.625, -0.625, 88.0, -88.0, 87.5, -87.5, 1e4, -1e4, 3.4e38, -3.4e38],
        ]
    ).astype(np.float32)
    want = exact(z.astype(np.float64))
    for n in (len(z), 1, 7, 9, 17):  # vector body and scalar tails
        out = np.empty((1, n), np.float32)
        core.activation_forward(core.KINDS[name], z[None, :n], 0, 0, 0, out, 1)
        assert not np.isnan(out).any()
        np.testing.assert_allclose(out[0], want[:n], rtol=4e-7, atol=3e-8)


@pytest.mark.parametrize("name, exact", [("sigmoid", expit), ("tanh", np.tanh)])
def test_float32_fast_math_limits_and_nan(name, exact):
    z = np.array([[np.nan, 0.5, -np.inf, np.inf, -np.nan, 1.0]], np.float32)
    out = np.empty_like(z)
    core.activation_forward(core.KINDS[name], z, 0, 0, 0, out, 1)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(out, exact(z.astype(np.float64)), rtol=4e-7)  # NaN where NaN


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 3000), cols=st.integers(1, 70), kind=st.sampled_from(["relu", "tanh", "softmax"]))
def test_bias_spans_of_many_short_rows_match_numpy(rows, cols, kind):
    # A conv's rows are a few channels: spans then hold many rows, the last one partial.
    rng = np.random.default_rng(rows * 100 + cols)
    z, bias = rng.standard_normal((rows, cols)), rng.standard_normal(cols)
    y, expected = np.empty_like(z), np.empty_like(z)
    ref.bias_activation_forward(core.KINDS[kind], z.copy(), bias, 0, INF, 0, expected, 1)
    core.bias_activation_forward(core.KINDS[kind], z, bias, 0, INF, 0, y, 2)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


def test_new_kinds_match_torch():
    """mish, hard_silu (hardswish), log_sigmoid and celu against torch.nn.functional, with gradients."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    z = rng.standard_normal((5, 40)) * 4
    r = rng.standard_normal(z.shape)
    for name, a, fn in [
        ("mish", 0.0, F.mish),
        ("hard_silu", 0.0, F.hardswish),
        ("log_sigmoid", 0.0, F.logsigmoid),
        # alpha a power of 2: torch's celu gradient rounds 1 / alpha to float32.
        ("celu", 0.5, lambda t: F.celu(t, alpha=0.5)),
    ]:
        kind = core.KINDS[name]
        y, dz = np.empty_like(z), np.empty_like(z)
        core.activation_forward(kind, z, a, INF, 0, y, 1)
        core.activation_backward(kind, r, z, y, a, INF, 0, dz, 1)
        t = torch.tensor(z, requires_grad=True)
        out = fn(t)
        out.backward(torch.tensor(r))
        np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(dz, t.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
