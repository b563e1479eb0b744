"""Rosenblatt's perceptron: converges on separable data, cannot learn XOR; an MLP can.

The perceptron is a linear unit ``s = w . x + b`` whose prediction is the step
``binary_step(s)`` (1 for s >= 0, else 0). Here it is a ``Dense(1)`` trained
with the hinge loss ``max(0, 1 - t s)`` (targets t in {-1, +1}; 0/1 labels are
converted) by SGD with one sample per step: the gradient is zero for samples
beyond the margin and ``-t x`` otherwise, so each step is the perceptron
update ``w += lr * t * x`` (Rosenblatt's criterion ``max(0, -t s)`` is the
same with margin 0).

1. Linearly separable 2-D data: training accuracy reaches 100% after a few
   epochs (the perceptron convergence theorem).
2. XOR: no line separates the four points, so the same unit stays below 100%
   however long it trains (Minsky and Papert).
3. One hidden layer of tanh units solves XOR.

Usage::

    python examples/perceptron.py [--epochs 50] [--seed 0] [--quick]
"""

import argparse

import numpy as np

import ranvier as rv

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def separable_data(n, seed, margin=0.1):
    """``n`` points of [-1, 1]^2 labelled by their side of x1 - 2 x2 + 0.3 = 0, none within ``margin``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (4 * n, 2))
    score = (x @ np.array([1.0, -2.0]) + 0.3) / np.sqrt(5.0)  # signed distance to the line
    keep = np.abs(score) > margin
    return x[keep][:n].astype(np.float32), (score[keep][:n] > 0).astype(np.int64)


def step_accuracy(model, x, y):
    """Accuracy of the perceptron's decision ``binary_step(w . x + b)`` against 0/1 labels."""
    predicted = rv.activations.binary_step(model.predict(x)).ravel()
    return float(np.mean(predicted == y))


def perceptron(seed):
    rv.config.set_random_seed(seed)
    model = rv.Sequential([rv.layers.Input((2,)), rv.layers.Dense(1)])
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="hinge")
    return model


def train_until_separated(model, x, y, epochs, batch_size):
    """Fit epoch by epoch; returns (accuracy per epoch), stopping at the first perfect epoch."""
    accuracies = []
    for _ in range(epochs):
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        accuracies.append(step_accuracy(model, x, y))
        if accuracies[-1] == 1.0:
            break
    return accuracies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs (smoke test)")
    args = parser.parse_args(argv)
    samples, epochs = (50, 20) if args.quick else (args.samples, args.epochs)

    x, y = separable_data(samples, args.seed)
    model = perceptron(args.seed)
    accuracies = train_until_separated(model, x, y, epochs, batch_size=1)
    w, b = (v.ravel() for v in model.get_weights())
    print(
        f"1. separable data ({samples} points): training accuracy {accuracies[-1]:.3f} "
        f"after {len(accuracies)} epoch(s); boundary {w[0]:+.3f} x1 {w[1]:+.3f} x2 {b[0]:+.3f} = 0"
    )

    # The four points repeated, so that one epoch is 100 perceptron updates.
    model = perceptron(args.seed)
    accuracies = train_until_separated(
        model, np.repeat(XOR_X, 25, axis=0), np.repeat(XOR_Y, 25), 4 * epochs, batch_size=1
    )
    print(
        f"2. XOR, perceptron: accuracy {accuracies[-1]:.2f} after {len(accuracies)} epochs, "
        f"best {max(accuracies):.2f} (a line gets at most 3 of the 4 points right)"
    )

    rv.config.set_random_seed(args.seed)
    mlp = rv.Sequential([rv.layers.Input((2,)), rv.layers.Dense(8, activation="tanh"), rv.layers.Dense(1)])
    mlp.compile(optimizer=rv.optimizers.SGD(0.1, momentum=0.9), loss="hinge")
    mlp.fit(XOR_X, XOR_Y, batch_size=4, epochs=10 * epochs, verbose=0)
    scores = mlp.predict(XOR_X).ravel()
    print(
        f"3. XOR, MLP 2-8-1 (tanh): accuracy {step_accuracy(mlp, XOR_X, XOR_Y):.2f}; "
        f"scores {np.array2string(scores, precision=2)} for targets {XOR_Y}"
    )


if __name__ == "__main__":
    main()
