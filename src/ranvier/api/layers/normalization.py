"""Normalisation layers (Keras arguments and defaults): Batch-, Layer-, Group- and UnitNormalization."""

import numpy as np

from ...core import _norm
from .. import config, initializers
from .._errors import UnsupportedArgument
from ..variables import grad_targets
from ._buffers import scratch
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization"]


def _check_epsilon(epsilon, cls):
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float, np.integer, np.floating))
        or not (np.isfinite(epsilon) and epsilon > 0)
    ):
        raise ValueError(f"{cls}: epsilon must be a finite number > 0, got {epsilon!r}")
    return float(epsilon)


def _single_axis(axis, cls):
    """One axis as an int, from an int or a one-item list (Keras configs write a list)."""
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{cls}: axis must be an integer, got {axis!r}")
    return int(axis)


def _resolve_axis(axis, ndim, cls, name):
    """``axis`` as a non-negative int, never the batch axis."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{cls} {name!r}: axis must be an integer, got {axis!r}")
    a = int(axis) + ndim if axis < 0 else int(axis)
    if not 1 <= a < ndim:
        raise ValueError(
            f"{cls} {name!r}: axis {axis} is out of range (or the batch axis) for inputs with {ndim} dimensions"
        )
    return a


class _Normalization(Layer):
    """Shared by the layers with affine parameters gamma and beta, and the channel axis ``_axis`` as rows."""

    def __init__(self, epsilon, center, scale, beta, gamma, **kwargs):
        """``beta``, ``gamma``: (initializer, regularizer, constraint) of each weight."""
        super().__init__(**kwargs)
        self.epsilon = _check_epsilon(epsilon, type(self).__name__)
        self.center, self.scale = bool(center), bool(scale)
        self._beta = WeightSpec("beta", *beta)
        self._gamma = WeightSpec("gamma", *gamma)
        self.gamma = self.beta = None

    def _build_affine(self, shape):
        if self.scale:
            self.gamma = self._gamma.add_to(self, shape)
        if self.center:
            self.beta = self._beta.add_to(self, shape)
        size = int(np.prod(shape))
        self._ones = np.ones(size, self.dtype)
        self._zeros = np.zeros(size, self.dtype)

    def _affine(self):
        """(gamma, beta) as flat arrays: ones / zeros when the layer has none."""
        gamma = self.gamma.value.reshape(-1) if self.scale else self._ones
        beta = self.beta.value.reshape(-1) if self.center else self._zeros
        return gamma, beta

    def _affine_grads(self):
        """(dgamma, dbeta, grad_beta) for the kernels: empty arrays for weights not trained."""
        (dgamma, dbeta), grad_beta = grad_targets(
            *[var if var is not None and self.trainable and var.trainable else None for var in (self.gamma, self.beta)]
        )
        empty = self._ones[:0]
        return (
            empty if dgamma is None else dgamma.reshape(-1),
            empty if dbeta is None else dbeta.reshape(-1),
            grad_beta,
        )

    def _rows(self, a):
        """``a`` as batch-major (positions, channels) rows, channel axis last (a view when it already is)."""
        if self._axis != a.ndim - 1:
            a = np.ascontiguousarray(np.moveaxis(a, self._axis, -1))
        return a.reshape(-1, a.shape[-1])

    def _unrows(self, rows, shape):
        """Undo ``_rows`` for an array of the input's ``shape``."""
        if self._axis == len(shape) - 1:
            return rows.reshape(shape)
        moved = shape[: self._axis] + shape[self._axis + 1 :] + (shape[self._axis],)
        return np.ascontiguousarray(np.moveaxis(rows.reshape(moved), -1, self._axis))

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **self._beta.get_config(),
            **self._gamma.get_config(),
        }


