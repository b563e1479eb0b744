"""A leak loop: fit, predict, save and load over and over; RSS and traced Python memory stay bounded.

Numbers (printed with ``-s``) for 200 iterations here, 2,000 with
``RANVIER_SLOW_TESTS=1``; docs/reliability.md records a run of each.
"""

import gc
import os
import tracemalloc

import numpy as np

import ranvier as rv

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
_ITERATIONS = 2000 if SLOW else 200
_WARMUP = 20


def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_fit_predict_save_load_loop_does_not_leak(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    y = np.arange(64) % 4
    path = str(tmp_path / "m.ranvier")

    def iteration():
        model = rv.Sequential([rv.layers.Input((16,)), rv.layers.Dense(32, activation="relu"), rv.layers.Dense(4)])
        model.compile(optimizer="adam", loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        model.predict(x)
        model.save(path)
        assert np.isfinite(rv.load_model(path).predict(x)).all()

    for _ in range(_WARMUP):
        iteration()
    gc.collect()
    rss_start = _rss_mb()
    tracemalloc.start()
    traced_start = tracemalloc.get_traced_memory()[0]
    for i in range(_ITERATIONS):
        iteration()
        if i == _ITERATIONS // 2:
            gc.collect()
            rss_half = _rss_mb()
    gc.collect()
    traced_growth = (tracemalloc.get_traced_memory()[0] - traced_start) / 2**20
    tracemalloc.stop()
    rss_growth, late_growth = _rss_mb() - rss_start, _rss_mb() - rss_half
    print(
        f"{_ITERATIONS} iterations: RSS {rss_start:.1f} MB -> +{rss_growth:.2f} MB "
        f"(second half +{late_growth:.2f} MB), traced Python memory +{traced_growth:.3f} MB"
    )
    assert traced_growth < 1.0, f"traced Python memory grew {traced_growth:.3f} MB"
    assert rss_growth < 30 and late_growth < 10, f"RSS grew {rss_growth:.1f} MB (second half {late_growth:.1f} MB)"
