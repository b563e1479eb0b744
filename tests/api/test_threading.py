import os
import threading

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _threading, config
from ranvier.api._threading import _blas_libraries, compute_scope, settings
from ranvier.core import _blas


def _blas_threads():
    return [lib.get_num_threads() for lib in _blas_libraries().lib_controllers]


def test_scope_holds_blas_at_one_thread_and_restores_everything():
    before = _blas_threads(), _blas.get_gemm_threads(), config.kernel_threads()
    with compute_scope():
        assert _blas_threads() == [1] * len(before[0])
        assert config.kernel_threads() == config.get_num_threads()
        assert _blas.get_gemm_threads() == config.get_num_threads()
        with compute_scope():  # nested (e.g. an eager layer call inside fit)
            assert _blas_threads() == [1] * len(before[0])
        assert _blas_threads() == [1] * len(before[0])
    assert (_blas_threads(), _blas.get_gemm_threads(), config.kernel_threads()) == before


def test_scope_restores_after_an_error():
    before = _blas_threads(), _blas.get_gemm_threads(), config.kernel_threads()
    with pytest.raises(RuntimeError, match="boom"):
        with compute_scope():
            raise RuntimeError("boom")
    assert (_blas_threads(), _blas.get_gemm_threads(), config.kernel_threads()) == before


def test_scope_inside_a_user_limit_restores_the_users_limit():
    controller = _blas_libraries()
    with controller.limit(limits=1):
        with compute_scope():
            pass
        assert _blas_threads() == [1] * len(controller.lib_controllers)


def test_scope_hands_blas_back_to_other_threads():
    """threadpoolctl lets one thread at a time limit OpenBLAS: a finished scope must not keep it."""
    if max(t or 1 for t in _blas_threads()) < 2:
        pytest.skip("BLAS runs one thread here: a limit of 1 would not show")
    with compute_scope():
        pass
    seen = []

    def other_thread():
        with _blas_libraries().limit(limits=1):
            seen.append(_blas_threads())

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen == [[1] * len(_blas_libraries().lib_controllers)]


def test_scope_sets_and_restores_the_settings_and_the_core_split():
    n, deterministic = settings.num_threads, settings.deterministic
    try:
        settings.num_threads, settings.deterministic = 3, True
        with compute_scope():
            assert settings.kernel_threads == config.kernel_threads() == _blas.get_gemm_threads() == 3
            assert _blas.get_gemm_deterministic()
            settings.num_threads, settings.deterministic = 2, False
            with compute_scope():
                assert settings.kernel_threads == _blas.get_gemm_threads() == 2
                assert not _blas.get_gemm_deterministic()
            assert settings.kernel_threads == _blas.get_gemm_threads() == 3
            assert _blas.get_gemm_deterministic()
        assert settings.kernel_threads == _blas.get_gemm_threads() == 1
    finally:
        settings.num_threads, settings.deterministic = n, deterministic


def _process_threads():
    """Every BLAS and OpenMP library's thread count, in a fixed order."""
    from threadpoolctl import threadpool_info

    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info())


def test_last_scope_to_close_restores_blas_whichever_thread_opened_the_first():
    before = _blas_threads()
    opened, close_first = threading.Event(), threading.Event()

    def first():
        with compute_scope():
            opened.set()
            close_first.wait(30)

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert opened.wait(30)
        with compute_scope():
            close_first.set()
            worker.join()  # the scope that held BLAS first is closed; this one still needs it
            assert _blas_threads() == [1] * len(before)
    finally:
        close_first.set()
        worker.join()
    assert _blas_threads() == before


def test_kernel_threads_and_the_core_split_belong_to_the_calling_thread():
    seen = []
    with compute_scope():
        worker = threading.Thread(target=lambda: seen.append((config.kernel_threads(), _blas.get_gemm_threads())))
        worker.start()
        worker.join()
        assert config.kernel_threads() == _blas.get_gemm_threads() == config.get_num_threads()
    assert seen == [(1, 1)]


def test_predicts_from_many_threads_leave_every_setting_and_match_one_thread():
    model = rv.Sequential([rv.layers.Input((64,)), rv.layers.Dense(256, activation="relu"), rv.layers.Dense(10)])
    x = np.random.default_rng(0).standard_normal((512, 64)).astype(np.float32)  # large: inside the scope
    expected = model.predict(x)
    before = _process_threads(), config.kernel_threads(), _blas.get_gemm_threads()
    start, wrong = threading.Barrier(4), []

    def predict_many():
        start.wait()
        for _ in range(25):
            if not np.array_equal(model.predict(x), expected):
                wrong.append(1)

    threads = [threading.Thread(target=predict_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
    assert (_process_threads(), config.kernel_threads(), _blas.get_gemm_threads()) == before


@pytest.fixture
def no_wait_variables(monkeypatch):
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_threading, "wait_policy", None)


def test_busy_machine_waits_passively_while_the_core_loads(no_wait_variables, monkeypatch):
    monkeypatch.setattr(_threading, "_busy_elsewhere", lambda: True)
    with _threading.openmp_environment():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ  # child processes get the user's environment
    assert _threading.wait_policy == "PASSIVE"


def test_idle_machine_keeps_openmps_default(no_wait_variables, monkeypatch):
    monkeypatch.setattr(_threading, "_busy_elsewhere", lambda: False)
    with _threading.openmp_environment():
        assert "OMP_WAIT_POLICY" not in os.environ
    assert _threading.wait_policy is None


@pytest.mark.parametrize("var, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "1000")])
def test_the_users_wait_variables_win(no_wait_variables, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    monkeypatch.setattr(_threading, "_busy_elsewhere", lambda: True)
    with _threading.openmp_environment():
        assert {v: os.environ.get(v) for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} == {
            "OMP_WAIT_POLICY": None,
            "GOMP_SPINCOUNT": None,
            var: value,
        }
    assert os.environ[var] == value
    assert _threading.wait_policy is None


def test_a_fully_busy_machine_gets_fewer_threads_and_passive_waiting(monkeypatch):
    from ranvier.api import _threading

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setattr(_threading, "_default_threads", lambda: 2)
    monkeypatch.setattr(_threading, "_cpus", lambda: 2)
    monkeypatch.setattr(_threading.settings, "num_threads", _threading.settings.num_threads)
    monkeypatch.setattr(_threading, "wait_policy", None)
    for others, threads, policy in ((0, 2, None), (1, 2, "PASSIVE"), (2, 1, "PASSIVE"), (3, 1, "PASSIVE")):
        monkeypatch.setattr(_threading, "_busy_elsewhere", lambda others=others: others)
        _threading.settings.num_threads, _threading.wait_policy = 2, None
        with _threading.openmp_environment():
            assert os.environ.get("OMP_WAIT_POLICY") == policy
        assert "OMP_WAIT_POLICY" not in os.environ  # children get the user's environment
        assert (_threading.settings.num_threads, _threading.wait_policy) == (threads, policy)
