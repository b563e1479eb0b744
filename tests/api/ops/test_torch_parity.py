"""Composite functions of ops against PyTorch autograd (skipped without torch)."""

import numpy as np
import pytest

import ranvier as rv

torch = pytest.importorskip("torch")
F = torch.nn.functional
ops = rv.ops


def _mlp(lib, x, w1, b1, w2, labels):
    if lib is ops:
        h = ops.gelu(x @ w1 + b1)
        return ops.mean(ops.sparse_categorical_crossentropy(labels, h @ w2, from_logits=True))
    h = F.gelu(x @ w1 + b1, approximate="tanh")
    return F.cross_entropy(h @ w2, torch.as_tensor(labels))


def _convnet(lib, x, k, scale):
    if lib is ops:
        y = ops.max_pool(ops.relu(ops.conv(x, k, padding="same")), 2)
        return ops.sum(ops.tanh(y * scale) ** 2)
    xt = x.permute(0, 3, 1, 2)
    y = F.max_pool2d(F.relu(F.conv2d(xt, k.permute(3, 2, 0, 1), padding="same")), 2)
    return torch.sum(torch.tanh(y.permute(0, 2, 3, 1) * scale) ** 2)


def _attention(lib, q, k, v):
    if lib is ops:
        scores = ops.einsum("bqd,bkd->bqk", q, k) / np.sqrt(q.shape[-1])
        out = ops.einsum("bqk,bkd->bqd", ops.softmax(scores, axis=-1), v)
        m, var = ops.moments(out, axes=[-1], keepdims=True)
        return ops.sum(ops.log1p(ops.square((out - m) * ops.rsqrt(var + 1e-5))))
    scores = torch.einsum("bqd,bkd->bqk", q, k) / np.sqrt(q.shape[-1])
    out = torch.einsum("bqk,bkd->bqd", torch.softmax(scores, -1), v)
    normed = F.layer_norm(out, out.shape[-1:], eps=1e-5)
    return torch.sum(torch.log1p(normed**2))


def _mixed(lib, a, b):
    if lib is ops:
        c = ops.concatenate([a, ops.flip(b, 0)], axis=1)
        d = ops.where(c > 0, ops.exp(-c), ops.sigmoid(c)) * ops.max(c, axis=0, keepdims=True)
        return ops.logsumexp(ops.cumsum(d, axis=1)) + ops.norm(ops.take(d, np.array([0, 2, 2]), axis=0))
    c = torch.cat([a, torch.flip(b, [0])], 1)
    d = torch.where(c > 0, torch.exp(-c), torch.sigmoid(c)) * torch.amax(c, 0, keepdim=True)
    return torch.logsumexp(torch.cumsum(d, 1).flatten(), 0) + torch.linalg.norm(d[[0, 2, 2]])


def _inputs(rng):
    return {
        "mlp": (
            [
                rng.standard_normal((8, 5)),
                rng.standard_normal((5, 6)),
                rng.standard_normal(6),
                rng.standard_normal((6, 3)),
            ],
            (rng.integers(0, 3, 8),),
        ),
        "convnet": ([rng.standard_normal((2, 6, 6, 3)), rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)], ()),
        "attention": (
            [rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))],
            (),
        ),
        "mixed": ([rng.standard_normal((3, 4)), rng.standard_normal((3, 2))], ()),
    }


FUNCTIONS = {"mlp": _mlp, "convnet": _convnet, "attention": _attention, "mixed": _mixed}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 2e-4)])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_matches_torch_autograd(name, dtype, rtol):
    fn = FUNCTIONS[name]
    arrays, extra = _inputs(np.random.default_rng(7))[name]
    arrays = [a.astype(dtype) for a in arrays]
    with rv.GradientTape() as tape:
        xs = tape.watch(arrays)
        loss = fn(ops, *xs, *extra)
    grads = tape.gradient(loss, xs)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = fn(torch, *ts, *extra)
    ref.backward()
    np.testing.assert_allclose(float(loss), ref.item(), rtol=rtol)
    for g, t in zip(grads, ts):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=rtol * np.abs(t.grad.numpy()).max())
