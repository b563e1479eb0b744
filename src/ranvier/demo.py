"""The lecture's weight-decay experiment, on built-in data (``python -m ranvier demo``).

A two-class Gaussian mixture (200 training samples, 2000 test samples), an
MLP 2-50-2 with tanh hidden units, SGD (learning rate 0.1, momentum 0.9,
batch 32) and L2 weight decay on the kernels (the optimizer's coupled
``weight_decay``, never the biases). ``examples/weight_decay.py`` runs the
same experiment and draws the decision boundaries.
"""

import time

import ranvier as rv

__all__ = ["DECAYS", "weight_decay_experiment"]

DECAYS = (1e-4, 1e-3, 1e-2)


def weight_decay_experiment(decays=DECAYS, epochs=300, seed=0, verbose=True):
    """Train one model per weight decay; print and return the accuracies.

    Returns
    -------
    results : dict
        ``{weight_decay: (model, train_accuracy, test_accuracy)}``.
    data : tuple
        ``(x_train, y_train, x_test, y_test)``.
    """
    x_train, y_train = rv.datasets.make_gaussian_mixture(200, seed=seed)
    x_test, y_test = rv.datasets.make_gaussian_mixture(2000, seed=seed + 1)
    say = print if verbose else (lambda *a, **k: None)
    say(f"ranvier {rv.__version__}: two-class Gaussian mixture, 200 training / 2000 test samples")
    say(f"MLP 2-50-2 (tanh), SGD lr 0.1 momentum 0.9, batch 32, {epochs} epochs, L2 weight decay on kernels")
    say(f"{'weight decay':>12}  {'train acc':>9}  {'test acc':>8}  {'time':>6}")
    results = {}
    for wd in decays:
        rv.config.set_random_seed(seed)
        model = rv.Sequential(
            [rv.layers.Input((2,)), rv.layers.Dense(50, activation="tanh"), rv.layers.Dense(2, activation="softmax")]
        )
        model.compile(
            optimizer=rv.optimizers.SGD(0.1, momentum=0.9, weight_decay=wd),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        t0 = time.perf_counter()
        model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        elapsed = time.perf_counter() - t0
        train_acc = model.evaluate(x_train, y_train, verbose=0)[1]
        test_acc = model.evaluate(x_test, y_test, verbose=0)[1]
        results[wd] = (model, train_acc, test_acc)
        say(f"{wd:>12g}  {train_acc:>9.3f}  {test_acc:>8.3f}  {elapsed:>5.1f}s")
    return results, (x_train, y_train, x_test, y_test)
