"""Extra cost of BatchNormalization + Dropout on W1-sized layers.

W1 (MLP 784-512-512-10, ReLU, softmax cross-entropy, batch 128, Adam 1e-3)
against the same network with ``BatchNormalization()`` and ``Dropout(0.5)``
after each hidden layer. Both training steps are timed in alternating
windows (best window wins), so load from other processes hits both alike;
the per-layer times are printed too. On a shared machine wall time is
noisy, so the process CPU time per step is reported as well (with one
thread it is the work done, whoever else runs). The target is an overhead
below 15% of the step time.

Usage::

    python benchmarks/bn_dropout_overhead.py [--seconds 2] [--windows 7]
"""

import os

# Some machines export these, which halves GEMM speed: unset them for this process only.
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import ranvier as rv  # noqa: E402
from ranvier.api.layers.normalization import BatchNormalization  # noqa: E402
from ranvier.api.layers.regularization import Dropout  # noqa: E402

BATCH, SIZES, N_BATCHES = 128, (784, 512, 512, 10), 8


def _model(regularized):
    rv.config.set_random_seed(0)
    layers = [rv.layers.Input((SIZES[0],))]
    for units in SIZES[1:-1]:
        layers.append(rv.layers.Dense(units, activation="relu"))
        if regularized:
            layers += [BatchNormalization(), Dropout(0.5, seed=0)]
    layers.append(rv.layers.Dense(SIZES[-1], activation="softmax"))
    model = rv.Sequential(layers)
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _steps(model, x, y):
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    state = {"i": 0}

    def step():
        state["i"] = (state["i"] + 1) % len(batches)
        model.train_on_batch(*batches[state["i"]])

    return step


def _per_call(fn, n, clock=time.perf_counter):
    t = clock()
    for _ in range(n):
        fn()
    return (clock() - t) / n


def _layer_costs(repeats=300):
    """Forward + backward of one BatchNormalization and one Dropout on a (128, 512) float32 batch."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((BATCH, SIZES[1])).astype(np.float32)
    dy = rng.standard_normal(h.shape).astype(np.float32)
    costs = {}
    for layer in (BatchNormalization(), Dropout(0.5, seed=0)):
        layer(h)

        def fwd_bwd(layer=layer):
            for v in layer.trainable_weights:
                v._fresh = True
            out, cache = layer.call(h, training=True)
            layer.backward(dy, cache)

        fwd_bwd()
        costs[type(layer).__name__] = min(_per_call(fwd_bwd, repeats) for _ in range(5))
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per window and model")
    parser.add_argument("--windows", type=int, default=7)
    args = parser.parse_args()

    blas = [
        (i.get("internal_api"), i.get("architecture"), i.get("num_threads"), os.path.basename(i["filepath"]))
        for i in threadpool_info()
        if i.get("internal_api") == "openblas"
    ]
    print(f"ranvier {rv.__version__}, threads {rv.get_num_threads()}; OpenBLAS (api, kernel, threads, lib): {blas}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * N_BATCHES, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH * N_BATCHES)
    steps = {name: _steps(_model(reg), x, y) for name, reg in (("plain", False), ("bn+dropout", True))}
    for step in steps.values():
        for _ in range(5):
            step()
    n = {name: max(3, int(args.seconds / max(_per_call(step, 3), 1e-6))) for name, step in steps.items()}
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    best = {(name, c): np.inf for name in steps for c in clocks}
    for _ in range(args.windows):
        for name, step in steps.items():
            for c, clock in clocks.items():
                best[name, c] = min(best[name, c], _per_call(step, n[name], clock))

    for c in clocks:
        plain, reg = best["plain", c], best["bn+dropout", c]
        print(
            f"[{c} time] W1 step, batch {BATCH}: {plain * 1e3:7.3f} ms; "
            f"with 2x(BatchNormalization, Dropout(0.5)): {reg * 1e3:7.3f} ms; "
            f"overhead {(reg - plain) * 1e3:.3f} ms = {100 * (reg - plain) / plain:.1f}% (target < 15%)"
        )
    for name, sec in _layer_costs().items():
        print(f"  {name} forward+backward on ({BATCH}, {SIZES[1]}): {sec * 1e6:6.1f} us")


if __name__ == "__main__":
    main()
