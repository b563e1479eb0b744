"""Every optimizer of the lecture on one problem, from the same initial weights.

The two-class Gaussian mixture (built in, no download), an MLP 2-50-50-2 with
tanh units and softmax + crossentropy. One set of initial weights is drawn
once and copied into every run (``model.set_weights``), so the runs differ
only by the optimizer:

- mini-batch (batch 32, ``--epochs`` passes): SGD, SGD with momentum,
  Nesterov momentum, Adagrad, RMSprop, Adadelta, Adam, AdamW;
- full batch (``--iterations`` scipy iterations over the whole training set):
  L-BFGS and nonlinear conjugate gradient.

Prints the final training loss and accuracy, the test accuracy (the mixture's
Bayes error is about 20%, so about 0.8 is the ceiling) and the wall time of
each run. Then two learning-rate schedules for SGD with momentum: a cosine
decay over all steps (a ``LearningRateSchedule`` given as the learning rate)
and a step decay (halve every 10 epochs, with the ``LearningRateScheduler``
callback), against the constant rate.

Usage::

    python examples/optimizers.py [--epochs 50] [--iterations 200] [--samples 500] [--seed 0] [--quick]
"""

import argparse
import time

import ranvier as rv

optim = rv.optimizers


def make_model():
    return rv.Sequential(
        [
            rv.layers.Input((2,)),
            rv.layers.Dense(50, activation="tanh"),
            rv.layers.Dense(50, activation="tanh"),
            rv.layers.Dense(2, activation="softmax"),
        ]
    )


def first_order():
    """The mini-batch optimizers, with learning rates that suit this problem (Keras' defaults are smaller)."""
    return {
        "SGD": optim.SGD(0.1),
        "SGD + momentum 0.9": optim.SGD(0.1, momentum=0.9),
        "Nesterov 0.9": optim.SGD(0.1, momentum=0.9, nesterov=True),
        "Adagrad": optim.Adagrad(0.1),
        "RMSprop": optim.RMSprop(0.01),
        "Adadelta": optim.Adadelta(1.0),
        "Adam": optim.Adam(0.01),
        "AdamW (wd 1e-3)": optim.AdamW(0.01, weight_decay=1e-3),
    }


def run(optimizer, initial_weights, data, epochs, callbacks=()):
    """Train a copy of the model from ``initial_weights``; returns (history, seconds, train/test metrics)."""
    x, y, x_test, y_test = data
    model = make_model()
    model.set_weights(initial_weights)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=32, epochs=epochs, callbacks=list(callbacks), verbose=0)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x, y, verbose=0)
    return history, seconds, loss, accuracy, model.evaluate(x_test, y_test, verbose=0)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="passes of the mini-batch optimizers")
    parser.add_argument("--iterations", type=int, default=200, help="iterations of L-BFGS and CG")
    parser.add_argument("--samples", type=int, default=500, help="training samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer samples, epochs, iterations (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.iterations, args.samples = 5, 20, 200

    rv.config.set_random_seed(args.seed)
    x, y = rv.datasets.make_gaussian_mixture(args.samples, seed=args.seed)
    x_test, y_test = rv.datasets.make_gaussian_mixture(2000, seed=args.seed + 1)
    data = (x, y, x_test, y_test)
    initial_weights = make_model().get_weights()
    steps = args.epochs * -(-args.samples // 32)

    print(f"{args.samples} training samples, MLP 2-50-50-2 (tanh), same initial weights for every run")
    print(f"{'optimizer':<22} {'runs':>10} {'train loss':>10} {'train acc':>9} {'test acc':>8} {'time':>7}")
    full_batch = {
        "L-BFGS": optim.LBFGS(max_iter=args.iterations),
        "conjugate gradient": optim.ConjugateGradient(max_iter=args.iterations),
    }
    for name, optimizer in {**first_order(), **full_batch}.items():
        history, seconds, loss, accuracy, test_accuracy = run(optimizer, initial_weights, data, args.epochs)
        runs = len(history.history["loss"])
        unit = "iter" if optimizer.full_batch else "epochs"
        print(f"{name:<22} {runs:>4} {unit:<6}{loss:>10.4f} {accuracy:>9.3f} {test_accuracy:>8.3f} {seconds:>6.2f}s")

    print("\nlearning-rate schedules, SGD with momentum 0.9 from 0.1:")
    schedules = {
        "constant 0.1": (optim.SGD(0.1, momentum=0.9), []),
        "cosine decay to 0": (optim.SGD(optim.schedules.CosineDecay(0.1, decay_steps=steps), momentum=0.9), []),
        "step: halve every 10 epochs": (
            optim.SGD(0.1, momentum=0.9),
            [rv.callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** (epoch // 10))],
        ),
    }
    for name, (optimizer, callbacks) in schedules.items():
        _, seconds, loss, accuracy, test_accuracy = run(optimizer, initial_weights, data, args.epochs, callbacks)
        print(
            f"{name:<28} train loss {loss:.4f}  train acc {accuracy:.3f}  test acc {test_accuracy:.3f}  "
            f"final learning rate {optimizer.learning_rate:.2g}"
        )


if __name__ == "__main__":
    main()
