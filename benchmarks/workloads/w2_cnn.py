"""W2: CNN 28x28x1, conv3x3x32-relu-maxpool2-conv3x3x64-relu-maxpool2-dense128-dense10, batch 64, Adam."""

import numpy as np

from ._common import batch_step, torch_train_step

ID = "W2"
DESCRIPTION = (
    "CNN 28x28x1 conv3x3x32-relu-maxpool2-conv3x3x64-relu-maxpool2-dense128-dense10, batch 64, Adam (training step)"
)
BATCH = 64
N_BATCHES = 8
IMAGE = (28, 28, 1)
CONVS = (32, 64)
DENSE = (128, 10)


def _macs():
    """Multiply-adds of each GEMM-like layer for one sample, input side first."""
    h, w, c = IMAGE
    macs = []
    for f in CONVS:
        h, w = h - 2, w - 2
        macs.append(h * w * 9 * c * f)
        h, w, c = h // 2, w // 2, f
    units = h * w * c
    for u in DENSE:
        macs.append(units * u)
        units = u
    return macs


def train_flops_per_sample():
    """Forward and weight-gradient products of every layer, data gradients for all but the first."""
    macs = _macs()
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def make_data(rng):
    x = rng.standard_normal((BATCH * N_BATCHES,) + IMAGE).astype(np.float32)
    y = rng.integers(0, DENSE[-1], BATCH * N_BATCHES)
    return x, y


def ranvier_step(x, y):
    import ranvier as rv

    L = rv.layers
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [
            L.Input(IMAGE),
            L.Conv2D(CONVS[0], 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(CONVS[1], 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(DENSE[0], activation="relu"),
            L.Dense(DENSE[1], activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return batch_step(model.train_on_batch, x, y, BATCH)


class _NumpyCNN:
    """The same network on ranvier.reference's conv and pool kernels, dense layers and Adam in NumPy."""

    def __init__(self, seed=0, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
        rng = np.random.default_rng(seed)
        h, w, c = IMAGE
        self.params = []
        for f in CONVS:
            lim = np.sqrt(6 / (9 * c + 9 * f))
            self.params += [rng.uniform(-lim, lim, (9 * c, f)).astype(np.float32), np.zeros(f, np.float32)]
            h, w, c = (h - 2) // 2, (w - 2) // 2, f
        units = h * w * c
        for u in DENSE:
            lim = np.sqrt(6 / (units + u))
            self.params += [rng.uniform(-lim, lim, (units, u)).astype(np.float32), np.zeros(u, np.float32)]
            units = u
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t, self.lr, self.b1, self.b2, self.eps = 0, lr, b1, b2, eps

    def train_step(self, x, labels):
        from ranvier.reference import conv, pool

        n = len(x)
        grads = [None] * len(self.params)
        caches, h = [], x
        for i, f in enumerate(CONVS):
            kernel, bias = self.params[2 * i], self.params[2 * i + 1]
            oh, ow = h.shape[1] - 2, h.shape[2] - 2
            # Columns gathered once and kept for the backward pass, as a NumPy program would.
            col = np.empty((n * oh * ow, kernel.shape[0]), np.float32)
            conv.im2col(h, 3, 3, 1, 1, 1, 1, 0, 0, col, oh, ow)
            z = (col @ kernel).reshape(n, oh, ow, f)
            a = np.maximum(z + bias, 0)
            p = np.empty((n, oh // 2, ow // 2, f), np.float32)
            arg = np.empty(p.shape, np.int32)
            pool.max_pool2d_forward(a, 2, 2, 2, 2, 0, 0, p, arg, 1)
            caches.append((h, a, arg, col))
            h = p
        flat = h.reshape(n, -1)
        w1, b1, w2, b2 = self.params[4:]
        d1 = np.maximum(flat @ w1 + b1, 0)
        logits = d1 @ w2 + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        dz = e / e.sum(axis=1, keepdims=True)
        dz[np.arange(n), labels] -= 1
        dz /= n
        grads[6], grads[7] = d1.T @ dz, dz.sum(0)
        dz = (dz @ w2.T) * (d1 > 0)
        grads[4], grads[5] = flat.T @ dz, dz.sum(0)
        dh = (dz @ w1.T).reshape(h.shape)
        for i in range(len(CONVS) - 1, -1, -1):
            inp, a, arg, col = caches[i]
            da = np.empty_like(a)
            pool.max_pool2d_backward(dh, arg, np.empty((0, 0, 0, 0), np.float32), da, 1)
            da *= a > 0
            kernel = self.params[2 * i]
            d2 = da.reshape(-1, da.shape[-1])
            grads[2 * i], grads[2 * i + 1] = col.T @ d2, d2.sum(0)
            if i:
                dh = np.empty_like(inp)
                conv.col2im(d2 @ kernel.T, 3, 3, 1, 1, 1, 1, 0, 0, dh, *a.shape[1:3])
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (1 - self.b1) * (g - m)
            v += (1 - self.b2) * (g * g - v)
            p -= alpha * m / (np.sqrt(v) + self.eps)


def numpy_step(x, y):
    net = _NumpyCNN(seed=0)
    return batch_step(net.train_step, x, y, BATCH)


def torch_step(x, y):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(IMAGE[2], CONVS[0], 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(CONVS[0], CONVS[1], 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(5 * 5 * CONVS[1], DENSE[0]),
        torch.nn.ReLU(),
        torch.nn.Linear(DENSE[0], DENSE[1]),
    )
    # NCHW for PyTorch's native layout; the conversion is done once, outside the timed step.
    return torch_train_step(
        model, x, y, BATCH, lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    )
