"""Argument normalisation and the one output-size rule of convolution and pooling.

Every conv and pooling layer computes its output size and padding here, for
shape inference (``compute_output_shape``) and for the arrays it allocates in
``call``, so the two never disagree.
"""

import numpy as np

from ._errors import UnsupportedArgument

__all__ = [
    "check_channels_last",
    "positive_int",
    "normalize_tuple",
    "normalize_padding",
    "normalize_pairs",
    "output_length",
    "output_geometry",
    "transpose_output_length",
    "transpose_geometry",
    "spatial_input",
    "check_input_rank",
]


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_channels_last(data_format, layer):
    """Refuse any ``data_format`` but None / "channels_last" (the only layout the kernels take)."""
    if data_format not in (None, "channels_last"):
        raise UnsupportedArgument(f"{layer}: only data_format='channels_last' is supported, got {data_format!r}")


def positive_int(value, arg, layer):
    """``value`` as an int, or ValueError naming ``layer`` and ``arg`` unless it is an integer > 0 (bools refused)."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{layer}: {arg} must be a positive integer, got {value!r}")
    return int(value)


def normalize_tuple(value, rank, arg, layer, minimum=1):
    """``rank`` ints >= ``minimum`` from an int or a sequence of ``rank`` ints (Keras forms)."""
    items = (value,) * rank if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or len(items) != rank or not all(_is_int(v) and v >= minimum for v in items):
        raise ValueError(
            f"{layer}: {arg} must be an integer >= {minimum} or a tuple of {rank} such integers, got {value!r}"
        )
    return tuple(int(v) for v in items)


def normalize_padding(value, layer, allowed=("valid", "same")):
    """A padding mode name, lower-cased and checked."""
    mode = value.lower() if isinstance(value, str) else value
    if mode not in allowed:
        raise ValueError(f"{layer}: padding must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return mode


def normalize_pairs(value, rank, arg, layer):
    """``rank`` (before, after) pairs of ints >= 0 from Keras' forms.

    ``1`` -> ((1, 1), ...); ``(1, 2)`` (rank 2) -> ((1, 1), (2, 2));
    ``((1, 2), (3, 4))`` as is; for rank 1 also ``(1, 2)`` -> ((1, 2),).
    """

    def bad():
        return ValueError(
            f"{layer}: {arg} must be an int >= 0, a tuple of {rank} ints or a tuple of "
            f"{rank} (before, after) pairs, got {value!r}"
        )

    if _is_int(value):
        pairs = ((value, value),) * rank
    elif rank == 1 and isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_int, value)):
        pairs = (tuple(value),)
    elif isinstance(value, (tuple, list)) and len(value) == rank:
        pairs = tuple((v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None for v in value)
    else:
        raise bad()
    if any(p is None or len(p) != 2 or not all(_is_int(v) and v >= 0 for v in p) for p in pairs):
        raise bad()
    return tuple((int(a), int(b)) for a, b in pairs)


def output_length(length, kernel, stride, dilation, padding):
    """(output length, padding before) along one axis; (None, None) for an unknown length.

    Keras rules: "valid" keeps whole windows only; "same" gives ceil(length / stride)
    with the odd padding cell after; "causal" pads (kernel - 1) * dilation before.
    Raises ValueError when no window fits, the caller adds which layer and axis.
    """
    if length is None:
        return None, None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        out = (length - span) // stride + 1 if length >= span else 0
        before = 0
    else:
        out = -(-length // stride)
        before = (span - 1) if padding == "causal" else max((out - 1) * stride + span - length, 0) // 2
    if out < 1:
        raise ValueError(
            f"a window of {span} (kernel {kernel}, dilation {dilation}) is larger than "
            f"the {padding}-padded input of length {length}"
        )
    return out, before


def _per_axis(length_rule, layer, spatial, *per_axis):
    """(sizes, leading paddings) from ``length_rule(n, *args)`` on every spatial axis; its
    ValueError gets the layer, the axis and the input shape."""
    outs, pads = [], []
    for axis, (n, *args) in enumerate(zip(spatial, *per_axis)):
        try:
            o, p = length_rule(n, *args)
        except ValueError as err:
            raise ValueError(
                f"{layer}: spatial axis {axis + 1}: {err}, got input spatial shape {tuple(spatial)}"
            ) from None
        outs.append(o)
        pads.append(p)
    return tuple(outs), tuple(pads)


def output_geometry(spatial, kernel, strides, dilation, padding, layer):
    """Output sizes and leading paddings for every spatial axis (``output_length`` per axis)."""
    return _per_axis(lambda *a: output_length(*a, padding), layer, spatial, kernel, strides, dilation)


def transpose_output_length(length, kernel, stride, dilation, padding, output_padding=None):
    """(output length, padding before) of a transposed convolution along one axis.

    Keras 3 rules (``compute_conv_transpose_output_shape``, TensorFlow's and JAX's
    padding): with ``span = (kernel - 1) * dilation + 1``, "valid" gives
    ``(length - 1) * stride + span + output_padding`` (``output_padding`` defaults to
    ``max(span, stride) - span``), "same" gives ``length * stride`` or, with
    ``output_padding``, ``(length - 1) * stride + span % 2 + output_padding``. The
    second value is the leading padding ``p`` of the convolution whose input
    gradient this is: input cell i, tap t land on output ``i * stride - p + t * dilation``.
    (None, None) for an unknown length; ValueError when the output would be empty.
    """
    if length is None:
        return None, None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        pad_len = 2 * (span - 1) + (max(span, stride) - span if output_padding is None else output_padding)
    elif output_padding is None:
        pad_len = stride + span - 2
    else:
        pad_len = span + span % 2 - 2 + output_padding
    before = span - 1 - min(pad_len - pad_len // 2, span - 1)
    out = (length - 1) * stride + pad_len - span + 2
    if out < 1:
        raise ValueError(
            f"the output would be empty (length {out}) for an input of length {length}, kernel {kernel}, "
            f"stride {stride}, dilation {dilation}, padding {padding!r}, output_padding {output_padding}"
        )
    return out, before


def transpose_geometry(spatial, kernel, strides, dilation, padding, output_padding, layer):
    """Output sizes and leading paddings for every spatial axis (``transpose_output_length`` per axis)."""
    extra = (None,) * len(spatial) if output_padding is None else output_padding
    return _per_axis(
        lambda n, k, s, d, op: transpose_output_length(n, k, s, d, padding, op),
        layer,
        spatial,
        kernel,
        strides,
        dilation,
        extra,
    )


_LAYOUTS = {
    1: "(batch, steps, channels)",
    2: "(batch, rows, cols, channels)",
    3: "(batch, depth, rows, cols, channels)",
}


def check_input_rank(shape, rank, layer, what=None):
    """Raise ValueError unless ``shape`` has ``rank + 2`` axes (``what``: the layout named, default channels-last)."""
    what = _LAYOUTS[rank] if what is None else what
    if len(shape) != rank + 2:
        raise ValueError(f"{layer} expects inputs of rank {rank + 2} {what}, got shape {tuple(shape)}")


def spatial_input(x, rank):
    """A (n, h, w, c) view of channels-last input of ``rank`` spatial axes (1-D: h = 1)."""
    return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]) if rank == 1 else x
