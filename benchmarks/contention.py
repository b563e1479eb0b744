"""W1 training-step time on a busy machine: median and p90, idle and beside other work.

Each measurement runs in a fresh process (OpenMP reads its wait policy once, when it
loads), timing ``--steps`` W1 training steps (MLP 784-512-512-10, batch 128, Adam)
after a warm-up, with the machine:

- ``idle``: nothing else started by this script;
- ``busy1`` / ``busy2``: beside 1 or 2 Python busy loops;
- ``omp``: beside another OpenMP training process (PyTorch's W1 loop if torch is
  installed, else ranvier's, each with its default thread count and wait policy).

Policies (environment of the measured process only): ``auto`` (ranvier's import-time
choice, no variable set), ``active`` (``OMP_WAIT_POLICY=ACTIVE``), ``passive``
(``OMP_WAIT_POLICY=PASSIVE``), ``spinN`` (``GOMP_SPINCOUNT=N``). Idle rows alternate the
policies run by run (``--rounds``) so load from other processes hits them alike.

Usage::

    python benchmarks/contention.py [--impls ranvier torch] [--policies auto active passive]
                                    [--neighbours idle busy1 busy2 omp] [--steps 200] [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_BUSY = "while True: pass"
_POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _step(impl):
    sys.path.insert(0, _HERE)
    from workloads import w1_mlp

    x, y = w1_mlp.make_data(np.random.default_rng(0))
    return w1_mlp.ranvier_step(x, y) if impl == "ranvier" else w1_mlp.torch_step(x, y)


def _measure(impl, steps):
    """Run in the measured process: print the step times (seconds) as JSON."""
    step = _step(impl)
    for _ in range(30):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps(times))


def _loop(impl):
    """Run as the OpenMP neighbour: train forever."""
    step = _step(impl)
    while True:
        step()


def _env(policy):
    env = {k: v for k, v in os.environ.items() if k not in _POLICY_VARS}
    if policy in ("active", "passive"):
        env["OMP_WAIT_POLICY"] = policy.upper()
    elif policy.startswith("spin"):
        env["GOMP_SPINCOUNT"] = policy[4:]
    return env


def _start_neighbours(kind):
    if kind == "idle":
        return []
    if kind.startswith("busy"):
        return [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(int(kind[4:]))]
    try:
        import torch  # noqa: F401

        impl = "torch"
    except ImportError:
        impl = "ranvier"
    return [subprocess.Popen([sys.executable, __file__, "--loop", impl], env=_env("auto"))]


def _run(impl, policy, steps):
    out = subprocess.run(
        [sys.executable, __file__, "--measure", impl, "--steps", str(steps)],
        env=_env(policy),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return np.array(json.loads(out.stdout.strip().splitlines()[-1])) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impls", nargs="+", default=["ranvier", "torch"])
    parser.add_argument("--policies", nargs="+", default=["auto", "active", "passive"])
    parser.add_argument("--neighbours", nargs="+", default=["idle", "busy1", "busy2", "omp"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--loop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return _measure(args.measure, args.steps)
    if args.loop:
        return _loop(args.loop)

    print(f"W1 training step (ms), {args.steps} steps per run, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"{'impl':8s} {'policy':10s} {'neighbours':10s} {'median':>8s} {'p90':>8s} {'p90/idle':>9s}")
    for impl in args.impls:
        if impl == "torch":
            try:
                import torch  # noqa: F401
            except ImportError:
                print("torch: not installed, skipped")
                continue
        idle = {}
        for kind in args.neighbours:
            neighbours = _start_neighbours(kind)
            try:
                time.sleep(1.0 if neighbours else 0.0)  # let them reach their loops
                runs = {policy: [] for policy in args.policies}
                for _ in range(args.rounds):
                    for policy in args.policies:
                        runs[policy].append(_run(impl, policy, args.steps))
            finally:
                for proc in neighbours:
                    proc.kill()
                    proc.wait()
            for policy in args.policies:
                times = np.concatenate(runs[policy])
                median, p90 = np.median(times), np.percentile(times, 90)
                idle.setdefault(policy, median)
                print(
                    f"{impl:8s} {policy:10s} {kind:10s} {median:8.2f} {p90:8.2f} {p90 / idle[policy]:9.1f}", flush=True
                )


if __name__ == "__main__":
    main()
