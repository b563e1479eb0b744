"""Global settings: default float type, thread count, seeds, determinism."""

import numpy as np

from ._threading import _default_threads as _default_threads  # re-exported: what set_num_threads resets to
from ._threading import _this_thread
from ._threading import settings as _threads

__all__ = [
    "floatx",
    "set_floatx",
    "epsilon",
    "set_epsilon",
    "get_num_threads",
    "set_num_threads",
    "kernel_threads",
    "set_random_seed",
    "enable_determinism",
    "disable_determinism",
    "is_deterministic",
]

_FLOATX = "float32"
_EPSILON = 1e-7
_RNG = np.random.default_rng()


def floatx():
    """The default float type of weights and activations: ``"float32"`` or ``"float64"``."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type. ``"float64"`` is what gradient checks use.

    Parameters
    ----------
    value : {"float32", "float64"}
    """
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: value must be 'float32' or 'float64', got {value!r}")
    _FLOATX = value


def epsilon():
    """The fuzz factor used by losses and optimizers (Keras default 1e-7)."""
    return _EPSILON


def set_epsilon(value):
    """Set the fuzz factor ``epsilon()`` returns (must be > 0)."""
    global _EPSILON
    value = float(value)
    if not value > 0:
        raise ValueError(f"set_epsilon: value must be > 0, got {value!r}")
    _EPSILON = value


def get_num_threads():
    """Threads every ranvier kernel (and the BLAS it calls) may use."""
    return _threads.num_threads


def set_num_threads(n):
    """Set the thread count for every kernel; default ``OMP_NUM_THREADS`` or the CPU count.

    Parameters
    ----------
    n : int >= 1
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    _threads.num_threads = int(n)


def kernel_threads():
    """Threads the kernels may use right now.

    ``get_num_threads()`` inside ranvier's compute scope (fit, evaluate,
    predict on large batches, eager layer calls), where BLAS is held at one
    thread; 1 outside it, so OpenMP never runs beside a multi-threaded BLAS
    (the two thread pools spinning against each other cost 10-100x).
    """
    # The calling thread's own value, read directly: every kernel call asks (batch-1 latency).
    return _this_thread.kernel_threads


def set_random_seed(seed):
    """Seed every random draw ranvier makes (initializers, shuffling, dropout).

    Same seed, same data, same code: same weights, whatever the thread count.
    Also seeds NumPy's legacy global generator, as ``keras.utils.set_random_seed`` does.
    """
    global _RNG
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative integer, got {seed!r}")
    _RNG = np.random.default_rng(int(seed))
    np.random.seed(int(seed) % 2**32)


def rng():
    """The global generator every unseeded random draw comes from."""
    return _RNG


def make_rng(seed=None):
    """A generator for one consumer: from ``seed`` if given, else drawn from the global one."""
    if seed is None:
        return np.random.default_rng(_RNG.integers(2**63))
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def get_rng_state():
    """The states of the global generator and of NumPy's legacy one, JSON-able (for a training backup).

    Returns
    -------
    dict
        ``{"global": <bit generator state>, "legacy": <np.random.get_state() as lists>}``.
    """
    legacy = np.random.get_state(legacy=False)
    legacy["state"]["key"] = legacy["state"]["key"].tolist()
    return {"global": _RNG.bit_generator.state, "legacy": legacy}


def set_rng_state(state):
    """Restore what ``get_rng_state`` returned: later draws repeat those that followed it."""
    if not isinstance(state, dict) or set(state) != {"global", "legacy"}:
        raise ValueError(f"set_rng_state: state must be a dict from get_rng_state(), got {state!r:.200}")
    _RNG.bit_generator.state = state["global"]
    legacy = dict(state["legacy"], state=dict(state["legacy"]["state"]))
    legacy["state"]["key"] = np.asarray(legacy["state"]["key"], dtype=np.uint32)
    np.random.set_state(legacy)


def enable_determinism(seed=0):
    """Make training bit-reproducible: seeds everything and fixes reduction order.

    Every kernel's reductions already run in fixed-size blocks combined in a
    fixed order, so results do not depend on the thread count; this also seeds
    the global generator.
    """
    _threads.deterministic = True
    set_random_seed(seed)


def disable_determinism():
    """Undo ``enable_determinism`` (the seed stays as it is)."""
    _threads.deterministic = False


def is_deterministic():
    """Whether ``enable_determinism`` is in effect."""
    return _threads.deterministic
