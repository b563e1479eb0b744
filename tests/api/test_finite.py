"""The boundary check: finite values within the range of the dtype a model computes in."""

import warnings

import numpy as np
import pytest

from ranvier.api._finite import as_finite, check_finite

F32_MAX = float(np.finfo(np.float32).max)


def test_a_float64_value_beyond_float32_is_refused_for_float32_only():
    x = np.array([[1.0, 2.0], [-F32_MAX * 2, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cast's overflow is found, not warned about
        with pytest.raises(ValueError, match=r"^x contains a value beyond the float32 range .* at index \(1, 0\)"):
            as_finite(x, np.float32, "x")
        with pytest.raises(ValueError, match=r"got -6.8\d*e\+38 at index \(1, 0\)"):
            check_finite(x, np.float32, "x")
    np.testing.assert_array_equal(as_finite(x, np.float64, "x"), x)
    check_finite(x, np.float64, "x")
    edge = np.array([F32_MAX, -F32_MAX])
    np.testing.assert_array_equal(as_finite(edge, np.float32, "x"), edge.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_name_the_first_index(dtype, bad):
    x = np.zeros((2, 3), dtype)
    x[1, 2] = x[1, 1] = bad
    for check in (as_finite, check_finite):
        with pytest.raises(ValueError, match=rf"^w contains NaN or inf, got {bad!r} at index \(1, 1\)"):
            check(x, np.float32, "w")


def test_integers_and_scalars():
    ids = np.array([[1, 2**62]])
    assert as_finite(ids, np.float32, "x").dtype == np.float32
    check_finite(ids, np.float32, "x")
    with pytest.raises(ValueError, match=r"^y contains NaN or inf, got nan \(the first one\)$"):
        check_finite(np.array(np.nan), np.float32, "y")
