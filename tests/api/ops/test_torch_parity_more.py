"""The later Keras 3 ops against their PyTorch twins: values and gradients (float64, skipped without torch)."""

import numpy as np
import pytest

import ranvier as rv

torch = pytest.importorskip("torch")
F = torch.nn.functional
ops = rv.ops
RNG = np.random.default_rng(11)


def _nhwc(t):
    return t.permute(0, 3, 1, 2)


def _nchw_back(t):
    return t.permute(0, 2, 3, 1)


# (id, ranvier fn, torch fn, input shapes); each fn maps float64 inputs to one output.
CASES = [
    ("sort", lambda x: ops.sort(x, axis=0), lambda x: torch.sort(x, dim=0, stable=True).values, [(5, 3)]),
    ("cumprod", lambda x: ops.cumprod(x, axis=1), lambda x: torch.cumprod(x, 1), [(3, 5)]),
    ("diag", lambda x: ops.diag(x, 1), lambda x: torch.diag(x, 1), [(4, 4)]),
    ("diagonal", lambda x: ops.diagonal(x, 0, 1, 2), lambda x: torch.diagonal(x, 0, 1, 2), [(2, 3, 4)]),
    ("trace", ops.trace, torch.trace, [(4, 4)]),
    ("cross", ops.cross, lambda a, b: torch.linalg.cross(a, b), [(4, 3), (4, 3)]),
    ("logaddexp", ops.logaddexp, torch.logaddexp, [(3, 4), (3, 4)]),
    ("diff", lambda x: ops.diff(x, 2), lambda x: torch.diff(x, 2), [(3, 6)]),
    (
        "quantile",
        lambda x: ops.quantile(x, [0.2, 0.5], axis=1),
        lambda x: torch.quantile(x, torch.tensor([0.2, 0.5], dtype=x.dtype), 1),
        [(3, 6)],
    ),
    ("top_k", lambda x: ops.top_k(x, 3)[0], lambda x: torch.topk(x, 3).values, [(2, 6)]),
    ("erfinv", lambda x: ops.erfinv(x * 0.5), lambda x: torch.erfinv(x * 0.5), [(5,)]),
    ("vdot", ops.vdot, torch.vdot, [(6,), (6,)]),
    (
        "normalize",
        lambda x: ops.normalize(x, axis=0),
        lambda x: F.normalize(x, dim=0, eps=rv.config.epsilon()),
        [(4, 3)],
    ),
    (
        "segment_sum",
        lambda x: ops.segment_sum(x, np.array([0, 2, 0, 1]), 3),
        lambda x: torch.zeros(3, 2, dtype=x.dtype).index_add(0, torch.tensor([0, 2, 0, 1]), x),
        [(4, 2)],
    ),
    (
        "segment_max",
        lambda x: ops.segment_max(x, np.array([0, 2, 0, 1])),
        lambda x: torch.full((3, 2), -np.inf, dtype=x.dtype).scatter_reduce(
            0, torch.tensor([0, 2, 0, 1])[:, None].expand(4, 2), x, "amax"
        ),
        [(4, 2)],
    ),
    (
        "conv_transpose",
        lambda x, k: ops.conv_transpose(x, k, strides=2, padding="valid"),
        lambda x, k: _nchw_back(F.conv_transpose2d(_nhwc(x), k.permute(3, 2, 0, 1), stride=2)),
        [(2, 3, 4, 3), (3, 2, 5, 3)],
    ),
    (
        "depthwise_conv",
        lambda x, k: ops.depthwise_conv(x, k, strides=2),
        lambda x, k: _nchw_back(F.conv2d(_nhwc(x), k.permute(2, 3, 0, 1).reshape(6, 1, 3, 3), stride=2, groups=3)),
        [(2, 7, 6, 3), (3, 3, 3, 2)],
    ),
    (
        "separable_conv",
        lambda x, d, p: ops.separable_conv(x, d, p, dilation_rate=2),
        lambda x, d, p: _nchw_back(
            F.conv2d(
                F.conv2d(_nhwc(x), d.permute(2, 3, 0, 1).reshape(4, 1, 2, 2), dilation=2, groups=2),
                p.permute(3, 2, 0, 1),
            )
        ),
        [(2, 5, 6, 2), (2, 2, 2, 2), (1, 1, 4, 3)],
    ),
    (
        "resize_bilinear",
        lambda x: ops.image.resize(x, (7, 9)),
        lambda x: _nchw_back(F.interpolate(_nhwc(x), size=(7, 9), mode="bilinear", align_corners=False)),
        [(2, 4, 5, 3)],
    ),
]


@pytest.mark.parametrize("fn, tfn, shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_value_and_gradient_match_torch(fn, tfn, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    with rv.GradientTape() as tape:
        xs = tape.watch(arrays)
        y = fn(*xs)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ty = tfn(*ts)
    np.testing.assert_allclose(y.value, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    dy = RNG.standard_normal(ty.shape)
    grads = tape.gradient(y, xs, output_gradients=dy)
    expect = torch.autograd.grad(ty, ts, torch.tensor(dy))
    for g, e in zip(grads, expect):
        np.testing.assert_allclose(g, e.numpy(), rtol=1e-10, atol=1e-10)


def test_integer_ops_match_torch():
    x = RNG.standard_normal((3, 7))
    np.testing.assert_array_equal(ops.argsort(x), torch.argsort(torch.tensor(x), stable=True).numpy())
    ids = RNG.integers(0, 5, 20)
    np.testing.assert_array_equal(ops.bincount(ids, minlength=6), torch.bincount(torch.tensor(ids), minlength=6))
    bins = np.sort(RNG.standard_normal(6))
    v = RNG.standard_normal(10)
    for side in ("left", "right"):
        np.testing.assert_array_equal(
            ops.searchsorted(bins, v, side), torch.searchsorted(torch.tensor(bins), torch.tensor(v), side=side)
        )
    np.testing.assert_array_equal(ops.count_nonzero(x > 0, 1), torch.count_nonzero(torch.tensor(x > 0), 1))
    _, idx = ops.top_k(x, 4)
    np.testing.assert_array_equal(idx, torch.topk(torch.tensor(x), 4).indices.numpy())
    for g, e in zip(
        ops.meshgrid(v[:3], v[:4]), torch.meshgrid(torch.tensor(v[:3]), torch.tensor(v[:4]), indexing="xy")
    ):
        np.testing.assert_array_equal(g, e.numpy())
