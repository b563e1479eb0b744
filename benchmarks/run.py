"""Benchmark runner: ranvier vs its NumPy reference vs PyTorch eager, in one run.

Usage::

    python benchmarks/run.py            # every workload
    python benchmarks/run.py W1 W2 --seconds 5 --rounds 3
    python benchmarks/run.py W1 --impls ranvier --baseline ../old   # A/B: this tree vs another checkout

Each implementation is timed in a fresh subprocess (so its peak RSS is its
own) with the same environment, the implementations in turn, ``--rounds``
times (the best process counts). Some machines here export OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE, which force slow GEMM kernels: this runner unsets both
for its own process and its children (never for tests or CI) and prints the
OpenBLAS kernels that actually ran. Speeds are only comparable within one
run: the machine's sgemm roof is measured here too, at the start and again after
each workload (the best reading counts).
"""

import os
import sys

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {
    "W1": "w1_mlp",
    "W2": "w2_cnn",
    "W3": "w3_lstm",
    "W4": "w4_predict",
    "W4L": "w4_latency",
    "W5": "w5_transformer",
}
IMPLS = ("ranvier", "numpy", "torch")


def blas_report():
    """One line per BLAS library loaded: which kernel (architecture) and threads."""
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS)
    from threadpoolctl import threadpool_info

    lines = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            lines.append(
                f"{os.path.basename(info['filepath'])}: {info.get('internal_api')} "
                f"{info.get('version')} kernel={info.get('architecture')} threads={info.get('num_threads')}"
            )
    return lines


def sgemm_roof(n=1024, repeats=7):
    """Best numpy float32 n^3 GEMM rate in GFLOP/s (the machine's roof in this run)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def import_time_ms(repeats=3):
    """Best of ``repeats`` fresh interpreters, with bytecode caches as an installed package has them.

    Some shells here export PYTHONDONTWRITEBYTECODE, which makes every import
    compile the sources again (about 2x the time); the first run writes the caches.
    """
    code = "import time; t = time.perf_counter(); import ranvier; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout)
        for _ in range(repeats + 1)
    ]
    return 1000 * min(times[1:])


def run_worker(workload, impl, seconds, baseline=None):
    """One implementation in a fresh process; ``impl == "baseline"`` is ranvier imported from ``baseline/src``."""
    env = os.environ.copy()
    if impl == "baseline":
        impl = "ranvier"
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(baseline, "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, os.path.join(HERE, "_worker.py"), workload, impl, "--seconds", str(seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of_rounds(workload, seconds, rounds, impls, baseline=None):
    """Each implementation's fastest process over ``rounds`` rounds, taken in turn.

    The VMs here lose half their speed for tens of seconds at a time; taking the
    implementations in turn, more than once, keeps such a spell from landing on
    one of them only (a single round measured W3 at 0.81x and 1.37x minutes apart).
    """
    results = {}
    for _ in range(max(rounds, 1)):
        for impl in impls:
            r = run_worker(workload, impl, seconds, baseline)
            if impl not in results or (
                "error" not in r and r["samples_per_s"] > results[impl].get("samples_per_s", -1)
            ):
                results[impl] = r
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per implementation")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="processes per implementation, taken in turn (ABC ABC); the best one counts",
    )
    parser.add_argument(
        "--impls", nargs="+", choices=IMPLS, default=list(IMPLS), help="implementations to time (ranvier always runs)"
    )
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="also time ranvier from another built checkout (its src/ on PYTHONPATH), "
        "in turn with this one: old vs new in one run",
    )
    args = parser.parse_args(argv)
    impls = ["ranvier"] + [i for i in args.impls if i != "ranvier"]
    if args.baseline:
        if not os.path.isdir(os.path.join(args.baseline, "src", "ranvier")):
            parser.error(f"--baseline: no src/ranvier under {args.baseline!r}")
        impls.insert(1, "baseline")
    sys.path.insert(0, HERE)
    print("BLAS:", *blas_report(), sep="\n  ")
    roof = sgemm_roof()
    print(f"sgemm roof (numpy 1024^3 float32, this run): {roof:.1f} GFLOP/s on {os.cpu_count()} CPUs")
    print(f"import ranvier: {import_time_ms():.0f} ms (fresh process, best of 3)")
    for wid in args.workloads:
        wid = wid.upper()
        if wid not in WORKLOADS:
            parser.error(f"unknown workload {wid!r}; known: {', '.join(WORKLOADS)}")
        try:
            mod = importlib.import_module(f"workloads.{WORKLOADS[wid]}")
        except ImportError as exc:
            print(f"\n{wid}: not available ({exc})")
            continue
        print(f"\n{wid}: {mod.DESCRIPTION}")
        flops = mod.train_flops_per_sample()
        results = best_of_rounds(wid, args.seconds, args.rounds, impls, args.baseline)
        # Read the roof again after each workload and keep the best: a reading taken in a
        # slow spell of the VM (220 against 420 once) would inflate every % below.
        reading = sgemm_roof()
        if reading > roof:
            roof = reading
            print(f"  (sgemm roof read again: {roof:.1f} GFLOP/s, used from here on)")
        base = results["ranvier"].get("samples_per_s")
        print(
            f"  {'impl':<8} {'samples/s':>11} {'ms/step':>8} {'GFLOP/s':>8} {'% roof':>7} "
            f"{'peak RSS':>9} {'ranvier is':>11}"
        )
        for impl, r in results.items():
            if "error" in r:
                print(f"  {impl:<8} skipped: {r['error']}")
                continue
            sps = r["samples_per_s"]
            gflops = sps * flops / 1e9
            ratio = f"{base / sps:.2f}x" if base and impl != "ranvier" else ""
            print(
                f"  {impl:<8} {sps:>11,.0f} {1000 * mod.BATCH / sps:>8.2f} {gflops:>8.1f} "
                f"{100 * gflops / roof:>6.1f}% {r['peak_rss_mb']:>7.0f}MB {ratio:>11}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
