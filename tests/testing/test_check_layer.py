"""check_layer catches a layer that breaks each part of the contract."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_layer
from ranvier.testing._check_layer import CHECKS


class _WrongKernelGradient(rv.layers.Dense):
    def backward(self, dy, cache, need_input_grad=True):
        dx = super().backward(dy, cache, need_input_grad)
        self.kernel.grad *= 1.01
        return dx


class _ForgetsUnits(rv.layers.Dense):
    def get_config(self):
        config = super().get_config()
        config["units"] = 1
        return config


class _WrongSymbolicShape(rv.layers.Dense):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units + 1,)


class _UnsavedState(rv.layers.Dense):
    """Keeps a value outside its weights and config: a loaded copy computes something else."""

    def build(self, input_shape):
        super().build(input_shape)
        self.offset = np.random.default_rng().standard_normal()

    def call(self, inputs, training=False):
        y, cache = super().call(inputs, training)
        return y + self.offset, cache


class _ThreadDependent(rv.layers.Dense):
    def call(self, inputs, training=False):
        y, cache = super().call(inputs, training)
        return y + rv.config.kernel_threads(), cache


@pytest.mark.parametrize(
    "cls, check, message, also_breaks",
    [
        (_WrongKernelGradient, "gradient", "kernel", ()),
        (_ForgetsUnits, "config", "weights do not fit", ("save",)),
        (_WrongSymbolicShape, "symbolic", "symbolic output shape", ()),
        (_UnsavedState, "save", "predictions after load_model", ("config",)),
        (_ThreadDependent, "threads", "outputs with 2 threads", ()),
    ],
)
def test_each_check_catches_its_breach(cls, check, message, also_breaks):
    custom = {"custom_objects": {cls.__name__: cls}}
    check_layer(cls, {"units": 2}, (3, 4), checks=[c for c in CHECKS if c != check and c not in also_breaks], **custom)
    with pytest.raises(AssertionError, match=f"check_layer\\({cls.__name__}\\) {check}: .*{message}"):
        check_layer(cls, {"units": 2}, (3, 4), checks=[check], **custom)


def test_random_layers_are_checked_with_one_mask_in_training():
    check_layer(rv.layers.Dropout, {"rate": 0.5, "seed": 3}, (4, 6), checks=["gradient", "threads"])


def test_unknown_checks_are_refused():
    with pytest.raises(ValueError, match="checks must be among"):
        check_layer(rv.layers.Dense, {"units": 2}, checks=["speed"])


def test_check_layer_leaves_the_global_settings_as_it_found_them():
    threads, floatx, deterministic = rv.get_num_threads(), rv.config.floatx(), rv.config.is_deterministic()
    check_layer(rv.layers.Dense, {"units": 2}, (3, 4))
    assert (rv.get_num_threads(), rv.config.floatx(), rv.config.is_deterministic()) == (threads, floatx, deterministic)
