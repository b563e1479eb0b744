"""W5: one transformer encoder block (post-norm), T=128, width 128, 4 heads, FF 512, batch 32, Adam 1e-3.

The block is PyTorch's ``nn.TransformerEncoderLayer`` (batch_first, norm_first False, ReLU,
dropout 0, LayerNorm eps 1e-5); all three implementations put the same head on it:
mean over the sequence -> Dense(1), mean squared error.
"""

import numpy as np

from ._common import batch_step, cycle_batches

ID = "W5"
DESCRIPTION = "transformer encoder block T=128 d=128 4 heads FF 512 -> mean -> dense1 MSE, batch 32, Adam 1e-3"
BATCH = 32
T, WIDTH, HEADS, FF = 128, 128, 4, 512
KEY_DIM = WIDTH // HEADS
EPS = 1e-5
N_BATCHES = 4


def train_flops_per_sample():
    """Projection, attention and feed-forward products: forward, weight and data gradients.

    The query/key/value projections need no data gradient into the model input.
    """
    proj = T * WIDTH * WIDTH
    attention = 2 * T * T * WIDTH  # q @ k.T and p @ v over all heads
    ffn = 2 * T * WIDTH * FF
    forward = 4 * proj + attention + ffn
    return 2.0 * (3 * forward - 3 * proj)


def make_data(rng):
    x = rng.standard_normal((BATCH * N_BATCHES, T, WIDTH)).astype(np.float32)
    y = rng.standard_normal((BATCH * N_BATCHES, 1)).astype(np.float32)
    return x, y


def ranvier_step(x, y):
    import ranvier as rv

    L = rv.layers
    rv.config.set_random_seed(0)
    inp = L.Input((T, WIDTH))
    att = L.MultiHeadAttention(HEADS, KEY_DIM)(inp, inp)
    h = L.LayerNormalization(epsilon=EPS)(L.Add()([inp, att]))
    f = L.Dense(WIDTH)(L.Dense(FF, activation="relu")(h))
    h = L.LayerNormalization(epsilon=EPS)(L.Add()([h, f]))
    out = L.Dense(1)(L.GlobalAveragePooling1D()(h))
    model = rv.Model(inp, out)
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="mse")
    return batch_step(model.train_on_batch, x, y, BATCH)


