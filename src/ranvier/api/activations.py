"""Activation functions (Keras names and defaults) with their derivatives.

``get("relu")`` gives an :class:`Activation` object: ``forward(z, out=None,
bias=None)`` (adds ``bias`` along the last axis into ``z`` and applies the
function in one compiled pass), ``backward(dy, z, y, out=None)`` (the
gradient w.r.t. the pre-activation) and ``__call__(x)`` (a new array).
``needs_input`` tells whether ``backward`` reads ``z``; when it is False,
``forward`` may write its output over ``z``.

The module functions (``relu(x)``, ``softmax(x, axis=-1)``, ...) are the
Keras functions. Names: ``"gelu"`` is the exact (erf) GELU, as in Keras;
``"gelu_tanh"`` (alias ``"gelu_approximate"``) is the tanh approximation,
also reached through ``gelu(x, approximate=True)``. ``"binary_step"`` (the
perceptron's Heaviside step, 1 for x >= 0) is not in Keras; its derivative
is 0. ``"hard_swish"`` is Keras' alias of ``"hard_silu"``. ``glu`` and
``sparsemax`` (along an ``axis``) and the piecewise ``hard_shrink``,
``hard_tanh``, ``soft_shrink``, ``sparse_plus``, ``squareplus``,
``tanh_shrink`` and ``threshold`` run in NumPy; every other built-in runs a
compiled kernel. ``glu`` halves its axis. Custom activations subclass
:class:`Activation` and define ``forward`` and ``backward``.
"""

import math

import numpy as np

from ..core import _activations as _core
from . import config, serialization

__all__ = [
    "Activation",
    "get",
    "serialize",
    "deserialize",
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "softsign",
    "swish",
    "silu",
    "hard_sigmoid",
    "exponential",
    "binary_step",
    "softmax",
    "log_softmax",
    "mish",
    "hard_silu",
    "hard_swish",
    "log_sigmoid",
    "celu",
    "glu",
    "sparsemax",
    # layers2
    "hard_shrink",
    "hard_tanh",
    "soft_shrink",
    "sparse_plus",
    "squareplus",
    "tanh_shrink",
    "threshold",
]


def _float_input(x, arg="x"):
    """``x`` as a C-contiguous float array (float32 stays, float64 stays, others -> floatx)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be a numeric array, got dtype {arr.dtype}")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(config.floatx())
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{arg} contains NaN or inf")
    return arr


def _rows(a, arg, op):
    """The 2-D view (rows, last axis) of a C-contiguous float array, without a copy."""
    if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{op}: {arg} must be a float32 or float64 ndarray, got "
            f"{type(a).__name__ if not isinstance(a, np.ndarray) else a.dtype}"
        )
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {arg} must be C-contiguous")
    return a.reshape(-1, a.shape[-1] if a.ndim else 1)


def _like(out, ref, arg, op):
    """``out`` checked against ``ref`` (same shape and dtype), or a new array."""
    if out is None:
        return np.empty_like(ref)
    if not isinstance(out, np.ndarray) or out.shape != ref.shape or out.dtype != ref.dtype:
        raise ValueError(
            f"{op}: {arg} must be an ndarray of shape {ref.shape} and dtype {ref.dtype}, "
            f"got {getattr(out, 'shape', type(out).__name__)} "
            f"{getattr(out, 'dtype', '')}".rstrip()
        )
    return out


class Activation:
    """Base class of activations.

    A custom activation subclasses it and defines ``forward`` and ``backward``
    (and sets ``needs_input = False`` if its derivative only reads ``y``)::

        class Cube(rv.activations.Activation):
            name = "cube"
            def forward(self, z, out=None, bias=None):
                if bias is not None:
                    z += bias
                return np.power(z, 3, out=out)
            def backward(self, dy, z, y, out=None):
                return np.multiply(dy, 3 * z * z, out=out)

    Attributes
    ----------
    name : str
    needs_input : bool
        Whether ``backward`` reads the pre-activation ``z`` (else only ``y``).
    """

    name = "activation"
    needs_input = True

    def forward(self, z, out=None, bias=None):
        """y = f(z + bias).

        Parameters
        ----------
        z : ndarray of shape (..., n), float32 or float64, C-contiguous.
            The pre-activation. When ``bias`` is given, ``z`` is updated in
            place to ``z + bias`` (the model keeps it for ``backward``).
        out : ndarray like ``z``, optional
            Where to write ``y``; may be ``z`` itself when not ``needs_input``.
        bias : ndarray of shape (n,), optional

        Returns
        -------
        y : ndarray like ``z`` (``out`` if given)
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward(z, out=None, bias=None)")

    def backward(self, dy, z, y, out=None):
        """dz = dy * f'(z): the gradient w.r.t. the pre-activation.

        Parameters
        ----------
        dy : ndarray like ``y``: the gradient w.r.t. the output.
        z : ndarray like ``y``, or None when not ``needs_input``.
        y : ndarray: the output of ``forward``.
        out : ndarray like ``dy``, optional; may be ``dy`` itself.
        """
        raise NotImplementedError(f"{type(self).__name__} must define backward(dy, z, y, out=None)")

    def __call__(self, x):
        """f(x) as a new array (validated input; ints and bools become floatx)."""
        return self.forward(_float_input(x))

    def compute_output_shape(self, input_shape):
        """The shape of ``forward``'s output for an input of ``input_shape``: the same, unless overridden."""
        return input_shape

    def get_config(self):
        return {}

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"<Activation {self.name}{'(' + cfg + ')' if cfg else ''}>"


