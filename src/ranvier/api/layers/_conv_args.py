"""Constructor arguments Dense and the convolution layers share: one parser, one config writer.

``parse_window`` reads the sliding-window arguments (kernel_size, strides,
padding, data_format, dilation_rate) of the conv family, ``parse_output`` the
arguments of what follows the product (activation, use_bias, the bias weight,
activity_regularizer), and ``output_config`` writes the latter back in Keras'
key order. Each layer keeps its own kernel ``WeightSpec`` (names and keys differ).
"""

from .. import activations, regularizers
from .._conv_geometry import check_channels_last, normalize_padding, normalize_tuple
from ._weight_spec import WeightSpec

__all__ = ["parse_window", "parse_output", "output_config"]


def parse_window(layer, kernel_size, strides, padding, data_format, dilation_rate, padding_modes=("valid", "same")):
    """Check and set ``kernel_size``, ``strides``, ``dilation_rate`` (``layer.rank`` ints each) and ``padding``."""
    cls = type(layer).__name__
    check_channels_last(data_format, cls)
    layer.kernel_size = normalize_tuple(kernel_size, layer.rank, "kernel_size", cls)
    layer.strides = normalize_tuple(strides, layer.rank, "strides", cls)
    layer.dilation_rate = normalize_tuple(dilation_rate, layer.rank, "dilation_rate", cls)
    layer.padding = normalize_padding(padding, cls, padding_modes)


def parse_output(
    layer, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
):
    """Set ``activation``, ``use_bias``, the bias ``WeightSpec`` ``_bias`` and ``activity_regularizer``."""
    layer.activation = activations.get(activation)
    layer.use_bias = bool(use_bias)
    layer._bias = WeightSpec("bias", bias_initializer, bias_regularizer, bias_constraint)
    layer.activity_regularizer = regularizers.get(activity_regularizer)


def output_config(layer, *kernels):
    """Config of ``parse_output``'s arguments, the ``kernels`` (WeightSpecs) between use_bias and the bias."""
    config = {"activation": activations.serialize(layer.activation), "use_bias": layer.use_bias}
    for spec in kernels:
        config.update(spec.get_config())
    return {
        **config,
        **layer._bias.get_config(),
        "activity_regularizer": regularizers.serialize(layer.activity_regularizer),
    }
