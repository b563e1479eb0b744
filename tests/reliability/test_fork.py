"""Forked, spawned and forkserver children run ranvier models, custom layers included.

libgomp has no fork handling: a child forked after a parallel kernel ran used to wait
forever at its first parallel region for the parent's OpenMP workers, which fork does not
copy. ``api/_threading`` stops the forking thread's idle team before every ``os.fork``.
Every child here runs under a deadline, so a hang fails the test instead of blocking CI.
"""

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _threading
from ranvier.core import _openmp

DEADLINE = 60  # seconds a child (or a pool of them) may take


@pytest.fixture(scope="module")
def workers():
    """``fork_workers``, imported by a name spawned children can import too (on ``sys.path``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(Path(__file__).parent))
        patch.setattr(_threading.settings, "num_threads", 2)  # a team to fork away from, even on 1 CPU
        import fork_workers

        yield fork_workers


@pytest.fixture(scope="module")
def model_x_y(workers):
    model = workers.make_model()
    x = np.random.default_rng(0).standard_normal((2048, 64)).astype(np.float32)
    return model, x, model.predict(x)


def _blas_threads():
    return sorted((lib.filepath, lib.num_threads) for lib in _threading._blas_libraries().lib_controllers)


def _in_forked_child(check):
    """Fork; the child exits 0 when ``check()`` is true. Returns the child's exit code (-SIGALRM: it hung)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(DEADLINE)  # default action: the child dies if it hangs
            code = 0 if check() else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + DEADLINE + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child hung for {DEADLINE + 10} s")
        time.sleep(0.02)


def test_forked_child_predicts_after_parallel_kernels(model_x_y):
    model, x, expected = model_x_y
    model.predict(x)  # the parent's OpenMP team exists at the fork
    assert _in_forked_child(lambda: np.array_equal(model.predict(x), expected)) == 0
    assert np.array_equal(model.predict(x), expected)  # the parent starts a new team


def test_forked_child_fits(model_x_y):
    model, x, _ = model_x_y
    model.predict(x)

    def fit():
        model.compile(optimizer="adam", loss="mse")
        history = model.fit(x, np.zeros((len(x), 10), np.float32), batch_size=256, epochs=1, verbose=0)
        return np.isfinite(history.history["loss"][-1])

    assert _in_forked_child(fit) == 0


def test_forked_child_runs_serial_when_the_team_cannot_be_stopped(model_x_y, monkeypatch):
    """The fallback: kernels started with one thread never touch the parent's stale team."""
    model, x, expected = model_x_y
    monkeypatch.setattr(_openmp, "release_threads", lambda: False)
    model.predict(x)

    def serial():
        y = model.predict(x)
        with _threading.compute_scope():
            threads = rv.config.kernel_threads()
        return threads == 1 and np.allclose(y, expected, rtol=1e-5, atol=1e-6)

    assert _in_forked_child(serial) == 0


def test_fork_while_another_thread_holds_a_scope(model_x_y):
    """The child drops the scope it did not inherit: BLAS gets its threads back, no lock stays held."""
    model, x, expected = model_x_y
    before = _blas_threads()
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with _threading.compute_scope():
            entered.set()
            leave.wait(DEADLINE)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(DEADLINE)
        assert _blas_threads() != before or all(n == 1 for _, n in before)

        def child():
            restored = _blas_threads() == before
            return restored and np.array_equal(model.predict(x), expected) and _blas_threads() == before

        assert _in_forked_child(child) == 0
    finally:
        leave.set()
        holder.join()
    assert _blas_threads() == before


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool(model_x_y, workers, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    model, x, expected = model_x_y
    model.predict(x)
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.starmap_async(workers.predict, [(model, x)] * 2).get(DEADLINE)
    for y in results:
        assert np.array_equal(y, expected)


@pytest.mark.parametrize("backend", ["loky", "multiprocessing", "threading"])
def test_joblib_backends(model_x_y, workers, backend):
    joblib = pytest.importorskip("joblib")
    model, x, expected = model_x_y
    model.predict(x)
    results = joblib.Parallel(n_jobs=2, backend=backend, timeout=DEADLINE)(
        joblib.delayed(workers.predict)(model, x) for _ in range(3)
    )
    for y in results:  # loky limits its workers' threads, and thread counts change GEMM rounding
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