class _Kernel(Activation):
    """A built-in activation run by ``ranvier.core._activations``."""

    def __init__(self, name, kind, params=(0.0, math.inf, 0.0), config=None):
        self.name = name
        self._kind = _core.KINDS[kind]
        self._a, self._b, self._c = (float(p) for p in params)
        self.needs_input = self._kind in _core.NEEDS_INPUT
        self._config = dict(config or {})

    def forward(self, z, out=None, bias=None):
        z2 = _rows(z, "z", f"{self.name}.forward")
        out = _like(out, z, "out", f"{self.name}.forward")
        o2 = out.reshape(z2.shape)
        if bias is None:
            _core.activation_forward(self._kind, z2, self._a, self._b, self._c, o2, config.kernel_threads())
        else:
            _core.bias_activation_forward(self._kind, z2, bias, self._a, self._b, self._c, o2, config.kernel_threads())
        return out

    def backward(self, dy, z, y, out=None):
        op = f"{self.name}.backward"
        dy2 = _rows(dy, "dy", op)
        y2 = _rows(y, "y", op)
        if self.needs_input:
            if z is None:
                raise ValueError(f"{op}: this activation's derivative needs the pre-activation z, got None")
            z2 = _rows(z, "z", op)
        else:
            z2 = _EMPTY[dy.dtype]
        out = _like(out, dy, "out", op)
        _core.activation_backward(
            self._kind, dy2, z2, y2, self._a, self._b, self._c, out.reshape(dy2.shape), config.kernel_threads()
        )
        return out

    def get_config(self):
        return dict(self._config)


_EMPTY = {np.dtype(t): np.empty((0, 0), t) for t in ("float32", "float64")}


def is_plain(act, name):
    """True for the built-in activation ``name`` with default parameters: what fused kernels implement."""
    return type(act) is _Kernel and act.name == name and not act._config


def _finite(value, name, arg, minimum=None):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {arg} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (minimum is not None and v < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name}: {arg} must be a finite number{bound}, got {value!r}")
    return v


def _relu_spec(negative_slope=0.0, max_value=None, threshold=0.0):
    slope = _finite(negative_slope, "relu", "negative_slope", 0.0)
    top = math.inf if max_value is None else _finite(max_value, "relu", "max_value", 0.0)
    thr = _finite(threshold, "relu", "threshold")
    return (
        "relu",
        (slope, top, thr),
        {"negative_slope": slope, "max_value": max_value if max_value is None else top, "threshold": thr},
    )


def _leaky_spec(negative_slope=0.2):
    slope = _finite(negative_slope, "leaky_relu", "negative_slope", 0.0)
    return "relu", (slope, math.inf, 0.0), {"negative_slope": slope}


def _elu_spec(alpha=1.0):
    alpha = _finite(alpha, "elu", "alpha")
    return "elu", (alpha, 0.0, 0.0), {"alpha": alpha}


def _celu_spec(alpha=1.0):
    alpha = _finite(alpha, "celu", "alpha")
    if alpha <= 0:
        raise ValueError(f"celu: alpha must be > 0, got {alpha!r}")
    return "celu", (alpha, 0.0, 0.0), {"alpha": alpha}


def _gelu_spec(approximate=False):
    return ("gelu_tanh" if approximate else "gelu"), (0.0, 0.0, 0.0), {"approximate": bool(approximate)}


