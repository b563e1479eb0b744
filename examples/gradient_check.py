"""The numerical gradient check: backprop against central finite differences, in float64.

For every weight entry w the check computes ``(L(w + eps) - L(w - eps)) / (2 eps)``
and compares it with the gradient backprop wrote, by the relative error
``|a - n| / (|a| + |n|)`` (norms over each weight array). In float64 with
eps = 1e-6 a correct backward pass gives errors around 1e-10, far below the
1e-6 tolerance; a wrong one gives errors of 1e-3 and more.

1. A small MLP (tanh hidden layer with an L2 kernel penalty, softmax output,
   crossentropy loss) built in float64: every weight passes.
2. A custom layer ``y = tanh(a * x)`` with a learned per-feature scale ``a``,
   written twice: correctly, and with the classic bug of forgetting the
   derivative of tanh in the gradient of ``a``. The check passes the first
   and catches the second, both on the layer alone and inside a model.

Usage::

    python examples/gradient_check.py [--seed 0] [--quick]
"""

import argparse

import numpy as np

import ranvier as rv


class ScaledTanh(rv.layers.Layer):
    """``y = tanh(a * x)`` with one learned scale per feature (initialised to 1)."""

    def build(self, input_shape):
        self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")

    def call(self, inputs, training=False):
        z = inputs * self.scale.value
        y = np.tanh(z)
        return y, (inputs, y)

    def backward(self, dy, cache, need_input_grad=True):
        x, y = cache
        dz = dy * (1.0 - y * y)
        self._write_scale_grad(np.sum(dz * x, axis=0))
        return dz * self.scale.value if need_input_grad else None

    def _write_scale_grad(self, g):
        # Accumulates when the layer runs several times in one step (see docs/custom_layers.md).
        self.scale.accumulate_grad(g)


class BrokenScaledTanh(ScaledTanh):
    """The same layer with a bug: d/da uses dy instead of dy * tanh'(a x)."""

    def backward(self, dy, cache, need_input_grad=True):
        x, y = cache
        self._write_scale_grad(np.sum(dy * x, axis=0))  # BUG: the (1 - y**2) factor is missing
        return dy * (1.0 - y * y) * self.scale.value if need_input_grad else None


def print_errors(title, result):
    print(
        f"{title}: {'passed' if result.passed else 'FAILED'} (max relative error {result.max_error:.1e}, "
        f"tolerance {result.tol:g})"
    )
    for name, error in result.errors.items():
        print(f"    {name:<28} {error:.2e}{'' if error < result.tol else '   <-- wrong gradient'}")


def small_model(hidden_layer, n_features, n_classes):
    model = rv.Sequential(
        [
            rv.layers.Input((n_features,)),
            rv.layers.Dense(6, kernel_regularizer=rv.regularizers.L2(1e-2)),
            hidden_layer,
            rv.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke test)")
    args = parser.parse_args(argv)
    n = 4 if args.quick else args.samples

    rv.config.set_random_seed(args.seed)
    rv.config.set_floatx("float64")  # finite differences need float64: float32 rounding is ~1e-7
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((n, 5))
    y = rng.integers(0, 3, n)

    mlp = rv.Sequential(
        [
            rv.layers.Input((5,)),
            rv.layers.Dense(8, activation="tanh", kernel_regularizer=rv.regularizers.L2(1e-2)),
            rv.layers.Dense(3, activation="softmax"),
        ]
    )
    mlp.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    print_errors("1. MLP 5-8-3 (tanh, L2 penalty, softmax + crossentropy)", rv.testing.check_gradients(mlp, x, y))

    print_errors("2a. ScaledTanh layer alone (L = sum(R * y), R random)", rv.testing.check_gradients(ScaledTanh(), x))
    print_errors(
        "2b. BrokenScaledTanh layer alone", rv.testing.check_gradients(BrokenScaledTanh(), x, raise_on_failure=False)
    )
    print_errors("2c. model with ScaledTanh", rv.testing.check_gradients(small_model(ScaledTanh(), 5, 3), x, y))
    broken = rv.testing.check_gradients(small_model(BrokenScaledTanh(), 5, 3), x, y, raise_on_failure=False)
    print_errors("2d. model with BrokenScaledTanh", broken)
    wrong = [name for name, error in broken.errors.items() if error >= broken.tol]
    # The bug is in d/da only: dx is right, so the layers below the broken one still pass.
    print(f"caught: {', '.join(wrong) or 'nothing (the check missed the bug)'}")


if __name__ == "__main__":
    main()
