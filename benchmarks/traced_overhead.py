"""Cost of tracing: W1 with Keras-style custom Dense layers against the built-in Dense.

W1 (MLP 784-512-512-10, ReLU, softmax cross-entropy, batch 128, Adam 1e-3)
is built twice: once from ``rv.layers.Dense`` (one fused step each), once
from a custom layer written as a Keras user writes it
(``ops.relu(ops.matmul(x, self.w) + self.b)``, no backward), whose gradient
comes from recording the ops on a tape. Training steps are timed in
alternating windows (the best window counts) so load from other processes
hits both alike. The issue's bar: the custom model at least 0.7x the
built-in speed. It also times the per-op recording cost on small arrays.

Usage::

    python benchmarks/traced_overhead.py [--seconds 2] [--windows 7]
"""

import os

# Some machines export these, which halves GEMM speed: unset them for this process only.
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import ranvier as rv  # noqa: E402
from ranvier import ops  # noqa: E402

BATCH, SIZES, N_BATCHES = 128, (784, 512, 512, 10), 8


class KerasDense(rv.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation_name = units, activation

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("bias", (self.units,), "zeros")

    def call(self, inputs):
        y = ops.matmul(inputs, self.w) + self.b
        if self.activation_name == "relu":
            return ops.relu(y)
        return ops.softmax(y) if self.activation_name == "softmax" else y


def _model(layer):
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((SIZES[0],))]
        + [layer(u, activation="relu") for u in SIZES[1:-1]]
        + [layer(SIZES[-1], activation="softmax")]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _window(step, n):
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def _op_cost(repeats=2000):
    """Microseconds per op for 20 small ops, eagerly and under a tape."""
    a = np.ones((8, 8), np.float32)

    def chain(x):
        for _ in range(10):
            x = ops.tanh(x * 0.5)
        return x

    eager = min(_window(lambda: chain(a), repeats) for _ in range(3))

    def taped():
        with rv.GradientTape() as tape:
            chain(tape.watch(a))

    traced = min(_window(taped, repeats) for _ in range(3))
    return 1e6 * eager / 20, 1e6 * traced / 20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--windows", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * N_BATCHES, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH * N_BATCHES)
    steps = {}
    for name, layer in (("built-in Dense", rv.layers.Dense), ("Keras-style Dense", KerasDense)):
        model = _model(layer)
        batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        state = {"i": 0}

        def step(model=model, batches=batches, state=state):
            xb, yb = batches[state["i"] % len(batches)]
            state["i"] += 1
            model.train_on_batch(xb, yb)

        for _ in range(5):
            step()
        steps[name] = step
    per_step = _window(steps["built-in Dense"], 5)
    n = max(3, int(args.seconds / args.windows / per_step))
    best = {name: np.inf for name in steps}
    for _ in range(args.windows):
        for name, step in steps.items():
            best[name] = min(best[name], _window(step, n))
    base = best["built-in Dense"]
    print(f"W1 training step, batch {BATCH}, {rv.get_num_threads()} threads (best of {args.windows} windows)")
    for name, sec in best.items():
        print(f"  {name:<18} {1e3 * sec:7.2f} ms  {BATCH / sec:9,.0f} samples/s  {base / sec:5.2f}x built-in")
    eager, traced = _op_cost()
    print(
        f"ops on 8x8 float32: {eager:.1f} us per op eagerly, {traced:.1f} us under a tape "
        f"(recording: {traced - eager:.1f} us per op)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
