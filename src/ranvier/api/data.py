"""Input validation and batching for fit / evaluate / predict."""

import numpy as np

from ._finite import as_finite, check_finite

__all__ = [
    "as_text_array",
    "check_x",
    "check_y",
    "check_sample_weight",
    "class_weights_to_sample_weights",
    "split_validation",
    "batch_slices",
]


def check_x(x, expected_shape, dtype, arg="x"):
    """Validate model inputs and return a C-contiguous array of ``dtype``.

    Parameters
    ----------
    x : array-like of shape (n_samples, ...)
    expected_shape : tuple
        The model's input shape, batch dimension first (None = any).
    dtype : str
        The model input dtype (float or integer for token ids).
    """
    if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
        x = x[0]
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{arg} must be a numeric array, could not convert it: {exc}") from None
    dt = np.dtype(dtype)
    if dt.kind == "O":  # a "string" model input: text layers take object arrays of str
        if arr.dtype.kind not in "OUS":
            raise TypeError(f"{arg} must hold strings for a 'string' model input, got an array of dtype {arr.dtype}")
        arr = as_text_array(arr, arg)
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be numeric (bool, int or float), got an array of dtype {arr.dtype}")
    # Keras 3 (Functional._adjust_input_rank): a trailing dimension of 1 may be left out or added.
    if arr.ndim == len(expected_shape) - 1 and expected_shape[-1] == 1:
        arr = arr[..., None]
    elif arr.ndim == len(expected_shape) + 1 and arr.ndim > 1 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != len(expected_shape):
        hint = ""
        if arr.ndim == 1 and len(expected_shape) == 2:
            hint = " Use x.reshape(-1, 1) for a single feature or x.reshape(1, -1) for a single sample."
        raise ValueError(
            f"{arg} must have {len(expected_shape)} dimensions, shape {tuple(expected_shape)} "
            f"with the batch first; got shape {arr.shape}.{hint}"
        )
    for got, want in zip(arr.shape[1:], expected_shape[1:]):
        if want is not None and got != want:
            raise ValueError(f"The model expects {arg} of shape {tuple(expected_shape)}, got shape {arr.shape}")
    if dt.kind == "O":
        return arr
    if dt.kind == "f":
        return as_finite(arr, dt, arg)  # NaN, inf and values beyond dt's range, in the cast's one pass
    check_finite(arr, np.float64, arg)
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
        raise ValueError(f"{arg} must hold integer token ids for an integer model input, got non-integer values")
    return np.ascontiguousarray(arr, dtype=dt)


def as_text_array(values, what):
    """``values`` as an object array of ``str`` (bytes decoded as UTF-8), at least 1-D.

    Raises
    ------
    TypeError
        When an element is neither ``str`` nor ``bytes``.
    """
    arr = np.array(values, dtype=object, ndmin=1)
    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, bytes):
            flat[i] = v.decode("utf-8")
        elif not isinstance(v, str):
            raise TypeError(f"{what} must hold strings, got {v!r} of type {type(v).__name__}")
    return arr


def check_y(y, n, arg="y", x_arg="x"):
    """Targets as an array of ``n`` samples (the dtype and values are the loss's to check).

    Raises
    ------
    TypeError
        For non-numeric targets.
    ValueError
        For a scalar or a sample count other than ``n`` (that of ``x_arg``).
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be numeric, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(
            f"{arg} must be an array with one target per sample of {x_arg} ({n}), got a scalar: {arr.item()!r}"
        )
    if len(arr) != n:
        raise ValueError(f"{x_arg} and {arg} must have the same number of samples, got {n} and {len(arr)}")
    return arr


def check_sample_weight(sample_weight, n, arg="sample_weight", dtype=np.float64):
    """A float64 array of ``n`` non-negative weights, each finite in ``dtype`` (the model's), or None."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be numeric, got dtype {sw.dtype}")
    if sw.ndim == 2 and sw.shape[1] == 1:
        sw = sw[:, 0]
    if sw.shape[:1] != (n,):
        raise ValueError(f"{arg} must have one weight per sample ({n}), got shape {sw.shape}")
    check_finite(sw, dtype, arg)
    sw = np.ascontiguousarray(sw, dtype=np.float64)
    if (sw < 0).any():
        raise ValueError(f"{arg} must be >= 0, got min {float(sw.min())!r}")
    return sw


def class_weights_to_sample_weights(class_weight, y):
    """Per-sample weights from a {class index: weight} dict and labels or one-hot targets."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    y = np.asarray(y)
    labels = y.argmax(-1) if (y.ndim >= 2 and y.shape[-1] > 1) else y.reshape(len(y), -1)[:, 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.ones(len(labels), np.float64)
    for cls, w in class_weight.items():
        if not isinstance(cls, (int, np.integer)):
            raise TypeError(
                f"class_weight keys must be integer class indices, got the key {cls!r} ({type(cls).__name__})"
            )
        w = float(w)
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"class_weight must map classes to finite weights >= 0, got {cls!r}: {w!r}")
        weights[labels == int(cls)] = w
    return weights


def split_validation(arrays, validation_split):
    """Split off the last ``validation_split`` fraction (Keras: before shuffling)."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    n = len(arrays[0])
    n_val = int(n * validation_split)
    if validation_split > 0 and (n_val == 0 or n_val == n):
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples out of {n}")
    cut = n - n_val
    return (
        [None if a is None else a[:cut] for a in arrays],
        [None if a is None else a[cut:] for a in arrays] if n_val else None,
    )


def batch_slices(n, batch_size):
    """Consecutive (start, stop) ranges covering ``range(n)``."""
    return [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