class BatchNormalization(_Normalization):
    """Normalise each channel with the batch statistics in training, the moving ones at inference.

    ``out = (x - mean) / sqrt(var + epsilon) * gamma + beta``, per channel
    (the entries along ``axis``), with statistics over every other axis: the
    batch after ``Dense``, batch and pixels after ``Conv2D`` (NHWC). In
    training (``training=True`` and the layer trainable) it uses the batch
    mean and biased variance and updates
    ``moving = momentum * moving + (1 - momentum) * batch`` (as Keras 3 does:
    PyTorch's ``running_var`` uses the unbiased variance, and its ``momentum``
    is ``1 - momentum``); otherwise it uses the moving statistics.

    Parameters
    ----------
    axis : int, default -1
        The channel axis (not the batch axis). Axes other than the last cost a transposed copy.
    momentum : float in [0, 1], default 0.99
    epsilon : float > 0, default 1e-3
    center, scale : bool, default True
        Learn an offset ``beta`` / a scale ``gamma``.
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer
        Defaults "zeros", "ones", "zeros", "ones".
    beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint : optional
    synchronized : bool, default False
        ``True`` (statistics synchronised across devices) raises ``NotImplementedError``:
        ranvier trains on one device (Keras also rejects it off TensorFlow).

    Notes
    -----
    Weights: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance`` (not).
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        beta = (beta_initializer, beta_regularizer, beta_constraint)
        gamma = (gamma_initializer, gamma_regularizer, gamma_constraint)
        super().__init__(epsilon, center, scale, beta, gamma, **kwargs)
        self.axis = _single_axis(axis, "BatchNormalization")
        if (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float, np.integer, np.floating))
            or not 0.0 <= momentum <= 1.0
        ):
            raise ValueError(f"BatchNormalization: momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        if synchronized:
            raise NotImplementedError(
                "BatchNormalization: synchronized=True is not supported (ranvier trains on "
                f"one device), got synchronized={synchronized!r}"
            )
        self.synchronized = False

    def build(self, input_shape):
        self._axis = _resolve_axis(self.axis, len(input_shape), "BatchNormalization", self.name)
        channels = input_shape[self._axis]
        if channels is None:
            raise ValueError(
                f"BatchNormalization {self.name!r}: the axis {self.axis} dimension must be known, "
                f"got input shape {tuple(input_shape)}"
            )
        self._build_affine((channels,))
        self.moving_mean = self.add_weight(
            shape=(channels,), initializer=self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(channels,), initializer=self.moving_variance_initializer, trainable=False, name="moving_variance"
        )

    def call(self, inputs, training=False):
        x = self._rows(inputs)
        gamma, beta = self._affine()
        out = scratch(self, "out", x.shape, x.dtype)
        n_threads = config.kernel_threads()
        batch_stats = bool(training) and self.trainable
        if batch_stats:
            if x.shape[0] == 0:
                raise ValueError(
                    f"BatchNormalization {self.name!r}: training needs a non-empty batch to compute "
                    f"the batch statistics, got input of shape {inputs.shape}"
                )
            stats = scratch(self, "stats", (2, x.shape[1]), x.dtype)
            mean, var = stats
            _norm.batch_norm_train_forward(
                x,
                gamma,
                beta,
                self.epsilon,
                self.momentum,
                out,
                mean,
                var,
                self.moving_mean.value,
                self.moving_variance.value,
                n_threads,
            )
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
            _norm.batch_norm_inference_forward(x, mean, var, gamma, beta, self.epsilon, out, n_threads)
        return self._unrows(out, inputs.shape), (x, mean, var, batch_stats, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        x, mean, var, batch_stats, shape = cache
        dgamma, dbeta, grad_beta = self._affine_grads()
        if not need_input_grad and not (dgamma.shape[0] or dbeta.shape[0]):
            return None
        gamma, _ = self._affine()
        dx = scratch(self, "dx", x.shape if need_input_grad else (0, x.shape[1]), x.dtype)
        _norm.batch_norm_backward(
            x,
            self._rows(dy),
            mean,
            var,
            gamma,
            self.epsilon,
            dgamma,
            dbeta,
            dx,
            grad_beta,
            batch_stats,
            need_input_grad,
            config.kernel_threads(),
        )
        return self._unrows(dx, shape) if need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized,
        }

    @classmethod
    def from_config(cls, config):
        # Files saved while synchronized=True was accepted (with no effect on one device) still load.
        return super().from_config({**config, "synchronized": False})


class LayerNormalization(_Normalization):
    """Normalise each sample over its last axes: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    The same in training and inference (no moving statistics).

    Parameters
    ----------
    axis : int or list of int, default -1
        The axes normalised over; they must be the trailing axes of the input
        (e.g. ``[-3, -2, -1]`` for a whole image), never the batch axis.
    epsilon : float > 0, default 1e-3
    center, scale : bool, default True
    rms_scaling : bool, default False
        Not supported (accepted as False for Keras configs).
    beta_initializer, gamma_initializer : default "zeros", "ones"
    beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint : optional

    Notes
    -----
    Weights: ``gamma`` and ``beta`` of the shape of the normalised axes.
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        rms_scaling=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        beta = (beta_initializer, beta_regularizer, beta_constraint)
        gamma = (gamma_initializer, gamma_regularizer, gamma_constraint)
        super().__init__(epsilon, center, scale, beta, gamma, **kwargs)
        if rms_scaling:
            raise UnsupportedArgument("LayerNormalization: rms_scaling=True is not supported, got rms_scaling=True")
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"LayerNormalization: axis must be an integer or a list of integers, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        resolved = sorted({_resolve_axis(a, ndim, "LayerNormalization", self.name) for a in axes})
        if resolved != list(range(ndim - len(resolved), ndim)):
            raise ValueError(
                f"LayerNormalization {self.name!r}: axis {self.axis} must be the trailing axes of "
                f"inputs with {ndim} dimensions (e.g. -1 or [-2, -1])"
            )
        shape = tuple(input_shape[a] for a in resolved)
        if None in shape:
            raise ValueError(
                f"LayerNormalization {self.name!r}: the normalised dimensions must be known, "
                f"got input shape {tuple(input_shape)}"
            )
        self._n_features = int(np.prod(shape))
        self._build_affine(shape)

    def call(self, inputs, training=False, mask=None):
        x = inputs.reshape(-1, self._n_features)
        gamma, beta = self._affine()
        out = scratch(self, "out", x.shape, x.dtype)
        mean, var = scratch(self, "stats", (2, x.shape[0]), x.dtype)
        _norm.layer_norm_forward(x, gamma, beta, self.epsilon, out, mean, var, config.kernel_threads())
        return out.reshape(inputs.shape), (x, mean, var)

    def backward(self, dy, cache, need_input_grad=True):
        x, mean, var = cache
        dgamma, dbeta, grad_beta = self._affine_grads()
        if not need_input_grad and not (dgamma.shape[0] or dbeta.shape[0]):
            return None
        gamma, _ = self._affine()
        dx = scratch(self, "dx", x.shape if need_input_grad else (0, x.shape[1]), x.dtype)
        _norm.layer_norm_backward(
            x,
            dy.reshape(x.shape),
            mean,
            var,
            gamma,
            self.epsilon,
            dgamma,
            dbeta,
            dx,
            grad_beta,
            need_input_grad,
            config.kernel_threads(),
        )
        return dx.reshape(dy.shape) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": False}