def _plain(kind, params=(0.0, math.inf, 0.0)):
    def spec():
        return kind, params, {}

    return spec


# name -> spec(**config) -> (kernel kind, (a, b, c), config). Keras names, plus the aliases.
_SPECS = {
    "linear": _plain("linear"),
    "sigmoid": _plain("sigmoid"),
    "tanh": _plain("tanh"),
    "relu": _relu_spec,
    "leaky_relu": _leaky_spec,
    "relu6": _plain("relu", (0.0, 6.0, 0.0)),
    "elu": _elu_spec,
    "selu": _plain("selu"),
    "gelu": _gelu_spec,
    "gelu_tanh": _plain("gelu_tanh"),
    "gelu_approximate": _plain("gelu_tanh"),
    "softplus": _plain("softplus"),
    "softsign": _plain("softsign"),
    "swish": _plain("swish"),
    "silu": _plain("swish"),
    "hard_sigmoid": _plain("hard_sigmoid"),
    "exponential": _plain("exponential"),
    "binary_step": _plain("binary_step"),
    "softmax": _plain("softmax"),
    "log_softmax": _plain("log_softmax"),
    "mish": _plain("mish"),
    "hard_silu": _plain("hard_silu"),
    "hard_swish": _plain("hard_silu"),
    "log_sigmoid": _plain("log_sigmoid"),
    "celu": _celu_spec,
}


def _sigmoid(x):
    """Logistic sigmoid without overflow (NumPy, the array's dtype)."""
    return np.exp(-np.logaddexp(0, -x))


class _AlongAxis(Activation):
    """A built-in activation along one axis, in NumPy: ``_forward`` / ``_backward`` see that axis last."""

    def __init__(self, axis=-1):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _last(self, a, arg, op):
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: {arg} must be a float32 or float64 ndarray, got {type(a).__name__}")
        if not -a.ndim <= self.axis < a.ndim:
            raise ValueError(f"{op}: axis {self.axis} is out of range for {arg} of shape {a.shape}")
        return np.moveaxis(a, self.axis, -1)

    def forward(self, z, out=None, bias=None):
        op = f"{self.name}.forward"
        if bias is not None:
            z += bias
        y = np.moveaxis(self._forward(self._last(z, "z", op)), -1, self.axis)
        if out is None:
            return np.ascontiguousarray(y)
        out = _like(out, y, "out", op)
        out[...] = y
        return out

    def backward(self, dy, z, y, out=None):
        op = f"{self.name}.backward"
        if self.needs_input and z is None:
            raise ValueError(f"{op}: this activation's derivative needs the pre-activation z, got None")
        zm = self._last(z, "z", op) if self.needs_input else None
        dz = np.moveaxis(self._backward(self._last(dy, "dy", op), zm, self._last(y, "y", op)), -1, self.axis)
        if out is None:
            return np.ascontiguousarray(dz)
        out = _like(out, dz, "out", op)
        out[...] = dz
        return out

    def get_config(self):
        return {} if self.axis == -1 else {"axis": self.axis}


