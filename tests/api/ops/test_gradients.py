"""Every differentiable op's gradient against float64 central differences.

Each case is (op, input shapes, domain); the check projects the output on a
random direction r (the output gradient), takes the tape's gradient of
sum(r * f) for every input, and compares it with central differences of the
same function run eagerly on plain arrays (which also checks that the traced
and eager paths compute the same value).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranvier as rv
from ranvier.testing import numerical_gradient, relative_error

ops = rv.ops

NORMAL, POSITIVE, UNIT, ABOVE_ONE, PROB = "normal", "positive", "unit", "above_one", "prob"


def _draw(rng, shape, domain):
    if domain == POSITIVE:
        return rng.uniform(0.5, 2.0, shape)
    if domain == UNIT:
        return rng.uniform(-0.8, 0.8, shape)
    if domain == ABOVE_ONE:
        return rng.uniform(1.2, 3.0, shape)
    if domain == PROB:
        return rng.uniform(0.1, 0.9, shape)
    return rng.standard_normal(shape)


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_op_gradient(fn, arrays, tol=1e-6, seed=0):
    """Assert the tape's gradients of ``fn(*arrays)`` match central differences."""
    rng = np.random.default_rng(seed)
    with rv.GradientTape() as tape:
        xs = [tape.watch(a) for a in arrays]
        ys = _outputs(fn(*xs))
    assert all(isinstance(y, ops.Tensor) for y in ys)
    eager = _outputs(fn(*arrays))
    for y, e in zip(ys, eager):
        assert not isinstance(e, ops.Tensor)
        np.testing.assert_allclose(y.value, e, rtol=1e-12, atol=1e-12)
    rs = [rng.standard_normal(np.shape(y.value)) for y in ys]
    grads = tape.gradient(ys, xs, output_gradients=rs)

    def loss():
        return float(sum(np.sum(np.asarray(o) * r) for o, r in zip(_outputs(fn(*arrays)), rs)))

    for i, (a, g) in enumerate(zip(arrays, grads)):
        assert g is not None, f"input {i} got no gradient"
        assert g.shape == a.shape and g.dtype == a.dtype
        err = relative_error(g, numerical_gradient(loss, a))
        assert err < tol, f"input {i}: relative error {err:.2e}"


COND = np.array([[True, False, True, False]])
IDX = np.array([[0, 2], [2, 2], [1, 0]])