class GroupNormalization(_Normalization):
    """Normalise each sample over groups of channels: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    The channels (the entries along ``axis``) split into ``groups`` runs of
    ``channels // groups``; mean and biased variance are taken per sample and
    group, over the group's channels and every other non-batch axis. The same
    in training and inference. ``groups=1`` normalises each sample whole,
    ``groups=-1`` (one group per channel) is instance normalisation.

    Parameters
    ----------
    groups : int, default 32
        A divisor of the channel count (at most it), or -1 for one group per channel.
    axis : int, default -1
        The channel axis (not the batch axis). Axes other than the last cost a transposed copy.
    epsilon : float > 0, default 1e-3
    center, scale : bool, default True
    beta_initializer, gamma_initializer : default "zeros", "ones"
    beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint : optional

    Notes
    -----
    Input of any rank >= 2, float32 or float64; output of the same shape.
    Weights: ``gamma`` and ``beta`` of shape ``(channels,)`` as in Keras.
    ``get_config()["groups"]`` is the argument given (Keras writes the channel
    count there for ``-1`` once built); both load to the same layer.
    """

    supports_masking = True

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        beta = (beta_initializer, beta_regularizer, beta_constraint)
        gamma = (gamma_initializer, gamma_regularizer, gamma_constraint)
        super().__init__(epsilon, center, scale, beta, gamma, **kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or not (groups >= 1 or groups == -1):
            raise ValueError(f"GroupNormalization: groups must be an integer >= 1 or -1, got {groups!r}")
        self.groups = int(groups)
        self.axis = _single_axis(axis, "GroupNormalization")

    def build(self, input_shape):
        self._axis = _resolve_axis(self.axis, len(input_shape), "GroupNormalization", self.name)
        channels = input_shape[self._axis]
        if channels is None:
            raise ValueError(
                f"GroupNormalization {self.name!r}: the axis {self.axis} dimension must be known, "
                f"got input shape {tuple(input_shape)}"
            )
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(
                f"GroupNormalization {self.name!r}: groups must divide the {channels} channels "
                f"(axis {self.axis}), got groups={self.groups!r}"
            )
        self._groups = groups
        self._build_affine((channels,))

    def _samples(self, a):
        """``a`` as (batch, positions, channels), channels last (a view when they already are)."""
        rows = self._rows(a)
        return rows.reshape(a.shape[0], rows.shape[0] // max(a.shape[0], 1), rows.shape[1])

    def _group_mean(self, per_channel, count):
        """(batch, channels) sums -> each channel's group mean over ``count`` cells per channel, (batch, channels)."""
        n, c = per_channel.shape
        means = per_channel.reshape(n, self._groups, -1).sum(axis=2) / (max(count, 1) * (c // self._groups))
        return np.repeat(means, c // self._groups, axis=1)

    # Group statistics come from per-channel sums over positions (a reduction over the positions
    # axis of channels-last data, row after row), then tiny per-group sums: summing each group's
    # strided (positions, channels of the group) block directly was 5-10x slower in NumPy.

    def call(self, inputs, training=False, mask=None):
        x = self._samples(inputs)
        gamma, beta = self._affine()
        count = x.shape[1]
        centred = x - self._group_mean(x.sum(axis=1), count)[:, None, :]
        inv = 1.0 / np.sqrt(self._group_mean(np.einsum("nsc,nsc->nc", centred, centred), count) + self.epsilon)
        y = centred * (inv * gamma)[:, None, :]
        y += beta
        return self._unrows(y.reshape(-1, y.shape[2]), inputs.shape), (centred, inv, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        centred, inv, shape = cache
        g = self._samples(dy)
        dgamma, dbeta, grad_beta = self._affine_grads()
        sum_dy = g.sum(axis=1)  # (batch, channels)
        sum_dy_xhat = np.einsum("nsc,nsc->nc", g, centred) * inv
        for grad, value in ((dgamma, sum_dy_xhat), (dbeta, sum_dy)):
            if grad.shape[0] and grad_beta:
                grad += value.sum(axis=0)
            elif grad.shape[0]:
                grad[...] = value.sum(axis=0)
        if not need_input_grad:
            return None
        gamma, _ = self._affine()
        count = centred.shape[1]
        # dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = dy * gamma and
        # xhat = centred * inv, the means over each group: per (sample, channel) coefficients of dy,
        # of centred and a constant.
        mean_dxhat = self._group_mean(sum_dy * gamma, count)
        mean_dxhat_xhat = self._group_mean(sum_dy_xhat * gamma, count)
        dx = g * (inv * gamma)[:, None, :]
        dx -= centred * (inv * inv * mean_dxhat_xhat)[:, None, :]
        dx -= (inv * mean_dxhat)[:, None, :]
        return self._unrows(dx.reshape(-1, dx.shape[2]), shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}


class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over ``axis``: ``x / sqrt(max(sum(x ** 2), 1e-12))``.

    Parameters
    ----------
    axis : int or list of int, default -1
        The axes the norm is taken over (never the batch axis).

    Notes
    -----
    Input of any rank >= 2, float32 or float64; output of the same shape. No weights.
    """

    supports_masking = True
    _FLOOR = 1e-12  # Keras' floor on the squared norm

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"UnitNormalization: axis must be an integer or a list of integers, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        self._axes = tuple(sorted({_resolve_axis(a, len(input_shape), "UnitNormalization", self.name) for a in axes}))

    def call(self, inputs, training=False, mask=None):
        squares = np.sum(inputs * inputs, axis=self._axes, keepdims=True)
        inv = 1.0 / np.sqrt(np.maximum(squares, self._FLOOR))
        y = inputs * inv
        return y, (y, inv, squares > self._FLOOR)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        y, inv, above_floor = cache
        # Where the floor holds, the scale is a constant: only dy * inv remains.
        return inv * (dy - y * (np.sum(dy * y, axis=self._axes, keepdims=True) * above_floor))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
