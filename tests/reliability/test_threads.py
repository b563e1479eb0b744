"""``predict`` from 8 threads at once: the same results as one thread, and the thread settings restored."""

import threading

import numpy as np
import pytest

import ranvier as rv

_THREADS, _CALLS = 8, 20


@pytest.fixture(scope="module")
def model_and_inputs():
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((64,)), rv.layers.Dense(256, activation="relu"), rv.layers.Dense(10, activation="softmax")]
    )
    rng = np.random.default_rng(0)
    # Sizes on both sides of the small-predict path and of one inference batch.
    inputs = [rng.standard_normal((n, 64)).astype(np.float32) for n in (1, 7, 64, 300, 2048, 5, 700, 33)]
    return model, inputs


def _concurrent_predicts(model, inputs):
    results = [[] for _ in inputs]
    errors = []
    start = threading.Barrier(len(inputs))

    def work(i):
        try:
            start.wait()
            for _ in range(_CALLS):
                results[i].append(model.predict(inputs[i]))
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a predict thread hung"
    assert not errors, errors
    return results


def test_predict_from_8_threads_equals_single_threaded(model_and_inputs):
    model, inputs = model_and_inputs
    assert len(inputs) == _THREADS
    expected = [model.predict(x) for x in inputs]
    for i, outs in enumerate(_concurrent_predicts(model, inputs)):
        assert len(outs) == _CALLS
        for out in outs:
            np.testing.assert_array_equal(out, expected[i], err_msg=f"thread {i} differs from one thread")


_SETTINGS_AFTER_THREADS = """
import threading, numpy as np, ranvier as rv
from ranvier.api import config
from ranvier.api._threading import _blas_libraries
from ranvier.core import _blas
def settings():
    blas = [lib.get_num_threads() for lib in _blas_libraries().lib_controllers]
    return blas, _blas.get_gemm_threads(), config.kernel_threads()
model = rv.Sequential([rv.layers.Input((64,)), rv.layers.Dense(256), rv.layers.Dense(10)])
x = np.zeros((2048, 64), np.float32)
before = settings()
threads = [threading.Thread(target=lambda: [model.predict(x[:300]) for _ in range(20)]) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(before == settings(), before, settings())
"""


def test_predict_from_8_threads_leaves_the_thread_settings_as_they_were(run_child):
    """In a fresh process (this one's settings may already have leaked): BLAS, GEMM and kernel threads."""
    result = run_child(_SETTINGS_AFTER_THREADS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("True"), f"before, after: {result.stdout}"