class _Glu(_AlongAxis):
    """Gated linear unit (Dauphin et al. 2017): ``a * sigmoid(b)`` for ``a, b`` the halves of ``axis``."""

    name = "glu"

    def _halves(self, zm, op):
        if zm.shape[-1] % 2:
            raise ValueError(f"{op}: the size of axis {self.axis} must be even, got {zm.shape[-1]}")
        return np.split(zm, 2, axis=-1)

    def _forward(self, zm):
        a, b = self._halves(zm, "glu.forward")
        return a * _sigmoid(b)

    def _backward(self, dym, zm, ym):
        a, b = self._halves(zm, "glu.backward")
        s = _sigmoid(b)
        return np.concatenate([dym * s, dym * a * s * (1 - s)], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = self.axis % len(shape)
        if shape[axis] is not None:
            shape[axis] //= 2
        return tuple(shape)


class _Sparsemax(_AlongAxis):
    """Sparsemax (Martins and Astudillo 2016): the Euclidean projection onto the simplex along ``axis``."""

    name = "sparsemax"
    needs_input = False

    def _forward(self, zm):
        if zm.shape[-1] == 0:
            raise ValueError(f"sparsemax.forward: axis {self.axis} must not be empty, got size 0")
        ranked = -np.sort(-zm, axis=-1)
        k = np.arange(1, zm.shape[-1] + 1, dtype=zm.dtype)
        cumulative = np.cumsum(ranked, axis=-1)
        support = np.sum(1 + k * ranked > cumulative, axis=-1, keepdims=True)
        tau = (np.take_along_axis(cumulative, support - 1, axis=-1) - 1) / support.astype(zm.dtype)
        return np.maximum(zm - tau, 0)

    def _backward(self, dym, zm, ym):
        inside = ym > 0
        mean = np.sum(dym * inside, axis=-1, keepdims=True) / np.sum(inside, axis=-1, keepdims=True)
        return np.where(inside, dym - mean, 0).astype(ym.dtype, copy=False)


# name -> class of the built-ins that run in NumPy along an axis.
_ALONG_AXIS = {"glu": _Glu, "sparsemax": _Sparsemax}


class _Elementwise(Activation):
    """A built-in elementwise activation in NumPy (Keras' formulas): ``_f(z)`` and its derivative ``_df(z, y)``.

    ``_DEFAULTS`` are the parameters and their defaults (``None``: required, as
    Keras' ``threshold(x, threshold, default_value)``); the config keeps the
    non-default ones.
    """

    _DEFAULTS = {}

    def __init__(self, **params):
        unknown = set(params) - set(self._DEFAULTS)
        if unknown:
            raise TypeError(f"{self.name}: unexpected argument(s) {sorted(unknown)}")
        self._params = {}
        for key, default in self._DEFAULTS.items():
            if key not in params and default is None:
                raise TypeError(f"{self.name}: missing required argument {key!r}")
            self._params[key] = _finite(params.get(key, default), self.name, key)
        self._check()

    def _check(self):
        pass

    def forward(self, z, out=None, bias=None):
        op = f"{self.name}.forward"
        _rows(z, "z", op)
        if bias is not None:
            z += bias
        out = _like(out, z, "out", op)
        out[...] = self._f(z, **self._params)
        return out

    def backward(self, dy, z, y, out=None):
        op = f"{self.name}.backward"
        _rows(dy, "dy", op)
        if z is None:
            raise ValueError(f"{op}: this activation's derivative needs the pre-activation z, got None")
        out = _like(out, dy, "out", op)
        out[...] = dy * self._df(z, **self._params)
        return out

    def get_config(self):
        return {k: v for k, v in self._params.items() if v != self._DEFAULTS[k]}


def _shrink_threshold(self):
    if self._params["threshold"] < 0:
        raise ValueError(f"{self.name}: threshold must be >= 0, got {self._params['threshold']!r}")


class _HardShrink(_Elementwise):
    """``x`` where ``|x| > threshold``, else 0."""

    name = "hard_shrink"
    _DEFAULTS = {"threshold": 0.5}
    _check = _shrink_threshold

    @staticmethod
    def _f(z, threshold):
        return np.where(np.abs(z) > threshold, z, 0)

    @staticmethod
    def _df(z, threshold):
        return np.abs(z) > threshold


class _HardTanh(_Elementwise):
    """``clip(x, -1, 1)``; derivative 1 inside [-1, 1] (TensorFlow's clip)."""

    name = "hard_tanh"

    @staticmethod
    def _f(z):
        return np.clip(z, -1, 1)

    @staticmethod
    def _df(z):
        return (z >= -1) & (z <= 1)


class _SoftShrink(_Elementwise):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""

    name = "soft_shrink"
    _DEFAULTS = {"threshold": 0.5}
    _check = _shrink_threshold

    @staticmethod
    def _f(z, threshold):
        return np.where(z > threshold, z - threshold, np.where(z < -threshold, z + threshold, 0))

    @staticmethod
    def _df(z, threshold):
        return np.abs(z) > threshold


class _SparsePlus(_Elementwise):
    """0 for ``x <= -1``, ``(x + 1) ** 2 / 4`` inside, ``x`` for ``x >= 1``."""

    name = "sparse_plus"

    @staticmethod
    def _f(z):
        return np.where(z <= -1, 0, np.where(z < 1, 0.25 * (z + 1) ** 2, z))

    @staticmethod
    def _df(z):
        return np.clip((z + 1) * 0.5, 0, 1)


class _Squareplus(_Elementwise):
    """``(x + sqrt(x ** 2 + b)) / 2`` (b >= 0)."""

    name = "squareplus"
    _DEFAULTS = {"b": 4.0}

    def _check(self):
        if self._params["b"] < 0:
            raise ValueError(f"squareplus: b must be >= 0, got {self._params['b']!r}")

    @staticmethod
    def _f(z, b):
        return (z + np.sqrt(z * z + b)) / 2

    @staticmethod
    def _df(z, b):
        root = np.sqrt(z * z + b)
        # b = 0 is relu: derivative 0 or 1 (0 at z = 0, where the root vanishes).
        return 0.5 * (1 + np.divide(z, root, out=np.zeros_like(z), where=root > 0))


class _TanhShrink(_Elementwise):
    """``x - tanh(x)``."""

    name = "tanh_shrink"

    @staticmethod
    def _f(z):
        return z - np.tanh(z)

    @staticmethod
    def _df(z):
        return np.tanh(z) ** 2


class _Threshold(_Elementwise):
    """``x`` where ``x > threshold``, else ``default_value`` (both required, as Keras)."""

    name = "threshold"
    _DEFAULTS = {"threshold": None, "default_value": None}

    @staticmethod
    def _f(z, threshold, default_value):
        return np.where(z > threshold, z, default_value)

    @staticmethod
    def _df(z, threshold, default_value):
        return z > threshold

    def get_config(self):
        return dict(self._params)


# name -> class of the built-in elementwise activations that run in NumPy.
_ELEMENTWISE = {
    cls.name: cls for cls in (_HardShrink, _HardTanh, _SoftShrink, _SparsePlus, _Squareplus, _TanhShrink, _Threshold)
}


def _make(name, **kwargs):
    if name in _ALONG_AXIS:
        return _ALONG_AXIS[name](**kwargs)
    if name in _ELEMENTWISE:
        return _ELEMENTWISE[name](**kwargs)
    kind, params, cfg = _SPECS[name](**kwargs)
    defaults = _SPECS[name]()[2]
    # Keras keeps the name it was asked for ("silu", "relu6"), so do we.
    return _Kernel(name, kind, params, {k: v for k, v in cfg.items() if v != defaults[k]})


def serialize(activation):
    """A JSON-able identifier: the name, or ``{"class_name", "config"}`` when it has settings."""
    return serialization.serialize(activation, "activation")


def deserialize(config, custom_objects=None):
    """Inverse of :func:`serialize`; ``custom_objects`` maps class names to Activation subclasses."""
    return serialization.deserialize(config, "activation", custom_objects)


def get(identifier):
    """An :class:`Activation` from None (linear), a name, a config dict, an instance or a module function.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    TypeError
        For other callables: a custom activation must subclass ``Activation``
        and define ``forward`` and ``backward``, since ranvier needs the derivative.
    """
    return _make("linear") if identifier is None else serialization.get(identifier, "activation")


def _last_axis(fn, x, axis):
    """Apply a last-axis activation along ``axis``."""
    arr = _float_input(x)
    if arr.ndim == 0:
        raise ValueError(f"{fn.name}: x must have at least one dimension, got a scalar")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"{fn.name}: axis {axis} is out of range for x of shape {arr.shape}")
    if axis % arr.ndim == arr.ndim - 1:
        return fn.forward(arr)
    moved = np.ascontiguousarray(np.moveaxis(arr, axis, -1))
    return np.moveaxis(fn.forward(moved, out=moved), -1, axis).copy()


