"""A plain NumPy MLP: the reference network for tests and the NumPy baseline of the benchmarks.

Written independently of the compiled core (NumPy only, Keras' formulas), so
that agreement between the two is evidence, not tautology.
"""

import numpy as np

__all__ = ["ReferenceMLP"]

_HIDDEN = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, y: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, y: 1 - y * y),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, y: y * (1 - y)),
}


class ReferenceMLP:
    """MLP with hidden activation ``hidden`` and softmax + sparse categorical cross-entropy.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first (e.g. ``(784, 512, 512, 10)``).
    optimizer : {"sgd", "adam"}
        Keras formulations: SGD with ``momentum``/``nesterov``; Adam with
        ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``.
    weight_decay : float
        Coupled L2 on kernels only: ``g += weight_decay * W``.
    weights : list of ndarray, optional
        ``[W1, b1, W2, b2, ...]`` to start from (copied); glorot-uniform otherwise.
    """

    def __init__(
        self,
        sizes,
        hidden="relu",
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.0,
        nesterov=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=0.0,
        weights=None,
        seed=0,
        dtype=np.float32,
    ):
        self.act, self.dact = _HIDDEN[hidden]
        self.optimizer, self.lr, self.momentum, self.nesterov = optimizer, learning_rate, momentum, nesterov
        self.b1, self.b2, self.eps, self.wd = beta_1, beta_2, epsilon, weight_decay
        if weights is None:
            rng = np.random.default_rng(seed)
            weights = []
            for a, b in zip(sizes[:-1], sizes[1:]):
                lim = np.sqrt(6 / (a + b))
                weights += [rng.uniform(-lim, lim, (a, b)), np.zeros(b)]
        self.params = [np.array(w, dtype=dtype) for w in weights]
        self.slots = [[np.zeros_like(p) for p in self.params] for _ in range(2)]
        self.t = 0

    def forward(self, x):
        """Returns the softmax probabilities and the per-layer (input, pre-activation, output)."""
        cache, h = [], x
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            w, b = self.params[2 * i], self.params[2 * i + 1]
            z = h @ w + b
            if i < n_layers - 1:
                y = self.act(z)
            else:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                y = e / e.sum(axis=1, keepdims=True)
            cache.append((h, z, y))
            h = y
        return h, cache

    def gradients(self, x, labels):
        """Mean cross-entropy loss and the gradients of every parameter."""
        p, cache = self.forward(x)
        n = len(x)
        loss = -np.mean(np.log(np.clip(p[np.arange(n), labels], 1e-7, 1.0)))
        dz = p.copy()
        dz[np.arange(n), labels] -= 1
        dz /= n
        grads = [None] * len(self.params)
        for i in range(len(cache) - 1, -1, -1):
            h, z, y = cache[i]
            grads[2 * i] = h.T @ dz + self.wd * self.params[2 * i]
            grads[2 * i + 1] = dz.sum(axis=0)
            if i:
                dz = (dz @ self.params[2 * i].T) * self.dact(cache[i - 1][1], cache[i - 1][2])
        return loss, grads

    def train_step(self, x, labels):
        loss, grads = self.gradients(x, labels)
        self.t += 1
        m_slots, v_slots = self.slots
        for p, g, m, v in zip(self.params, grads, m_slots, v_slots):
            if self.optimizer == "sgd":
                if self.momentum:
                    m *= self.momentum
                    m -= self.lr * g
                    p += self.momentum * m - self.lr * g if self.nesterov else m
                else:
                    p -= self.lr * g
            else:
                alpha = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
                m += (1 - self.b1) * (g - m)
                v += (1 - self.b2) * (g * g - v)
                p -= alpha * m / (np.sqrt(v) + self.eps)
        return loss
