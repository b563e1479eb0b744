import pytest

import ranvier as rv


def test_floatx_round_trip_and_validation():
    assert rv.config.floatx() == "float32"
    rv.config.set_floatx("float64")
    try:
        assert rv.config.floatx() == "float64"
    finally:
        rv.config.set_floatx("float32")
    with pytest.raises(ValueError, match="'float16'"):
        rv.config.set_floatx("float16")


def test_num_threads():
    n = rv.get_num_threads()
    assert n >= 1
    rv.set_num_threads(1)
    try:
        assert rv.get_num_threads() == 1
    finally:
        rv.set_num_threads(n)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            rv.set_num_threads(bad)


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        rv.config.set_random_seed(-3)
