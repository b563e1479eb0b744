"""Time one implementation of one workload (called by run.py in a fresh process).

Prints one JSON line: samples/s (best of several timing windows) and peak RSS.
"""

import os
import sys

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import WORKLOADS  # noqa: E402


def measure(step, seconds, windows=5):
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    step()
    per_step = max(time.perf_counter() - t0, 1e-6)
    n = max(3, int(seconds / windows / per_step))
    best = np.inf
    for _ in range(windows):
        t = time.perf_counter()
        for _ in range(n):
            step()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload")
    parser.add_argument("impl")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    mod = importlib.import_module(f"workloads.{WORKLOADS[args.workload]}")
    x, y = mod.make_data(np.random.default_rng(0))
    step = getattr(mod, f"{args.impl}_step")(x, y)
    sec = measure(step, args.seconds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"samples_per_s": mod.BATCH / sec, "peak_rss_mb": rss}))


if __name__ == "__main__":
    main()
