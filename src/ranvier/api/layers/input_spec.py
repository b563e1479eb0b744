"""InputSpec (Keras 3): the rank, dtype and shape a layer accepts, checked when it is called.

A layer sets ``self.input_spec`` (one InputSpec, or a list of them for a list
of inputs; in ``__init__``, or in ``build`` for the calls after the first) and
``Layer.__call__`` runs ``assert_input_compatibility`` before building or
computing, eagerly and on symbolic tensors, with Keras' messages.
"""

import numpy as np

from .. import tree

__all__ = ["InputSpec", "assert_input_compatibility"]


def _shape(shape):
    return tuple(None if d is None else int(d) for d in shape)


class InputSpec:
    """What a layer's input must be (Keras 3's arguments).

    Parameters
    ----------
    dtype : str, optional
    shape : tuple, optional
        The full shape, batch axis included (``None`` matches any size); sets ``ndim``.
    ndim, max_ndim, min_ndim : int, optional
    axes : dict of {int: int}, optional
        Sizes of given axes (negative counts from the end).
    allow_last_axis_squeeze : bool, default False
        A trailing axis of size 1 on either side is ignored for ``shape`` and
        ``ndim``.
    name : str, optional
        The key of this input when inputs come as a dict.
    optional : bool, default False
        The input may be None.
    """

    def __init__(
        self,
        dtype=None,
        shape=None,
        ndim=None,
        max_ndim=None,
        min_ndim=None,
        axes=None,
        allow_last_axis_squeeze=False,
        name=None,
        optional=False,
    ):
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if shape is not None:
            self.shape = _shape(shape)
            self.ndim = len(self.shape)
        else:
            self.ndim = ndim
            self.shape = None
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: axes={axes}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed value: {max_dim}")

    def __repr__(self):
        spec = [
            f"dtype={self.dtype}" if self.dtype else "",
            f"shape={self.shape}" if self.shape else "",
            f"ndim={self.ndim}" if self.ndim else "",
            f"max_ndim={self.max_ndim}" if self.max_ndim else "",
            f"min_ndim={self.min_ndim}" if self.min_ndim else "",
            f"axes={self.axes}" if self.axes else "",
        ]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        return {
            "dtype": self.dtype,
            "shape": self.shape,
            "ndim": self.ndim,
            "max_ndim": self.max_ndim,
            "min_ndim": self.min_ndim,
            "axes": self.axes,
            "optional": self.optional,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check(x, spec, index, layer_name):
    """Raise ValueError (Keras' messages) where ``x`` breaks ``spec``."""
    where = f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible with the layer"
    if isinstance(x, (list, tuple, int, float)):  # nested lists of numbers: the array the call makes of them
        x = np.asarray(x)
    if not hasattr(x, "shape"):
        raise ValueError(
            f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as input for layer '{layer_name}'."
        )
    shape = _shape(x.shape)
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where}: expected max_ndim={spec.max_ndim}, found ndim={ndim}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: {shape}")
    if spec.dtype is not None:
        dtype = np.dtype(x.dtype).name
        if dtype != spec.dtype:
            raise ValueError(f"{where}: expected dtype={spec.dtype}, found dtype={dtype}")
    for axis, value in spec.axes.items():
        if value is not None and shape[axis] not in (value, None):
            raise ValueError(
                f"{where}: expected axis {axis} of input shape to have value {value}, but received input with "
                f"shape {shape}"
            )
    if spec.shape is not None:
        spec_shape = spec.shape
        if spec.allow_last_axis_squeeze:
            shape = shape[:-1] if shape and shape[-1] == 1 else shape
            spec_shape = spec_shape[:-1] if spec_shape and spec_shape[-1] == 1 else spec_shape
        for spec_dim, dim in zip(spec_shape, shape):
            if spec_dim is not None and dim is not None and spec_dim != dim:
                raise ValueError(f"{where}: expected shape={spec.shape}, found shape={shape}")


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Check ``inputs`` (a tensor, a list or a dict of them) against ``input_spec`` (an InputSpec or a list).

    Raises
    ------
    ValueError
        Naming the input, the layer and what differs, as Keras does.
    """
    if not input_spec:
        return
    specs = tree.flatten(input_spec)
    if isinstance(inputs, dict):
        names = [spec.name for spec in specs]
        if all(names):
            for name in names:
                if name not in inputs:
                    raise ValueError(
                        f'Missing data for input "{name}". You passed a data dictionary with keys '
                        f"{list(inputs.keys())}. Expected the following keys: {names}"
                    )
            inputs = [inputs[name] for name in names]
    flat = tree.flatten(inputs)
    if not any(hasattr(t, "shape") for t in flat):  # nested lists of numbers: one input, the array they make
        flat = [inputs]
    if len(flat) != len(specs):
        raise ValueError(
            f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} input tensors.'
        )
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        _check(x, spec, index, layer_name)