def linear(x):
    """Identity: ``x``."""
    return _make("linear")(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return _make("sigmoid")(x)


def tanh(x):
    """Hyperbolic tangent."""
    return _make("tanh")(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras ``relu``: ``x`` above ``threshold`` (clipped to ``[0, max_value]``),
    ``negative_slope * (x - threshold)`` below."""
    return _make("relu", negative_slope=negative_slope, max_value=max_value, threshold=threshold)(x)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for x >= 0, ``negative_slope * x`` below."""
    return _make("leaky_relu", negative_slope=negative_slope)(x)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return _make("relu6")(x)


def elu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""
    return _make("elu", alpha=alpha)(x)


def selu(x):
    """Scaled ELU (Klambauer et al. 2017): ``scale * elu(x, alpha)``, fixed constants."""
    return _make("selu")(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate=True`` uses the tanh formula."""
    return _make("gelu", approximate=approximate)(x)


def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return _make("softplus")(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return _make("softsign")(x)


def swish(x):
    """``x * sigmoid(x)`` (also named silu)."""
    return _make("swish")(x)


def silu(x):
    """``x * sigmoid(x)`` (also named swish)."""
    return _make("silu")(x)


def hard_sigmoid(x):
    """Keras 3 hard sigmoid: ``relu6(x + 3) / 6``."""
    return _make("hard_sigmoid")(x)


def exponential(x):
    """``exp(x)``."""
    return _make("exponential")(x)


def binary_step(x):
    """Heaviside step of the perceptron: 1 for x >= 0, else 0 (derivative 0)."""
    return _make("binary_step")(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (max-subtracted, no overflow)."""
    return _last_axis(_make("softmax"), x, axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    return _last_axis(_make("log_softmax"), x, axis)


def mish(x):
    """``x * tanh(softplus(x))`` (Misra 2019)."""
    return _make("mish")(x)


def hard_silu(x):
    """``x * hard_sigmoid(x) = x * relu6(x + 3) / 6`` (also named hard_swish)."""
    return _make("hard_silu")(x)


def hard_swish(x):
    """``x * relu6(x + 3) / 6`` (also named hard_silu)."""
    return _make("hard_swish")(x)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, computed without overflow."""
    return _make("log_sigmoid")(x)


def celu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x / alpha) - 1)`` below (alpha > 0)."""
    return _make("celu", alpha=alpha)(x)


def glu(x, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)`` with ``a, b`` the two halves of ``axis`` (its size must be even)."""
    return _make("glu", axis=axis)(x)


def sparsemax(x, axis=-1):
    """Sparsemax along ``axis``: like softmax a probability vector, but with exact zeros."""
    return _make("sparsemax", axis=axis)(x)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return _make("hard_shrink", threshold=threshold)(x)


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return _make("hard_tanh")(x)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return _make("soft_shrink", threshold=threshold)(x)


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1) ** 2 / 4`` for ``-1 < x < 1``, ``x`` above."""
    return _make("sparse_plus")(x)


def squareplus(x, b=4):
    """``(x + sqrt(x ** 2 + b)) / 2``: a smooth relu (b >= 0)."""
    return _make("squareplus", b=b)(x)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return _make("tanh_shrink")(x)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return _make("threshold", threshold=threshold, default_value=default_value)(x)


_FUNCTIONS = {
    linear: "linear",
    sigmoid: "sigmoid",
    tanh: "tanh",
    relu: "relu",
    leaky_relu: "leaky_relu",
    relu6: "relu6",
    elu: "elu",
    selu: "selu",
    gelu: "gelu",
    softplus: "softplus",
    softsign: "softsign",
    swish: "swish",
    silu: "silu",
    hard_sigmoid: "hard_sigmoid",
    exponential: "exponential",
    binary_step: "binary_step",
    softmax: "softmax",
    log_softmax: "log_softmax",
    mish: "mish",
    hard_silu: "hard_silu",
    hard_swish: "hard_swish",
    log_sigmoid: "log_sigmoid",
    celu: "celu",
    glu: "glu",
    sparsemax: "sparsemax",
    hard_shrink: "hard_shrink",
    hard_tanh: "hard_tanh",
    soft_shrink: "soft_shrink",
    sparse_plus: "sparse_plus",
    squareplus: "squareplus",
    tanh_shrink: "tanh_shrink",
    threshold: "threshold",
}


class _Named:
    """A built-in activation name as a registry entry: ``from_config`` gives its kernel."""

    def __init__(self, name):
        self.name = name

    def from_config(self, config):
        return _make(self.name, **config)


def _from_function(fn):
    name = _FUNCTIONS.get(fn)
    if name is not None:
        return _make(name)
    raise TypeError(
        f"activation {fn!r} is a plain callable: ranvier needs its derivative, "
        "so a custom activation must subclass ranvier.activations.Activation and "
        "define forward(z, out=None, bias=None) and backward(dy, z, y, out=None)"
    )


def _serialize(activation):
    # Built-ins are written as Keras writes its activation functions: by name.
    if isinstance(activation, (_Kernel, _AlongAxis, _Elementwise)):
        cfg = activation.get_config()
        return activation.name if not cfg else {"class_name": activation.name, "config": cfg}
    if isinstance(activation, Activation):
        return serialization.serialize(activation)
    raise TypeError(f"serialize expects an Activation, got {activation!r}")


serialization.register_family(
    "activation",
    Activation,
    aliases={name: _Named(name) for name in (*_SPECS, *_ALONG_AXIS, *_ELEMENTWISE)},
    coerce=_from_function,
    serializer=_serialize,
)