# (id, fn, [(shape, domain), ...])
CASES = [
    ("add_broadcast", ops.add, [((3, 4), NORMAL), ((4,), NORMAL)]),
    ("add_scalar", lambda x: x + 2.0, [((3,), NORMAL)]),
    ("subtract_broadcast", ops.subtract, [((2, 1, 3), NORMAL), ((4, 3), NORMAL)]),
    ("rsub_operator", lambda x: 1.0 - x, [((3,), NORMAL)]),
    ("multiply_broadcast", ops.multiply, [((2, 1, 3), NORMAL), ((4, 1), NORMAL)]),
    ("divide", ops.divide, [((3, 4), NORMAL), ((3, 1), POSITIVE)]),
    ("true_divide", ops.true_divide, [((3,), NORMAL), ((3,), POSITIVE)]),
    ("rtruediv_operator", lambda x: 2.0 / x, [((3,), POSITIVE)]),
    ("mod", ops.mod, [((5,), POSITIVE), ((5,), POSITIVE)]),
    ("power", ops.power, [((2, 3), POSITIVE), ((3,), NORMAL)]),
    ("power_operator_int", lambda x: x**3, [((4,), NORMAL)]),
    ("maximum", ops.maximum, [((3, 4), NORMAL), ((4,), NORMAL)]),
    ("minimum", ops.minimum, [((3, 4), NORMAL), ((3, 1), NORMAL)]),
    ("negative", ops.negative, [((3,), NORMAL)]),
    ("square", ops.square, [((2, 3), NORMAL)]),
    ("sqrt", ops.sqrt, [((4,), POSITIVE)]),
    ("rsqrt", ops.rsqrt, [((4,), POSITIVE)]),
    ("abs", ops.abs, [((5,), NORMAL)]),
    ("exp", ops.exp, [((2, 3), NORMAL)]),
    ("exp2", ops.exp2, [((3,), NORMAL)]),
    ("expm1", ops.expm1, [((3,), NORMAL)]),
    ("log", ops.log, [((3,), POSITIVE)]),
    ("log1p", ops.log1p, [((3,), POSITIVE)]),
    ("log2", ops.log2, [((3,), POSITIVE)]),
    ("log10", ops.log10, [((3,), POSITIVE)]),
    ("reciprocal", ops.reciprocal, [((3,), POSITIVE)]),
    ("erf", ops.erf, [((4,), NORMAL)]),
    ("sin", ops.sin, [((3,), NORMAL)]),
    ("cos", ops.cos, [((3,), NORMAL)]),
    ("tan", ops.tan, [((3,), UNIT)]),
    ("arcsin", ops.arcsin, [((3,), UNIT)]),
    ("arccos", ops.arccos, [((3,), UNIT)]),
    ("arctan", ops.arctan, [((3,), NORMAL)]),
    ("sinh", ops.sinh, [((3,), NORMAL)]),
    ("cosh", ops.cosh, [((3,), NORMAL)]),
    ("tanh", ops.tanh, [((3,), NORMAL)]),
    ("arcsinh", ops.arcsinh, [((3,), NORMAL)]),
    ("arccosh", ops.arccosh, [((3,), ABOVE_ONE)]),
    ("arctanh", ops.arctanh, [((3,), UNIT)]),
    ("clip", lambda x: ops.clip(x, -0.5, 0.5), [((6,), NORMAL)]),
    ("where_broadcast", lambda a, b: ops.where(COND, a, b), [((3, 4), NORMAL), ((4,), NORMAL)]),
    ("copy", ops.copy, [((3,), NORMAL)]),
    # reductions
    ("sum_all", ops.sum, [((3, 4), NORMAL)]),
    ("sum_axis", lambda x: ops.sum(x, axis=1), [((3, 4, 2), NORMAL)]),
    ("sum_axes_keepdims", lambda x: ops.sum(x, axis=(0, 2), keepdims=True), [((3, 4, 2), NORMAL)]),
    ("mean_axis", lambda x: ops.mean(x, axis=-1), [((3, 4), NORMAL)]),
    ("max_axis", lambda x: ops.max(x, axis=1), [((3, 4), NORMAL)]),
    ("max_initial", lambda x: ops.max(x, axis=0, initial=0.0), [((2, 5), NORMAL)]),
    ("min_all_keepdims", lambda x: ops.min(x, keepdims=True), [((3, 4), NORMAL)]),
    ("prod_axis", lambda x: ops.prod(x, axis=0), [((3, 4), NORMAL)]),
    ("prod_with_zero", lambda x: ops.prod(x * np.array([1.0, 0.0, 1.0, 1.0])), [((4,), NORMAL)]),
    ("var_axis", lambda x: ops.var(x, axis=1), [((3, 5), NORMAL)]),
    ("std_all", ops.std, [((3, 5), NORMAL)]),
    ("logsumexp", lambda x: ops.logsumexp(x, axis=-1), [((3, 5), NORMAL)]),
    ("norm_all", ops.norm, [((3, 4), NORMAL)]),
    ("norm_axis", lambda x: ops.norm(x, axis=1, keepdims=True), [((3, 4), NORMAL)]),
    ("norm_l1", lambda x: ops.norm(x, ord=1, axis=-1), [((3, 4), NORMAL)]),
    ("norm_inf", lambda x: ops.norm(x, ord=np.inf, axis=-1), [((3, 4), NORMAL)]),
    ("norm_p3", lambda x: ops.norm(x, ord=3, axis=0), [((3, 4), NORMAL)]),
    ("norm_fro", lambda x: ops.norm(x, ord="fro", axis=(1, 2)), [((2, 3, 4), NORMAL)]),
    ("cumsum_axis", lambda x: ops.cumsum(x, axis=1), [((3, 4), NORMAL)]),
    ("cumsum_flat", ops.cumsum, [((3, 4), NORMAL)]),
    # shapes and indexing
    ("reshape", lambda x: ops.reshape(x, (4, -1)), [((2, 6), NORMAL)]),
    ("transpose", lambda x: ops.transpose(x, (1, 2, 0)), [((2, 3, 4), NORMAL)]),
    ("transpose_T", lambda x: x.T, [((2, 3), NORMAL)]),
    ("expand_dims", lambda x: ops.expand_dims(x, 1), [((2, 3), NORMAL)]),
    ("squeeze", lambda x: ops.squeeze(x, axis=1), [((2, 1, 3), NORMAL)]),
    ("moveaxis", lambda x: ops.moveaxis(x, 0, -1), [((2, 3, 4), NORMAL)]),
    ("swapaxes", lambda x: ops.swapaxes(x, 0, 2), [((2, 3, 4), NORMAL)]),
    ("ravel", ops.ravel, [((2, 3), NORMAL)]),
    (
        "concatenate",
        lambda a, b, c: ops.concatenate([a, b, c], axis=1),
        [((2, 1), NORMAL), ((2, 3), NORMAL), ((2, 2), NORMAL)],
    ),
    ("concatenate_constant", lambda a: ops.concatenate([a, np.ones((2, 2))], axis=0), [((1, 2), NORMAL)]),
    ("stack", lambda a, b: ops.stack([a, b], axis=1), [((2, 3), NORMAL), ((2, 3), NORMAL)]),
    ("split", lambda x: ops.split(x, [1, 3], axis=1), [((2, 5), NORMAL)]),
    ("split_one_used", lambda x: ops.split(x, 2)[1] * 3.0, [((4, 2), NORMAL)]),
    ("unstack", lambda x: ops.unstack(x, axis=1), [((2, 3), NORMAL)]),
    ("iterate", lambda x: sum(row * (i + 1) for i, row in enumerate(x)), [((3, 2), NORMAL)]),
    ("take_repeated", lambda x: ops.take(x, np.array([0, 2, 2, 1]), axis=1), [((2, 3), NORMAL)]),
    ("take_flat", lambda x: ops.take(x, np.array([[5, 0], [5, 5]])), [((2, 3), NORMAL)]),
    ("take_along_axis", lambda x: ops.take_along_axis(x, IDX, axis=1), [((3, 4), NORMAL)]),
    ("getitem_basic", lambda x: x[1:, ::2], [((3, 4), NORMAL)]),
    ("getitem_int", lambda x: x[1], [((3, 4), NORMAL)]),
    ("getitem_fancy", lambda x: x[[0, 0, 2]], [((3, 4), NORMAL)]),
    ("getitem_mask", lambda x: x[np.array([True, False, True])], [((3, 2), NORMAL)]),
    ("slice", lambda x: ops.slice(x, (1, 0), (2, 3)), [((3, 4), NORMAL)]),
    ("pad_constant", lambda x: ops.pad(x, ((1, 2), (0, 1)), constant_values=1.5), [((2, 3), NORMAL)]),
    ("pad_reflect", lambda x: ops.pad(x, ((2, 1), (1, 1)), mode="reflect"), [((3, 3), NORMAL)]),
    ("tile", lambda x: ops.tile(x, (2, 1, 3)), [((2, 3), NORMAL)]),
    ("repeat_int", lambda x: ops.repeat(x, 2, axis=0), [((2, 3), NORMAL)]),
    ("repeat_array", lambda x: ops.repeat(x, np.array([0, 2, 1])), [((3,), NORMAL)]),
    ("flip", lambda x: ops.flip(x, 1), [((2, 3), NORMAL)]),
    ("roll", lambda x: ops.roll(x, 2, axis=1), [((2, 5), NORMAL)]),
    ("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), [((3, 1), NORMAL)]),
    ("tril", lambda x: ops.tril(x, -1), [((3, 3), NORMAL)]),
    ("triu", ops.triu, [((2, 3, 3), NORMAL)]),
    ("cast_float", lambda x: ops.cast(x, "float64"), [((3,), NORMAL)]),
    ("convert_to_tensor", ops.convert_to_tensor, [((3,), NORMAL)]),
    # products
    ("matmul_2d", ops.matmul, [((3, 4), NORMAL), ((4, 5), NORMAL)]),
    ("matmul_operator_transposed", lambda a, b: a.T @ b, [((4, 3), NORMAL), ((4, 2), NORMAL)]),
    ("matmul_batched_broadcast", ops.matmul, [((2, 3, 4), NORMAL), ((4, 5), NORMAL)]),
    ("matmul_batch_axes", ops.matmul, [((3, 1, 2, 4), NORMAL), ((5, 4, 2), NORMAL)]),
    ("matmul_vec_mat", ops.matmul, [((4,), NORMAL), ((4, 3), NORMAL)]),
    ("matmul_mat_vec", ops.matmul, [((3, 4), NORMAL), ((4,), NORMAL)]),
    ("matmul_vec_vec", ops.matmul, [((4,), NORMAL), ((4,), NORMAL)]),
    ("dot_nd", ops.dot, [((2, 3, 4), NORMAL), ((5, 4, 2), NORMAL)]),
    ("dot_scalar", lambda a: ops.dot(a, 3.0), [((3,), NORMAL)]),
    ("tensordot_int", lambda a, b: ops.tensordot(a, b, axes=1), [((2, 3), NORMAL), ((3, 4), NORMAL)]),
    (
        "tensordot_axes",
        lambda a, b: ops.tensordot(a, b, axes=([1, 0], [0, 2])),
        [((3, 2, 4), NORMAL), ((2, 5, 3), NORMAL)],
    ),
    ("einsum_matmul", lambda a, b: ops.einsum("ij,jk->ik", a, b), [((2, 3), NORMAL), ((3, 4), NORMAL)]),
    ("einsum_batched", lambda a, b: ops.einsum("bij,bjk->bik", a, b), [((2, 2, 3), NORMAL), ((2, 3, 4), NORMAL)]),
    ("einsum_sum_all", lambda a: ops.einsum("ij->", a), [((2, 3), NORMAL)]),
    ("einsum_outer", lambda a, b: ops.einsum("i,j->ij", a, b), [((2,), NORMAL), ((3,), NORMAL)]),
    ("einsum_ellipsis", lambda a, b: ops.einsum("...ij,jk->...ik", a, b), [((2, 2, 3), NORMAL), ((3, 4), NORMAL)]),
    ("einsum_implicit", lambda a, b: ops.einsum("ijk,k", a, b), [((2, 3, 4), NORMAL), ((4,), NORMAL)]),
    ("einsum_summed_alone", lambda a, b: ops.einsum("ij,k->ik", a, b), [((2, 3), NORMAL), ((4,), NORMAL)]),
    (
        "einsum_three",
        lambda a, b, c: ops.einsum("ij,jk,kl->il", a, b, c),
        [((2, 3), NORMAL), ((3, 4), NORMAL), ((4, 2), NORMAL)],
    ),
    ("outer", ops.outer, [((3,), NORMAL), ((2, 2), NORMAL)]),
    # nn
    ("relu", ops.relu, [((3, 4), NORMAL)]),
    ("relu6", lambda x: ops.relu6(4 * x), [((3, 4), NORMAL)]),
    ("sigmoid", ops.sigmoid, [((3, 4), NORMAL)]),
    ("nn_tanh", ops.nn.tanh, [((3, 4), NORMAL)]),
    ("silu", ops.silu, [((3, 4), NORMAL)]),
    ("swish", ops.nn.swish, [((3,), NORMAL)]),
    ("selu", ops.selu, [((3, 4), NORMAL)]),
    ("elu", lambda x: ops.elu(x, alpha=0.5), [((3, 4), NORMAL)]),
    ("leaky_relu", ops.leaky_relu, [((3, 4), NORMAL)]),
    ("softplus", ops.softplus, [((3, 4), NORMAL)]),
    ("softsign", ops.softsign, [((3, 4), NORMAL)]),
    ("hard_sigmoid", ops.hard_sigmoid, [((3, 4), NORMAL)]),
    ("log_sigmoid", ops.log_sigmoid, [((3, 4), NORMAL)]),
    ("gelu_approximate", ops.gelu, [((3, 4), NORMAL)]),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False), [((3, 4), NORMAL)]),
    ("softmax", ops.softmax, [((3, 4), NORMAL)]),
    ("softmax_axis0", lambda x: ops.softmax(x, axis=0), [((3, 4, 2), NORMAL)]),
    ("log_softmax", ops.log_softmax, [((3, 4), NORMAL)]),
    ("log_softmax_axis1", lambda x: ops.log_softmax(x, axis=1), [((2, 3, 4), NORMAL)]),
    ("moments", lambda x: ops.moments(x, axes=[0, 1]), [((3, 4, 2), NORMAL)]),
    ("moments_keepdims", lambda x: ops.moments(x, axes=(1,), keepdims=True), [((3, 4), NORMAL)]),
    (
        "batch_normalization",
        lambda x, m, v, o, s: ops.batch_normalization(x, m, v, 1, o, s, epsilon=1e-3),
        [((4, 3, 2), NORMAL), ((3,), NORMAL), ((3,), POSITIVE), ((3,), NORMAL), ((3,), NORMAL)],
    ),
    (
        "batch_normalization_plain",
        lambda x, m, v: ops.batch_normalization(x, m, v, -1),
        [((4, 3), NORMAL), ((3,), NORMAL), ((3,), POSITIVE)],
    ),
    ("binary_crossentropy", ops.binary_crossentropy, [((3, 4), PROB), ((3, 4), PROB)]),
    (
        "binary_crossentropy_logits",
        lambda t, x: ops.binary_crossentropy(t, x, from_logits=True),
        [((3, 4), PROB), ((3, 4), NORMAL)],
    ),
    ("categorical_crossentropy", ops.categorical_crossentropy, [((3, 4), PROB), ((3, 4), POSITIVE)]),
    (
        "categorical_crossentropy_logits",
        lambda t, x: ops.categorical_crossentropy(t, x, from_logits=True),
        [((3, 4), PROB), ((3, 4), NORMAL)],
    ),
    (
        "categorical_crossentropy_axis0",
        lambda t, x: ops.categorical_crossentropy(t, x, True, axis=0),
        [((4, 3), PROB), ((4, 3), NORMAL)],
    ),
    (
        "sparse_categorical_crossentropy",
        lambda x: ops.sparse_categorical_crossentropy(np.array([0, 3, 1]), x),
        [((3, 4), POSITIVE)],
    ),
    (
        "sparse_categorical_crossentropy_logits",
        lambda x: ops.sparse_categorical_crossentropy(np.array([[0], [3], [1]]), x, from_logits=True),
        [((3, 4), NORMAL)],
    ),
    ("conv2d_valid", ops.conv, [((2, 5, 6, 3), NORMAL), ((3, 2, 3, 4), NORMAL)]),
    (
        "conv2d_same_strided",
        lambda x, k: ops.conv(x, k, strides=2, padding="same"),
        [((2, 5, 6, 3), NORMAL), ((3, 3, 3, 2), NORMAL)],
    ),
    ("conv2d_dilated", lambda x, k: ops.conv(x, k, dilation_rate=2), [((1, 6, 6, 2), NORMAL), ((2, 2, 2, 3), NORMAL)]),
    (
        "conv2d_channels_first",
        lambda x, k: ops.conv(x, k, padding="same", data_format="channels_first"),
        [((2, 3, 5, 4), NORMAL), ((3, 3, 3, 2), NORMAL)],
    ),
    ("conv1d", lambda x, k: ops.conv(x, k, padding="same"), [((2, 7, 3), NORMAL), ((3, 3, 2), NORMAL)]),
    ("max_pool2d", lambda x: ops.max_pool(x, 2), [((2, 4, 6, 3), NORMAL)]),
    ("max_pool2d_same", lambda x: ops.max_pool(x, 3, strides=2, padding="same"), [((2, 5, 5, 2), NORMAL)]),
    ("max_pool1d", lambda x: ops.max_pool(x, 2, strides=1), [((2, 5, 3), NORMAL)]),
    ("average_pool2d_same", lambda x: ops.average_pool(x, (2, 3), padding="same"), [((2, 5, 5, 2), NORMAL)]),
    (
        "average_pool_channels_first",
        lambda x: ops.average_pool(x, 2, data_format="channels_first"),
        [((2, 3, 4, 4), NORMAL)],
    ),
    # The Keras 3 ops added later (numpy, math, core, nn, image).
    ("sort", ops.sort, [((3, 5), NORMAL)]),
    ("sort_axis0", lambda x: ops.sort(x, axis=0), [((4, 3), NORMAL)]),
    ("sort_ties", lambda x: ops.sort(ops.concatenate([x, x])), [((3,), NORMAL)]),
    ("cumprod_axis", lambda x: ops.cumprod(x, axis=1), [((3, 4), NORMAL)]),
    ("cumprod_flat", ops.cumprod, [((2, 3), NORMAL)]),
    ("cumprod_zero", lambda x: ops.cumprod(x * np.array([[1.0], [0.0], [1.0], [1.0]]), axis=0), [((4, 2), NORMAL)]),
    ("diag_matrix", lambda x: ops.diag(x, 1), [((3, 4), NORMAL)]),
    ("diag_vector", lambda x: ops.diag(x, -1), [((3,), NORMAL)]),
    ("diagonal", lambda x: ops.diagonal(x, 1, 0, 2), [((3, 2, 4), NORMAL)]),
    ("trace", lambda x: ops.trace(x, -1, 1, 2), [((2, 3, 3), NORMAL)]),
    ("diff", lambda x: ops.diff(x, 2, axis=0), [((5, 3), NORMAL)]),
    ("hstack", lambda a, b: ops.hstack([a, b]), [((2, 3), NORMAL), ((2, 1), NORMAL)]),
    ("hstack_1d", lambda a, b: ops.hstack([a, b]), [((3,), NORMAL), ((2,), NORMAL)]),
    ("vstack", lambda a, b: ops.vstack([a, b]), [((3,), NORMAL), ((2, 3), NORMAL)]),
    ("meshgrid_xy", lambda a, b, c: ops.meshgrid(a, b, c), [((2,), NORMAL), ((3,), NORMAL), ((4,), NORMAL)]),
    ("meshgrid_ij", lambda a, b: ops.meshgrid(a, b, indexing="ij"), [((2,), NORMAL), ((3,), NORMAL)]),
    ("median_odd", lambda x: ops.median(x, axis=1), [((3, 5), NORMAL)]),
    ("median_even_keepdims", lambda x: ops.median(x, axis=(0, 2), keepdims=True), [((2, 3, 2), NORMAL)]),
    ("median_all", ops.median, [((3, 4), NORMAL)]),
    ("quantile", lambda x: ops.quantile(x, np.array([0.1, 0.5, 0.9]), axis=0), [((5, 3), NORMAL)]),
    ("quantile_scalar_all", lambda x: ops.quantile(x, 0.3), [((2, 5), NORMAL)]),
    ("quantile_midpoint", lambda x: ops.quantile(x, 0.4, axis=-1, method="midpoint"), [((3, 4), NORMAL)]),
    ("quantile_nearest", lambda x: ops.quantile(x, [0.4], axis=1, method="nearest"), [((3, 6), NORMAL)]),
    ("average_weighted", lambda x, w: ops.average(x, axis=1, weights=w), [((3, 4), NORMAL), ((4,), POSITIVE)]),
    ("average_full_weights", lambda x, w: ops.average(x, weights=w), [((3, 4), NORMAL), ((3, 4), POSITIVE)]),
    ("average_plain", lambda x: ops.average(x, axis=0), [((3, 4), NORMAL)]),
    ("cross_3", ops.cross, [((4, 3), NORMAL), ((3,), NORMAL)]),
    ("cross_axes", lambda a, b: ops.cross(a, b, axisa=0, axisb=1, axisc=0), [((3, 2), NORMAL), ((2, 3), NORMAL)]),
    ("cross_2_3", ops.cross, [((2, 2), NORMAL), ((2, 3), NORMAL)]),
    ("cross_2_2", ops.cross, [((4, 2), NORMAL), ((4, 2), NORMAL)]),
    ("vdot", ops.vdot, [((2, 3), NORMAL), ((6,), NORMAL)]),
    ("logaddexp", ops.logaddexp, [((3, 4), NORMAL), ((4,), NORMAL)]),
    ("erfinv", ops.erfinv, [((5,), UNIT)]),
    ("real", ops.real, [((3,), NORMAL)]),
    ("conj", ops.conj, [((3,), NORMAL)]),
    (
        "nan_to_num",
        lambda x: ops.nan_to_num(x + np.array([0.0, np.inf, np.nan, -np.inf]), 0.5, 5.0, -5.0),
        [((2, 4), NORMAL)],
    ),
    ("top_k", lambda x: ops.top_k(x, 2)[0], [((3, 5), NORMAL)]),
    ("bincount_weights", lambda w: ops.bincount(np.array([0, 2, 2, 5]), weights=w), [((4,), NORMAL)]),
    ("bincount_2d", lambda w: ops.bincount(np.array([[0, 1, 1], [2, 2, 0]]), w, 4), [((2, 3), NORMAL)]),
    ("segment_sum", lambda x: ops.segment_sum(x, np.array([0, 2, 0, -1]), 3), [((4, 2), NORMAL)]),
    ("segment_max", lambda x: ops.segment_max(x, np.array([1, 1, 0, 1])), [((4, 3), NORMAL)]),
    ("scatter", lambda v: ops.scatter(np.array([[0, 1], [2, 0], [0, 1]]), v, (3, 2)), [((3,), NORMAL)]),
    ("scatter_rows", lambda v: ops.scatter(np.array([[1], [0]]), v, (3, 2)), [((2, 2), NORMAL)]),
    (
        "scatter_update",
        lambda x, u: ops.scatter_update(x, np.array([[0, 1], [2, 2], [0, 1]]), u),
        [((3, 3), NORMAL), ((3,), NORMAL)],
    ),
    (
        "scatter_update_add",
        lambda x, u: ops.scatter_update(x, [[1], [1]], u, reduction="add"),
        [((3, 2), NORMAL), ((2, 2), NORMAL)],
    ),
    ("slice_update", lambda x, u: ops.slice_update(x, (1, 0), u), [((3, 4), NORMAL), ((2, 3), NORMAL)]),
    ("cond", lambda x: ops.cond(ops.sum(x) > -100, lambda: ops.exp(x), lambda: x), [((3,), NORMAL)]),
    ("fori_loop", lambda x: ops.fori_loop(0, 3, lambda i, v: v * x + i, x), [((3,), NORMAL)]),
    (
        "while_loop",
        lambda a, b: ops.while_loop(lambda i, u, v: i < 3, lambda i, u, v: (i + 1, u * v, v + 1.0), (0, a, b))[1:],
        [((3,), NORMAL), ((3,), NORMAL)],
    ),
    (
        "scan",
        lambda a, xs: ops.scan(lambda c, x: (c * x + 1.0, ops.sin(c)), a, xs, reverse=True),
        [((2,), NORMAL), ((4, 2), NORMAL)],
    ),
    ("map", lambda x: ops.map(lambda r: ops.exp(r) * r[0], x), [((3, 4), NORMAL)]),
    (
        "vectorized_map",
        lambda a, b: ops.vectorized_map(lambda e: e[0] @ e[1], [a, b]),
        [((3, 2, 4), NORMAL), ((3, 4), NORMAL)],
    ),
    ("switch", lambda x: ops.switch(1, [ops.exp, ops.tanh], x), [((3,), NORMAL)]),
    ("normalize_l2", ops.normalize, [((3, 4), NORMAL)]),
    ("normalize_l1_axis0", lambda x: ops.normalize(x, axis=0, order=1), [((3, 4), NORMAL)]),
    (
        "conv_transpose_same",
        lambda x, k: ops.conv_transpose(x, k, strides=2, padding="same"),
        [((2, 3, 4, 3), NORMAL), ((3, 3, 2, 3), NORMAL)],
    ),
    (
        "conv_transpose_1d_output_padding",
        lambda x, k: ops.conv_transpose(x, k, 2, output_padding=1, dilation_rate=1),
        [((2, 4, 2), NORMAL), ((3, 3, 2), NORMAL)],
    ),
    (
        "conv_transpose_channels_first",
        lambda x, k: ops.conv_transpose(x, k, data_format="channels_first"),
        [((1, 2, 3, 3), NORMAL), ((2, 2, 3, 2), NORMAL)],
    ),
    (
        "depthwise_conv",
        lambda x, k: ops.depthwise_conv(x, k, strides=(1, 2), padding="same"),
        [((2, 5, 5, 3), NORMAL), ((3, 3, 3, 2), NORMAL)],
    ),
    (
        "depthwise_conv1d_dilated",
        lambda x, k: ops.depthwise_conv(x, k, dilation_rate=2),
        [((2, 7, 2), NORMAL), ((2, 2, 1), NORMAL)],
    ),
    (
        "separable_conv",
        lambda x, d, p: ops.separable_conv(x, d, p, padding="same"),
        [((2, 4, 4, 2), NORMAL), ((3, 3, 2, 2), NORMAL), ((1, 1, 4, 3), NORMAL)],
    ),
    ("resize_bilinear_up", lambda x: ops.image.resize(x, (5, 7)), [((2, 3, 4, 2), NORMAL)]),
    ("resize_bilinear_down_3d", lambda x: ops.image.resize(x, (2, 3)), [((5, 6, 1), NORMAL)]),
    (
        "resize_nearest_channels_first",
        lambda x: ops.image.resize(x, (4, 3), "nearest", data_format="channels_first"),
        [((1, 2, 3, 5), NORMAL)],
    ),
    ("rgb_to_grayscale", ops.image.rgb_to_grayscale, [((2, 3, 4, 3), NORMAL)]),
    (
        "affine_transform_bilinear",
        lambda x: ops.image.affine_transform(x, [[0.9, 0.2, 0.3, -0.1, 1.1, 0.4, 0, 0]] * 2, fill_value=0.5),
        [((2, 4, 5, 2), NORMAL)],
    ),
    (
        "affine_transform_reflect_channels_first",
        lambda x: ops.image.affine_transform(
            x, [1.3, 0.1, -0.4, 0.2, 0.7, 0.1, 0.01, 0.02], fill_mode="reflect", data_format="channels_first"
        ),
        [((2, 4, 5), NORMAL)],
    ),
    (
        "affine_transform_nearest_wrap",
        lambda x: ops.image.affine_transform(x, [1.3, 0.1, -0.4, 0.2, 0.7, 0.1, 0, 0], "nearest", "wrap"),
        [((4, 5, 2), NORMAL)],
    ),
    (
        "rgb_to_grayscale_channels_first",
        lambda x: ops.image.rgb_to_grayscale(x, "channels_first"),
        [((3, 2, 4), NORMAL)],
    ),
]


