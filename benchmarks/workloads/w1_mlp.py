"""W1: MLP 784-512-512-10, ReLU, softmax cross-entropy, batch 128, Adam 1e-3."""

import numpy as np

from ._common import batch_step, torch_train_step

ID = "W1"
DESCRIPTION = "MLP 784-512-512-10 ReLU, softmax CE, batch 128, Adam 1e-3 (training step)"
BATCH = 128
SIZES = (784, 512, 512, 10)
N_BATCHES = 8


def train_flops_per_sample():
    """Forward and weight-gradient GEMMs for every layer, data gradients for all but the first."""
    macs = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def make_data(rng):
    x = rng.standard_normal((BATCH * N_BATCHES, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH * N_BATCHES)
    return x, y


def ranvier_step(x, y):
    import ranvier as rv

    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((SIZES[0],))]
        + [rv.layers.Dense(u, activation="relu") for u in SIZES[1:-1]]
        + [rv.layers.Dense(SIZES[-1], activation="softmax")]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return batch_step(model.train_on_batch, x, y, BATCH)


def numpy_step(x, y):
    from ranvier.reference import mlp

    net = mlp.ReferenceMLP(SIZES, learning_rate=1e-3, seed=0)
    return batch_step(net.train_step, x, y, BATCH)


def torch_step(x, y):
    import torch

    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return torch_train_step(model, x, y, BATCH)
