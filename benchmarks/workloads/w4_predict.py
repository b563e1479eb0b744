"""W4: W1's MLP in inference: predict on batches of 1024 (throughput)."""

import numpy as np

from . import w1_mlp
from ._common import cycle_batches

ID = "W4"
DESCRIPTION = "W1's MLP 784-512-512-10, predict, batch 1024 (inference throughput)"
BATCH = 1024
N_BATCHES = 4


def train_flops_per_sample():
    """Forward products only (the name is the runner's contract)."""
    sizes = w1_mlp.SIZES
    return 2.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def make_data(rng):
    return rng.standard_normal((BATCH * N_BATCHES, w1_mlp.SIZES[0])).astype(np.float32), None


def ranvier_step(x, y, batch=BATCH):
    import ranvier as rv

    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((w1_mlp.SIZES[0],))]
        + [rv.layers.Dense(u, activation="relu") for u in w1_mlp.SIZES[1:-1]]
        + [rv.layers.Dense(w1_mlp.SIZES[-1], activation="softmax")]
    )
    next_batch = cycle_batches(x, np.zeros(len(x)), batch)

    def step():
        model.predict(next_batch()[0], batch_size=batch)

    return step


def numpy_step(x, y, batch=BATCH):
    from ranvier.reference.mlp import ReferenceMLP

    net = ReferenceMLP(w1_mlp.SIZES, seed=0)
    next_batch = cycle_batches(x, np.zeros(len(x)), batch)

    def step():
        net.forward(next_batch()[0])

    return step


def torch_step(x, y, batch=BATCH):
    import torch

    torch.manual_seed(0)
    sizes = w1_mlp.SIZES
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [torch.nn.Softmax(1)])
    model = torch.nn.Sequential(*layers).eval()
    next_batch = cycle_batches(x, np.zeros(len(x)), batch, lambda a, b: (torch.from_numpy(a), b))

    def step():
        with torch.inference_mode():
            model(next_batch()[0])

    return step
