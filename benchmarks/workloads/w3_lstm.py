"""W3: LSTM T=50, in=32, hidden=128, last state -> Dense(10) softmax CE, batch 64, Adam 1e-3."""

import numpy as np

from ._common import batch_step, torch_train_step

ID = "W3"
DESCRIPTION = "LSTM T=50 in=32 hidden=128, last state -> dense10 softmax CE, batch 64, Adam 1e-3 (training step)"
BATCH = 64
T, N_IN, UNITS, N_CLASSES = 50, 32, 128, 10
N_BATCHES = 4


def train_flops_per_sample():
    """Input and recurrent GEMMs (forward, weight gradient, data gradient) plus the dense layer."""
    lstm = T * (N_IN * 4 * UNITS + UNITS * 4 * UNITS)
    dense = UNITS * N_CLASSES
    return 2.0 * 3 * (lstm + dense)


def make_data(rng):
    x = rng.standard_normal((BATCH * N_BATCHES, T, N_IN)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, BATCH * N_BATCHES)
    return x, y


def ranvier_step(x, y):
    import ranvier as rv
    from ranvier.layers import LSTM

    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((T, N_IN)), LSTM(UNITS), rv.layers.Dense(N_CLASSES, activation="softmax")])
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return batch_step(model.train_on_batch, x, y, BATCH)


class _ReferenceLSTMNet:
    """The same network with ranvier.reference kernels (NumPy) and a NumPy Adam."""

    def __init__(self, seed=0, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
        from ranvier.reference import recurrent

        self.k = recurrent
        rng = np.random.default_rng(seed)
        lim = np.sqrt(6 / (N_IN + 4 * UNITS))
        q, _ = np.linalg.qr(rng.standard_normal((4 * UNITS, UNITS)))
        bias = np.zeros(4 * UNITS)
        bias[UNITS : 2 * UNITS] = 1
        lim_d = np.sqrt(6 / (UNITS + N_CLASSES))
        self.params = [
            np.asarray(p, np.float32)
            for p in (
                rng.uniform(-lim, lim, (N_IN, 4 * UNITS)),
                q.T,
                bias,
                rng.uniform(-lim_d, lim_d, (UNITS, N_CLASSES)),
                np.zeros(N_CLASSES),
            )
        ]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def train_step(self, x, labels):
        W, U, b, Wd, bd = self.params
        n = len(x)
        f = np.float32
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))
        empty_m, empty_r, empty_h = np.zeros((0, 0), np.uint8), np.zeros((0, 0), f), np.zeros((0, 0, 0), f)
        gates = np.empty((T, n, 4 * UNITS), f)
        h, c = np.zeros((T + 1, n, UNITS), f), np.zeros((T + 1, n, UNITS), f)
        act_c = np.empty((T, n, UNITS), f)
        self.k.lstm_forward(xt, W, U, b, empty_m, empty_r, gates, h, c, act_c, empty_h, 1, 2)
        z = h[T] @ Wd + bd
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = p
        dz[np.arange(n), labels] -= 1
        dz /= n
        grads = [np.zeros_like(q) for q in self.params]
        grads[3][...] = h[T].T @ dz
        grads[4][...] = dz.sum(axis=0)
        dh = np.ascontiguousarray(dz @ Wd.T)
        dc = np.zeros_like(dh)
        dgates = np.empty_like(gates)
        self.k.lstm_backward(
            xt,
            W,
            U,
            empty_m,
            empty_r,
            gates,
            h,
            c,
            act_c,
            empty_h,
            empty_h,
            dh,
            dc,
            dgates,
            grads[0],
            grads[1],
            grads[2],
            empty_h,
            0.0,
            False,
            1,
            2,
        )
        self.t += 1
        alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for q, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (1 - self.b1) * (g - m)
            v += (1 - self.b2) * (g * g - v)
            q -= alpha * m / (np.sqrt(v) + self.eps)


def numpy_step(x, y):
    net = _ReferenceLSTMNet()
    return batch_step(net.train_step, x, y, BATCH)


def torch_step(x, y):
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(N_IN, UNITS, batch_first=True)
            self.dense = torch.nn.Linear(UNITS, N_CLASSES)

        def forward(self, xb):
            _, (h, _) = self.lstm(xb)
            return self.dense(h[0])

    model = Net()
    return torch_train_step(model, x, y, BATCH)
