import numpy as np
import pytest

import ranvier as rv


def _layer():
    return rv.layers.Layer(name="probe")


def test_add_weight_takes_keras_3_arguments():
    layer = _layer()
    kernel = layer.add_weight((3, 2), "ones", regularizer="l2", constraint="non_neg", name="kernel")
    assert kernel.name == "probe/kernel" and kernel.shape == (3, 2) and np.all(kernel.value == 1)
    assert type(kernel.regularizer).__name__ == "L2" and type(kernel.constraint).__name__ == "NonNeg"
    scalar = layer.add_weight()
    assert scalar.shape == () and scalar.name == "probe/variable"
    assert layer.add_weight(shape=(2,), trainable=False, dtype="float64", autocast=False).name == "probe/variable_1"
    assert [v.name for v in layer.non_trainable_weights] == ["probe/variable_1"]


def test_add_weight_keeps_the_earlier_name_first_order():
    layer = _layer()
    w = layer.add_weight("w", (2, 2), "zeros", None, False, None, "float64")
    assert w.name == "probe/w" and w.dtype == np.float64 and not w.trainable and np.all(w.value == 0)
    with pytest.raises(TypeError, match="multiple values for argument 'shape'"):
        layer.add_weight("w2", (2,), shape=(3,))


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"aggregation": "sum"}, "aggregation"), ({"overwrite_with_gradient": True}, "overwrite_with_gradient")],
)
def test_add_weight_refuses_what_it_cannot_do(kwargs, argument):
    with pytest.raises(NotImplementedError, match=argument):
        _layer().add_weight((2,), **kwargs)


def test_weight_spec_creates_the_weight_and_writes_the_keras_config_keys():
    spec = rv.layers.WeightSpec("depthwise_kernel", "ones", "l1", "max_norm", key="depthwise")
    layer = _layer()
    var = spec.add_to(layer, (2, 3))
    assert var.name == "probe/depthwise_kernel" and np.all(var.value == 1) and var.constraint is spec.constraint
    config = spec.get_config()
    assert sorted(config) == ["depthwise_constraint", "depthwise_initializer", "depthwise_regularizer"]
    assert config["depthwise_initializer"]["class_name"] == "Ones"
    assert np.all(spec.add_to(layer, (2,), initializer="zeros").value == 0)


def test_layers_expose_their_specs_as_keras_attributes():
    dense = rv.layers.Dense(2, kernel_regularizer="l2", bias_initializer="ones")
    assert type(dense.kernel_regularizer).__name__ == "L2"
    assert type(dense.bias_initializer).__name__ == "Ones" and dense.bias_constraint is None
    lstm = rv.layers.LSTM(2, recurrent_constraint="non_neg")
    assert type(lstm.recurrent_constraint).__name__ == "NonNeg"
    with pytest.raises(AttributeError, match="gamma_initializer"):
        _ = dense.gamma_initializer


@pytest.mark.parametrize(
    "cls, args, base",
    [
        ("Conv1D", (2, 3), "conv1d"),
        ("Conv2DTranspose", (2, 3), "conv2d_transpose"),
        ("MaxPooling2D", (), "max_pooling2d"),
        ("GlobalAveragePooling1D", (), "global_average_pooling1d"),
        ("BatchNormalization", (), "batch_normalization"),
    ],
)
def test_default_names_follow_keras_to_snake_case(cls, args, base):
    # Keras 3 (utils/naming.to_snake_case) starts no word at a digit: conv2d, not conv2_d.
    name = getattr(rv.layers, cls)(*args).name
    assert name == base or name.startswith(base + "_") and name[len(base) + 1 :].isdigit()


def test_build_called_directly_builds_once():
    dense = rv.layers.Dense(3)
    dense.build((None, 4))
    assert dense.built and dense.input_shape == (None, 4)
    kernel = dense.kernel
    dense(np.ones((2, 4), np.float32))
    assert dense.kernel is kernel and len(dense.weights) == 2