class _ReferenceBlock:
    """The same network on ranvier.reference kernels (NumPy) and a NumPy Adam."""

    def __init__(self, seed=0, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
        from ranvier.reference import attention, dense, norm

        self.attention, self.dense, self.norm = attention, dense, norm
        rng = np.random.default_rng(seed)

        def glorot(a, b):
            lim = np.sqrt(6 / (a + b))
            return rng.uniform(-lim, lim, (a, b)).astype(np.float32)

        def zeros(n):
            return np.zeros(n, np.float32)

        ones = np.ones(WIDTH, np.float32)
        # q, k, v, output projection; LayerNorm 1; FF in, FF out; LayerNorm 2; head.
        self.params = []
        for _ in range(4):
            self.params += [glorot(WIDTH, WIDTH), zeros(WIDTH)]
        self.params += [ones.copy(), zeros(WIDTH), glorot(WIDTH, FF), zeros(FF), glorot(FF, WIDTH), zeros(WIDTH)]
        self.params += [ones.copy(), zeros(WIDTH), glorot(WIDTH, 1), zeros(1)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def _dense(self, x, w, b):
        out = np.empty((x.shape[0], w.shape[1]), np.float32)
        self.dense.dense_forward(x, w, out)
        return out + b

    def _dense_back(self, x, w, dz, gw, gb, need_dx=True):
        dx = np.empty_like(x)
        self.dense.dense_backward(x, w, dz, gw, gb, dx, 0.0, need_dx)
        return dx

    def _norm(self, x, g, b):
        out, mean, var = np.empty_like(x), np.empty(len(x), np.float32), np.empty(len(x), np.float32)
        self.norm.layer_norm_forward(x, g, b, EPS, out, mean, var)
        return out, (x, mean, var, g)

    def _norm_back(self, cache, dy, gg, gb):
        x, mean, var, g = cache
        dx = np.empty_like(x)
        self.norm.layer_norm_backward(x, dy, mean, var, g, EPS, gg, gb, dx, 0.0, True)
        return dx

    def train_step(self, x, y):
        p = self.params
        grads = [np.empty_like(q) for q in p]
        n, f32 = len(x), np.float32
        x2 = x.reshape(n * T, WIDTH)
        heads = [self._dense(x2, p[2 * i], p[2 * i + 1]).reshape(n, T, HEADS, KEY_DIM) for i in range(3)]
        q, k, v = (a.transpose(0, 2, 1, 3) for a in heads)
        ctx = np.empty((n, HEADS, T, KEY_DIM), f32)
        probs = np.empty((n, HEADS, T, T), f32)
        none = np.zeros((0, 0, 0, 0), np.uint8)
        scale = 1.0 / np.sqrt(KEY_DIM)
        self.attention.attention_forward(q, k, v, none, False, scale, none, 0.0, ctx, probs)
        ctx2 = np.ascontiguousarray(ctx.transpose(0, 2, 1, 3)).reshape(n * T, WIDTH)
        h1, c1 = self._norm(x2 + self._dense(ctx2, p[6], p[7]), p[8], p[9])
        z = self._dense(h1, p[10], p[11])
        a = np.maximum(z, 0)
        h2, c2 = self._norm(h1 + self._dense(a, p[12], p[13]), p[14], p[15])
        pooled = h2.reshape(n, T, WIDTH).mean(axis=1)
        pred = self._dense(pooled, p[16], p[17])
        dpred = (2.0 / pred.size) * (pred - y)
        dpooled = self._dense_back(pooled, p[16], dpred, grads[16], grads[17])
        dh2 = np.repeat(dpooled / f32(T), T, axis=0)
        dr2 = self._norm_back(c2, dh2, grads[14], grads[15])
        da = self._dense_back(a, p[12], dr2, grads[12], grads[13])
        dz = da * (z > 0)
        dh1 = dr2 + self._dense_back(h1, p[10], dz, grads[10], grads[11])
        dr1 = self._norm_back(c1, dh1, grads[8], grads[9])
        dctx2 = self._dense_back(ctx2, p[6], dr1, grads[6], grads[7])
        dctx = dctx2.reshape(n, T, HEADS, KEY_DIM).transpose(0, 2, 1, 3)
        dq, dk, dv = (np.empty((n, HEADS, T, KEY_DIM), f32) for _ in range(3))
        self.attention.attention_backward(q, k, v, probs, none, 0.0, dctx, scale, dq, dk, dv)
        for i, d in enumerate((dq, dk, dv)):
            d2 = np.ascontiguousarray(d.transpose(0, 2, 1, 3)).reshape(n * T, WIDTH)
            self._dense_back(x2, p[2 * i], d2, grads[2 * i], grads[2 * i + 1], need_dx=False)
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for w, g, m, v2 in zip(p, grads, self.m, self.v):
            m += (1 - self.b1) * (g - m)
            v2 += (1 - self.b2) * (g * g - v2)
            w -= alpha * m / (np.sqrt(v2) + self.eps)


def numpy_step(x, y):
    net = _ReferenceBlock()
    return batch_step(net.train_step, x, y, BATCH)


def torch_step(x, y):
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = torch.nn.TransformerEncoderLayer(
                WIDTH, HEADS, FF, dropout=0.0, activation="relu", layer_norm_eps=EPS, batch_first=True, norm_first=False
            )
            self.head = torch.nn.Linear(WIDTH, 1)

        def forward(self, xb):
            return self.head(self.block(xb).mean(dim=1))

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.MSELoss()
    next_batch = cycle_batches(x, y, BATCH, lambda a, b: (torch.from_numpy(a), torch.from_numpy(b)))

    def step():
        xb, yb = next_batch()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()

    return step