@pytest.mark.parametrize("fn, specs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op_gradient(fn, specs):
    rng = np.random.default_rng(42)
    check_op_gradient(fn, [_draw(rng, shape, domain) for shape, domain in specs])


_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3)


@st.composite
def _broadcast_pair(draw):
    """Two shapes that broadcast together (size-1 and missing axes on either side)."""
    full = draw(_shapes)

    def reduce(shape):
        drop = draw(st.integers(0, len(shape)))
        return tuple(1 if draw(st.booleans()) else n for n in shape[drop:])

    return reduce(full), reduce(full)


BINARY = [
    ops.add,
    ops.subtract,
    ops.multiply,
    ops.maximum,
    ops.minimum,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: ops.where(a > b, a * b, a - b),
]


@settings(max_examples=40, deadline=None)
@given(_broadcast_pair(), st.sampled_from(range(len(BINARY))), st.integers(0, 2**16))
def test_binary_broadcasting_gradients(shapes, which, seed):
    rng = np.random.default_rng(seed)
    check_op_gradient(BINARY[which], [rng.standard_normal(s) for s in shapes])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.integers(0, 2**16),
    st.sampled_from(["sum", "mean", "max", "var", "logsumexp", "prod"]),
    st.booleans(),
)
def test_reduction_gradients_random_axes(shape, seed, name, keepdims):
    rng = np.random.default_rng(seed)
    axis = tuple(sorted(set(rng.integers(0, len(shape), size=rng.integers(1, len(shape) + 1)).tolist())))
    check_op_gradient(lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims), [rng.standard_normal(shape)])


def test_custom_gradient():
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(upstream):
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    check_op_gradient(log1pexp, [np.array([0.5, -1.0, 2.0])])
    with rv.GradientTape() as tape:
        x = tape.watch(np.array(100.0))
        y = log1pexp(x)
    assert tape.gradient(y, x) == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_gemm_path(dtype, transposed):
    """Products large enough for ranvier's GEMM shim: value and both gradients as NumPy's."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((96, 128)).astype(dtype)
    b = rng.standard_normal((64, 128) if transposed else (128, 64)).astype(dtype)
    dy = rng.standard_normal((96, 64)).astype(dtype)
    with rv.GradientTape() as tape:
        x, w = tape.watch([a, b])
        y = x @ (w.T if transposed else w)
    bm = b.T if transposed else b
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.value, a @ bm, rtol=tol, atol=tol)
    da, db = tape.gradient(y, [x, w], output_gradients=dy)
    np.testing.assert_allclose(da, dy @ bm.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(db, (a.T @ dy).T if transposed else a.T @ dy, rtol=tol, atol=tol)
    assert da.dtype == db.dtype == dtype
