import pytest

import ranvier as rv
from ranvier.api._threading import _default_threads, settings


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


def test_thread_functions_read_and_write_the_one_settings_object():
    n, deterministic = settings.num_threads, settings.deterministic
    try:
        rv.set_num_threads(3)
        assert settings.num_threads == rv.get_num_threads() == rv.config.get_num_threads() == 3
        rv.config.enable_determinism(0)
        assert settings.deterministic is rv.config.is_deterministic() is True
        rv.config.disable_determinism()
        assert settings.deterministic is rv.config.is_deterministic() is False
        assert rv.config.kernel_threads() == settings.kernel_threads == 1  # outside any compute scope
    finally:
        rv.set_num_threads(n)
        settings.deterministic = deterministic


@pytest.mark.parametrize(("env", "expected"), [("3", 3), ("2,1", 2), (" 4 ", 4), ("0", 5), ("x", 5), ("", 5)])
def test_default_threads_from_omp_num_threads_else_the_cpus(monkeypatch, env, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(5)), raising=False)
    assert _default_threads() == expected


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        rv.config.set_random_seed(-3)
