"""Every op's value against its NumPy / SciPy reference, and Keras' names and defaults."""

import inspect
import math

import numpy as np
import pytest
from scipy import special

import ranvier as rv

ops = rv.ops
rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((4,))
P = rng.uniform(0.5, 2.0, (3, 4))
U = rng.uniform(-0.8, 0.8, (3, 4))
X4 = rng.standard_normal((2, 5, 6, 3))
K4 = rng.standard_normal((3, 2, 3, 4))
LABELS = np.array([0, 3, 1])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _conv_reference(x, k, stride, pads, out_hw):
    """Direct 2-D cross-correlation, NHWC, zero padding ``pads`` = (top, left)."""
    n, h, w, c = x.shape
    kh, kw, _, f = k.shape
    padded = np.zeros((n, h + 2 * kh, w + 2 * kw, c))
    padded[:, pads[0] : pads[0] + h, pads[1] : pads[1] + w] = x
    out = np.zeros((n,) + out_hw + (f,))
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            patch = padded[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, i, j] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


CASES = [
    ("add", lambda: ops.add(A, B), A + B),
    ("subtract", lambda: ops.subtract(A, B), A - B),
    ("multiply", lambda: ops.multiply(A, 2), A * 2),
    ("divide", lambda: ops.divide(A, P), A / P),
    ("true_divide", lambda: ops.true_divide(A, P), A / P),
    ("floor_divide", lambda: ops.floor_divide(A, P), np.floor_divide(A, P)),
    ("mod", lambda: ops.mod(A, P), np.mod(A, P)),
    ("power", lambda: ops.power(P, A), P**A),
    ("pow", lambda: ops.pow(P, 2), P**2),
    ("negative", lambda: ops.negative(A), -A),
    ("square", lambda: ops.square(A), A * A),
    ("sqrt", lambda: ops.sqrt(P), np.sqrt(P)),
    ("rsqrt", lambda: ops.rsqrt(P), 1 / np.sqrt(P)),
    ("abs", lambda: ops.abs(A), np.abs(A)),
    ("absolute", lambda: ops.absolute(A), np.abs(A)),
    ("sign", lambda: ops.sign(A), np.sign(A)),
    ("exp", lambda: ops.exp(A), np.exp(A)),
    ("exp2", lambda: ops.exp2(A), 2.0**A),
    ("expm1", lambda: ops.expm1(A), np.expm1(A)),
    ("log", lambda: ops.log(P), np.log(P)),
    ("log1p", lambda: ops.log1p(P), np.log1p(P)),
    ("log2", lambda: ops.log2(P), np.log2(P)),
    ("log10", lambda: ops.log10(P), np.log10(P)),
    ("reciprocal", lambda: ops.reciprocal(P), 1 / P),
    ("erf", lambda: ops.erf(A), special.erf(A)),
    ("sin", lambda: ops.sin(A), np.sin(A)),
    ("cos", lambda: ops.cos(A), np.cos(A)),
    ("tan", lambda: ops.tan(U), np.tan(U)),
    ("arcsin", lambda: ops.arcsin(U), np.arcsin(U)),
    ("arccos", lambda: ops.arccos(U), np.arccos(U)),
    ("arctan", lambda: ops.arctan(A), np.arctan(A)),
    ("sinh", lambda: ops.sinh(A), np.sinh(A)),
    ("cosh", lambda: ops.cosh(A), np.cosh(A)),
    ("tanh", lambda: ops.tanh(A), np.tanh(A)),
    ("arcsinh", lambda: ops.arcsinh(A), np.arcsinh(A)),
    ("arccosh", lambda: ops.arccosh(P + 1), np.arccosh(P + 1)),
    ("arctanh", lambda: ops.arctanh(U), np.arctanh(U)),
    ("clip", lambda: ops.clip(A, -0.5, 0.5), np.clip(A, -0.5, 0.5)),
    ("maximum", lambda: ops.maximum(A, B), np.maximum(A, B)),
    ("minimum", lambda: ops.minimum(A, 0.0), np.minimum(A, 0.0)),
    ("where", lambda: ops.where(A > 0, A, B), np.where(A > 0, A, B)),
    ("where_nonzero", lambda: ops.where(A > 0)[1], np.nonzero(A > 0)[1]),
    ("floor", lambda: ops.floor(A), np.floor(A)),
    ("ceil", lambda: ops.ceil(A), np.ceil(A)),
    ("round", lambda: ops.round(A, 1), np.round(A, 1)),
    ("equal", lambda: ops.equal(A, A[0]), A == A[0]),
    ("not_equal", lambda: ops.not_equal(A, A[0]), A != A[0]),
    ("less", lambda: ops.less(A, B), A < B),
    ("less_equal", lambda: ops.less_equal(A, B), A <= B),
    ("greater", lambda: ops.greater(A, B), A > B),
    ("greater_equal", lambda: ops.greater_equal(A, B), A >= B),
    ("logical_and", lambda: ops.logical_and(A > 0, B > 0), (A > 0) & (B > 0)),
    ("logical_or", lambda: ops.logical_or(A > 0, B > 0), (A > 0) | (B > 0)),
    ("logical_xor", lambda: ops.logical_xor(A > 0, B > 0), (A > 0) ^ (B > 0)),
    ("logical_not", lambda: ops.logical_not(A > 0), A <= 0),
    # reductions
    ("sum", lambda: ops.sum(A, axis=0), A.sum(0)),
    ("mean", lambda: ops.mean(A, axis=(0, 1), keepdims=True), A.mean(keepdims=True)),
    ("max", lambda: ops.max(A, axis=1), A.max(1)),
    ("min", lambda: ops.min(A), A.min()),
    ("prod", lambda: ops.prod(A, axis=1), A.prod(1)),
    ("var", lambda: ops.var(A, axis=1), A.var(1)),
    ("std", lambda: ops.std(A), A.std()),
    ("logsumexp", lambda: ops.logsumexp(A, axis=1), special.logsumexp(A, axis=1)),
    ("logsumexp_large", lambda: ops.logsumexp(np.array([1000.0, 1000.0])), 1000 + math.log(2)),
    ("argmax", lambda: ops.argmax(A, axis=1), A.argmax(1)),
    ("argmin", lambda: ops.argmin(A, axis=0, keepdims=True), A.argmin(0)[None]),
    ("norm", lambda: ops.norm(A), np.linalg.norm(A)),
    ("norm_ord", lambda: ops.norm(A, ord=1, axis=0), np.linalg.norm(A, 1, axis=0)),
    ("norm_matrix", lambda: ops.norm(A, ord="nuc"), np.linalg.norm(A, "nuc")),
    ("cumsum", lambda: ops.cumsum(A, axis=1), A.cumsum(1)),
    ("all", lambda: ops.all(A > -10), True),
    ("any", lambda: ops.any(A > 10, axis=0), np.zeros(4, bool)),
    # shapes
    ("reshape", lambda: ops.reshape(A, (2, -1)), A.reshape(2, 6)),
    ("transpose", lambda: ops.transpose(A), A.T),
    ("expand_dims", lambda: ops.expand_dims(A, -1), A[..., None]),
    ("squeeze", lambda: ops.squeeze(A[None]), A),
    ("moveaxis", lambda: ops.moveaxis(X4, 3, 1), np.moveaxis(X4, 3, 1)),
    ("swapaxes", lambda: ops.swapaxes(X4, 1, 3), np.swapaxes(X4, 1, 3)),
    ("concatenate", lambda: ops.concatenate([A, A], axis=1), np.concatenate([A, A], 1)),
    ("stack", lambda: ops.stack([A, A], axis=2), np.stack([A, A], 2)),
    ("split", lambda: ops.split(A, [1], axis=0)[1], A[1:]),
    ("unstack", lambda: ops.unstack(A, axis=1)[2], A[:, 2]),
    ("take", lambda: ops.take(A, [2, 0], axis=1), A[:, [2, 0]]),
    (
        "take_along_axis",
        lambda: ops.take_along_axis(A, np.array([[1], [0], [3]]), axis=1),
        np.take_along_axis(A, np.array([[1], [0], [3]]), 1),
    ),
    ("get_item", lambda: ops.get_item(A, (slice(1, None), 2)), A[1:, 2]),
    ("slice", lambda: ops.slice(A, (1, 1), (2, 2)), A[1:3, 1:3]),
    ("pad", lambda: ops.pad(A, 1), np.pad(A, 1)),
    (
        "pad_symmetric",
        lambda: ops.pad(A, ((0, 1), (2, 0)), mode="symmetric"),
        np.pad(A, ((0, 1), (2, 0)), mode="symmetric"),
    ),
    ("tile", lambda: ops.tile(B, 3), np.tile(B, 3)),
    ("repeat", lambda: ops.repeat(A, 2, axis=1), np.repeat(A, 2, 1)),
    ("flip", lambda: ops.flip(A), A[::-1, ::-1]),
    ("roll", lambda: ops.roll(B, 1), np.roll(B, 1)),
    ("broadcast_to", lambda: ops.broadcast_to(B, (2, 4)), np.stack([B, B])),
    ("tril", lambda: ops.tril(A), np.tril(A)),
    ("triu", lambda: ops.triu(A, 1), np.triu(A, 1)),
    ("cast", lambda: ops.cast(A, "int32"), A.astype(np.int32)),
    ("one_hot", lambda: ops.one_hot(np.array([1, -1, 2]), 3), np.array([[0, 1, 0], [0, 0, 0], [0, 0, 1]], np.float32)),
    ("one_hot_axis", lambda: ops.nn.one_hot(LABELS, 4, axis=0), np.eye(4, dtype=np.float32)[LABELS].T),
    ("zeros", lambda: ops.zeros((2, 3)), np.zeros((2, 3), np.float32)),
    ("ones", lambda: ops.ones(2, dtype="int32"), np.ones(2, np.int32)),
    ("full", lambda: ops.full((2,), 1.5), np.full(2, 1.5, np.float32)),
    ("zeros_like", lambda: ops.zeros_like(A), np.zeros_like(A)),
    ("ones_like", lambda: ops.ones_like(A, dtype="float32"), np.ones(A.shape, np.float32)),
    ("full_like", lambda: ops.full_like(A, 2.0), np.full_like(A, 2.0)),
    ("arange", lambda: ops.arange(5), np.arange(5)),
    ("arange_float", lambda: ops.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    ("eye", lambda: ops.eye(3), np.eye(3, dtype=np.float32)),
    ("linspace", lambda: ops.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32)),
    ("convert_to_numpy", lambda: ops.convert_to_numpy([1, 2]), np.array([1, 2])),
    ("convert_to_tensor_floats", lambda: ops.convert_to_tensor([1.0, 2.0]), np.array([1, 2], np.float32)),
    # products
    ("matmul", lambda: ops.matmul(A, A.T), A @ A.T),
    (
        "matmul_float32",
        lambda: ops.matmul(A.astype(np.float32), B.astype(np.float32)[:, None]),
        (A @ B[:, None]).astype(np.float32),
    ),
    ("matmul_batched", lambda: ops.matmul(X4, X4.swapaxes(-1, -2)), X4 @ X4.swapaxes(-1, -2)),
    ("dot", lambda: ops.dot(X4, K4[0]), np.dot(X4, K4[0])),
    ("tensordot", lambda: ops.tensordot(A, A, axes=([0], [0])), np.tensordot(A, A, ([0], [0]))),
    ("einsum", lambda: ops.einsum("ij,j->i", A, B), A @ B),
    ("outer", lambda: ops.outer(B, B), np.outer(B, B)),
    # nn
    ("relu", lambda: ops.relu(A), np.maximum(A, 0)),
    ("relu6", lambda: ops.relu6(A * 10), np.clip(A * 10, 0, 6)),
    ("sigmoid", lambda: ops.sigmoid(A), _sigmoid(A)),
    ("nn_tanh", lambda: ops.nn.tanh(A), np.tanh(A)),
    ("silu", lambda: ops.silu(A), A * _sigmoid(A)),
    ("elu", lambda: ops.elu(A, 0.5), np.where(A > 0, A, 0.5 * np.expm1(A))),
    ("selu", lambda: ops.selu(A), 1.0507009873554805 * np.where(A > 0, A, 1.6732632423543772 * np.expm1(A))),
    ("softplus", lambda: ops.softplus(A), np.logaddexp(0, A)),
    ("softsign", lambda: ops.softsign(A), A / (1 + np.abs(A))),
    ("leaky_relu", lambda: ops.leaky_relu(A), np.where(A > 0, A, 0.2 * A)),
    ("hard_sigmoid", lambda: ops.hard_sigmoid(A * 4), np.clip(A * 4 + 3, 0, 6) / 6),
    ("log_sigmoid", lambda: ops.log_sigmoid(A), np.log(_sigmoid(A))),
    ("gelu", lambda: ops.gelu(A), 0.5 * A * (1 + np.tanh(math.sqrt(2 / math.pi) * (A + 0.044715 * A**3)))),
    ("gelu_exact", lambda: ops.gelu(A, approximate=False), 0.5 * A * (1 + special.erf(A / math.sqrt(2)))),
    ("softmax", lambda: ops.softmax(A), _softmax(A)),
    ("softmax_axis", lambda: ops.softmax(A, axis=0), _softmax(A, 0)),
    ("log_softmax", lambda: ops.log_softmax(A), np.log(_softmax(A))),
    ("moments", lambda: ops.moments(A, [0])[1], A.var(0)),
    (
        "batch_normalization",
        lambda: ops.batch_normalization(A, B, P[0], 1, offset=B, scale=P[1]),
        (A - B) / np.sqrt(P[0] + 1e-3) * P[1] + B,
    ),
    (
        "binary_crossentropy",
        lambda: ops.binary_crossentropy(U > 0, P / 2.5),
        -((U > 0) * np.log(P / 2.5) + (U <= 0) * np.log(1 - P / 2.5)),
    ),
    (
        "binary_crossentropy_logits",
        lambda: ops.binary_crossentropy(U > 0, A, from_logits=True),
        -((U > 0) * np.log(_sigmoid(A)) + (U <= 0) * np.log(1 - _sigmoid(A))),
    ),
    (
        "categorical_crossentropy",
        lambda: ops.categorical_crossentropy(_softmax(U), P),
        -np.sum(_softmax(U) * np.log(P / P.sum(1, keepdims=True)), 1),
    ),
    (
        "categorical_crossentropy_logits",
        lambda: ops.categorical_crossentropy(_softmax(U), A, from_logits=True),
        -np.sum(_softmax(U) * np.log(_softmax(A)), 1),
    ),
    (
        "sparse_categorical_crossentropy",
        lambda: ops.sparse_categorical_crossentropy(LABELS, A, from_logits=True),
        -np.log(_softmax(A))[np.arange(3), LABELS],
    ),
    (
        "sparse_categorical_crossentropy_ignored",
        lambda: ops.sparse_categorical_crossentropy(np.array([[0, -1]]), A[:2].reshape(1, 2, 4), from_logits=True),
        np.array([[-np.log(_softmax(A[0]))[0], 0.0]]),
    ),
    (
        "sparse_categorical_crossentropy_axis0",
        lambda: ops.sparse_categorical_crossentropy(np.array([1, 2, 0, 0]), A, from_logits=True, axis=0),
        -np.log(_softmax(A, 0))[[1, 2, 0, 0], range(4)],
    ),
    ("conv", lambda: ops.conv(X4, K4), _conv_reference(X4, K4, 1, (0, 0), (3, 5))),
    (
        "conv_same_strided",
        lambda: ops.conv(X4, K4, strides=2, padding="same"),
        _conv_reference(X4, K4, 2, (1, 0), (3, 3)),
    ),
    ("max_pool", lambda: ops.max_pool(X4[:, :4], 2), X4[:, :4].reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4))),
    (
        "average_pool",
        lambda: ops.average_pool(X4[:, :4], (2, 3)),
        X4[:, :4].reshape(2, 2, 2, 2, 3, 3).mean(axis=(2, 4)),
    ),
]


