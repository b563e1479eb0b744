"""What tests/reliability/test_fork.py runs in child processes, importable there by name.

pytest imports test modules under names a spawned child cannot import, so the custom
layer and the worker functions the children unpickle live here, on ``sys.path``.
"""

import ranvier as rv
from ranvier import ops

__all__ = ["ScaledDense", "make_model", "predict"]


@rv.saving.register_keras_serializable(package="fork_workers")
class ScaledDense(rv.layers.Layer):
    """A registered custom layer (Keras-style ``call``, weights of its own)."""

    def __init__(self, units, scale=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")

    def call(self, inputs):
        return ops.multiply(ops.matmul(inputs, self.w), self.scale)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


def make_model():
    """A model large enough that ``predict`` on 2048 rows runs parallel kernels."""
    rv.config.set_random_seed(0)
    return rv.Sequential(
        [rv.layers.Input((64,)), rv.layers.Dense(256, activation="relu"), ScaledDense(128), rv.layers.Dense(10)]
    )


def predict(model, x):
    """What a worker runs: the model's prediction of ``x``."""
    return model.predict(x)
