"""Elementwise ops: arithmetic, math, comparisons (Keras 3 names, NumPy broadcasting).

Derivatives are written in terms of the forward's input ``x`` and output
``y`` so nothing is recomputed (exp' = y, tanh' = 1 - y^2, sqrt' = 1 / 2y).
"""

import math

import numpy as np

from ._dispatch import TRACED, binary, floating, nondiff, numeric, unary, value
from ._tape import record, recording, wrap

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "mod",
    "power",
    "pow",
    "negative",
    "square",
    "sqrt",
    "rsqrt",
    "abs",
    "absolute",
    "sign",
    "exp",
    "exp2",
    "log",
    "log1p",
    "log2",
    "log10",
    "expm1",
    "reciprocal",
    "erf",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "maximum",
    "minimum",
    "clip",
    "where",
    "floor",
    "ceil",
    "round",
    "trunc",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "isnan",
    "isinf",
    "isfinite",
    "copy",
    "logaddexp",
    "erfinv",
    "conj",
    "conjugate",
    "real",
    "imag",
    "isclose",
    "nan_to_num",
]

# -------------------------------------------------------------- arithmetic
add = binary("add", np.add, lambda dy, a, b, y: dy, lambda dy, a, b, y: dy)
subtract = binary("subtract", np.subtract, lambda dy, a, b, y: dy, lambda dy, a, b, y: -dy)
multiply = binary("multiply", np.multiply, lambda dy, a, b, y: dy * b, lambda dy, a, b, y: dy * a)
divide = binary("divide", np.true_divide, lambda dy, a, b, y: dy / b, lambda dy, a, b, y: -dy * y / b)
true_divide = binary("true_divide", np.true_divide, lambda dy, a, b, y: dy / b, lambda dy, a, b, y: -dy * y / b)
# floor(a / b) is piecewise constant: no gradient (TF and JAX give zeros).
floor_divide = nondiff("floor_divide", np.floor_divide, n_args=2)
# a mod b = a - b * floor(a / b).
mod = binary("mod", np.mod, lambda dy, a, b, y: dy, lambda dy, a, b, y: -dy * np.floor_divide(a, b))


def _d_power_base(dy, a, b, y):
    return dy * b * np.power(a, b - 1) if not np.isscalar(b) or b != 0 else np.zeros_like(dy)


def _d_power_exponent(dy, a, b, y):
    # d(a^b)/db = a^b log a, taken as 0 where a <= 0 (the limit at a = 0 for b > 0).
    a = np.asarray(a)
    safe = np.where(a > 0, a, 1)
    return dy * y * np.log(safe)


power = binary("power", np.power, _d_power_base, _d_power_exponent)
pow = power
negative = unary("negative", np.negative, lambda dy, x, y: -dy, float_only=False)
square = unary("square", np.square, lambda dy, x, y: 2 * x * dy, float_only=False)
abs = unary("abs", np.abs, lambda dy, x, y: np.sign(x) * dy, float_only=False)
absolute = abs
sign = nondiff("sign", np.sign)
copy = unary("copy", np.array, lambda dy, x, y: dy, float_only=False)

# -------------------------------------------------------------- float math
sqrt = unary("sqrt", np.sqrt, lambda dy, x, y: dy / (2 * y))
rsqrt = unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda dy, x, y: -0.5 * dy * y * y * y)
exp = unary("exp", np.exp, lambda dy, x, y: dy * y)
exp2 = unary("exp2", np.exp2, lambda dy, x, y: dy * y * math.log(2))
expm1 = unary("expm1", np.expm1, lambda dy, x, y: dy * (y + 1))
log = unary("log", np.log, lambda dy, x, y: dy / x)
log1p = unary("log1p", np.log1p, lambda dy, x, y: dy / (1 + x))
log2 = unary("log2", np.log2, lambda dy, x, y: dy / (x * math.log(2)))
log10 = unary("log10", np.log10, lambda dy, x, y: dy / (x * math.log(10)))
reciprocal = unary("reciprocal", np.reciprocal, lambda dy, x, y: -dy * y * y)