@pytest.mark.parametrize("call, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op_matches_numpy(call, expected):
    out = call()
    out = out[0] if isinstance(out, list) else out
    expected = np.asarray(expected)
    assert np.shape(out) == expected.shape
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(out, expected)
        return
    assert np.result_type(out) == expected.dtype or expected.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-6 if np.result_type(out) == np.float32 else 1e-10, atol=1e-7)


def test_float_ops_of_integers_give_floatx():
    assert ops.exp(np.arange(3)).dtype == np.float32
    assert ops.mean(np.arange(3)).dtype == np.float32
    assert ops.sigmoid(np.arange(3)).dtype == np.float32
    assert ops.add(np.float32(1) * np.ones(2, np.float32), 1.5).dtype == np.float32  # weak Python scalars


@pytest.mark.parametrize(
    "module, names",
    [
        (ops, ["add", "matmul", "relu", "softmax", "stop_gradient", "logsumexp", "conv", "GradientTape"]),
        (ops.nn, ["relu", "gelu", "conv", "max_pool", "moments", "sparse_categorical_crossentropy"]),
        (ops.numpy, ["add", "einsum", "take_along_axis", "cumsum", "tanh"]),
    ],
)
def test_keras_names(module, names):
    for name in names:
        assert callable(getattr(module, name)), name
    assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize(
    "fn, defaults",
    [
        (ops.nn.gelu, {"approximate": True}),
        (ops.conv, {"strides": 1, "padding": "valid", "data_format": None, "dilation_rate": 1}),
        (ops.max_pool, {"strides": None, "padding": "valid", "data_format": None}),
        (ops.leaky_relu, {"negative_slope": 0.2}),
        (ops.batch_normalization, {"offset": None, "scale": None, "epsilon": 1e-3}),
        (ops.sparse_categorical_crossentropy, {"from_logits": False, "axis": -1}),
        (ops.max, {"axis": None, "keepdims": False, "initial": None}),
        (ops.split, {"axis": 0}),
        (ops.cumsum, {"axis": None, "dtype": None}),
    ],
)
def test_keras_defaults(fn, defaults):
    params = inspect.signature(fn).parameters
    assert {k: params[k].default for k in defaults} == defaults