def _erf(x):
    from scipy.special import erf as _scipy_erf  # late: keeps `import ranvier` fast

    return _scipy_erf(x)


erf = unary("erf", _erf, lambda dy, x, y: dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x))


def _erfinv(x):
    from scipy.special import erfinv as _scipy_erfinv  # late: keeps `import ranvier` fast

    return _scipy_erfinv(x)


# erf(y) = x: dy/dx = 1 / erf'(y) = sqrt(pi) / 2 * exp(y^2).
erfinv = unary(
    "erfinv",
    _erfinv,
    lambda dy, x, y: dy * (math.sqrt(math.pi) / 2) * np.exp(y * y),
    doc="""Inverse error function: ``y`` with ``erf(y) = x``, for ``x`` in ``[-1, 1]`` (+-inf at +-1).

    Parameters
    ----------
    x : array_like, any shape; ints become floatx

    Returns
    -------
    ndarray or Tensor of ``x``'s shape (float).
    """,
)
sin = unary("sin", np.sin, lambda dy, x, y: dy * np.cos(x))
cos = unary("cos", np.cos, lambda dy, x, y: -dy * np.sin(x))
tan = unary("tan", np.tan, lambda dy, x, y: dy * (1 + y * y))
arcsin = unary("arcsin", np.arcsin, lambda dy, x, y: dy / np.sqrt(1 - x * x))
arccos = unary("arccos", np.arccos, lambda dy, x, y: -dy / np.sqrt(1 - x * x))
arctan = unary("arctan", np.arctan, lambda dy, x, y: dy / (1 + x * x))
sinh = unary("sinh", np.sinh, lambda dy, x, y: dy * np.cosh(x))
cosh = unary("cosh", np.cosh, lambda dy, x, y: dy * np.sinh(x))
tanh = unary("tanh", np.tanh, lambda dy, x, y: dy * (1 - y * y))
arcsinh = unary("arcsinh", np.arcsinh, lambda dy, x, y: dy / np.sqrt(x * x + 1))
arccosh = unary("arccosh", np.arccosh, lambda dy, x, y: dy / np.sqrt(x * x - 1))
arctanh = unary("arctanh", np.arctanh, lambda dy, x, y: dy / (1 - x * x))

# The larger (smaller) input takes the gradient; ties go to x1, as in TF.
maximum = binary("maximum", np.maximum, lambda dy, a, b, y: dy * (a >= b), lambda dy, a, b, y: dy * (a < b))
minimum = binary("minimum", np.minimum, lambda dy, a, b, y: dy * (a <= b), lambda dy, a, b, y: dy * (a > b))

floor = nondiff("floor", np.floor)
ceil = nondiff("ceil", np.ceil)
trunc = nondiff("trunc", np.trunc)
round = nondiff("round", lambda x, decimals=0: np.round(x, decimals))


def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]``; the gradient passes where ``x`` is inside."""
    if not isinstance(x, TRACED):
        return np.clip(numeric(value(x), "clip"), value(x_min), value(x_max))
    a, lo, hi = numeric(value(x), "clip"), value(x_min), value(x_max)
    y = np.clip(a, lo, hi)
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    return record(y, refs, lambda dy: (dy * ((a >= lo) & (a <= hi)),))


_nonzero = nondiff("where", np.nonzero)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (broadcast); with one argument, ``nonzero``."""
    if x1 is None and x2 is None:
        return _nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError(
            "ops.where: x1 and x2 must both be given or both be None, "
            f"got x1={'None' if x1 is None else 'an array'}, x2={'None' if x2 is None else 'an array'}"
        )
    c, a, b = np.asarray(value(condition), bool), value(x1), value(x2)
    y = np.where(c, a, b)
    if not (isinstance(x1, TRACED) or isinstance(x2, TRACED) or isinstance(condition, TRACED)):
        return y
    refs = recording(x1, x2)
    if refs is None:
        return wrap(y, x1, x2, condition)
    ra, rb = refs
    zero = np.zeros((), y.dtype)
    return record(
        y,
        refs,
        lambda dy: (
            np.where(c, dy, zero) if ra is not None else None,
            np.where(c, zero, dy) if rb is not None else None,
        ),
    )


def _logaddexp(a, b):
    return np.logaddexp(floating(a, "logaddexp", "x1"), floating(b, "logaddexp", "x2"))


# d/da log(e^a + e^b) = e^(a - y): a softmax weight, never overflows.
logaddexp = binary(
    "logaddexp",
    _logaddexp,
    lambda dy, a, b, y: dy * np.exp(a - y),
    lambda dy, a, b, y: dy * np.exp(b - y),
    doc="""``log(exp(x1) + exp(x2))`` elementwise, without overflow (NumPy broadcasting).

    Parameters
    ----------
    x1, x2 : array_like, broadcastable shapes; ints become floatx

    Returns
    -------
    ndarray or Tensor of the broadcast shape (float).
    """,
)

# Complex parts, with JAX's (transposed, unconjugated) convention that ops.multiply's
# dy * b follows: real's cotangent is complex(dy, 0), imag's complex(0, -dy), conj's conj(dy).
conj = unary(
    "conj",
    np.conjugate,
    lambda dy, x, y: np.conjugate(dy),
    float_only=False,
    doc="Complex conjugate, elementwise (real inputs unchanged); same shape as ``x``.",
)
conjugate = conj


def _real_grad(dy, x, y):
    return dy.astype(x.dtype) if np.iscomplexobj(x) else dy


def _imag_grad(dy, x, y):
    return -1j * dy if np.iscomplexobj(x) else np.zeros_like(dy)


real = unary(
    "real",
    np.real,
    _real_grad,
    float_only=False,
    doc="Real part, elementwise (``x`` itself for real inputs); same shape as ``x``.",
)
imag = unary(
    "imag",
    np.imag,
    _imag_grad,
    float_only=False,
    doc="Imaginary part, elementwise (zeros for real inputs); same shape as ``x``.",
)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN, +inf and -inf replaced (``numpy.nan_to_num``).

    Parameters
    ----------
    x : array_like, any shape
    nan : float, default 0.0
    posinf, neginf : float, optional
        Default: the largest (most negative) finite value of ``x``'s dtype.

    Returns
    -------
    ndarray or Tensor of ``x``'s shape and dtype. The gradient passes where
    ``x`` is finite and is zero at the replaced entries.
    """
    a = numeric(value(x), "nan_to_num")
    y = np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    return record(y, refs, lambda dy: (dy * np.isfinite(a),))


isclose = nondiff(
    "isclose",
    lambda x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False: np.isclose(x1, x2, rtol, atol, equal_nan),
    2,
    doc="""Whether ``|x1 - x2| <= atol + rtol * |x2|``, elementwise (boolean, no gradient).

    Parameters
    ----------
    x1, x2 : array_like, broadcastable shapes
    rtol : float, default 1e-5
    atol : float, default 1e-8
    equal_nan : bool, default False
        Whether two NaNs compare equal.
    """,
)

# -------------------------------------------------------------- comparisons
equal = nondiff("equal", np.equal, 2)
not_equal = nondiff("not_equal", np.not_equal, 2)
less = nondiff("less", np.less, 2)
less_equal = nondiff("less_equal", np.less_equal, 2)
greater = nondiff("greater", np.greater, 2)
greater_equal = nondiff("greater_equal", np.greater_equal, 2)
logical_and = nondiff("logical_and", np.logical_and, 2)
logical_or = nondiff("logical_or", np.logical_or, 2)
logical_xor = nondiff("logical_xor", np.logical_xor, 2)
logical_not = nondiff("logical_not", np.logical_not)
isnan = nondiff("isnan", np.isnan)
isinf = nondiff("isinf", np.isinf)
isfinite = nondiff("isfinite", np.isfinite)
