"""A bound on the bytes of weights layers may create, set while a model file is loaded.

A model file's config says which layers to build, and its weights list how
many bytes of weights they make. Loading makes that total the budget of the
build, and ``Layer.add_weight`` charges each weight before its initializer
allocates it: a config asking for a 16000 x 16000 ``Dense`` beside a weights
list of a few bytes is refused before the gigabyte is allocated.
"""

import contextlib
import math
import threading

import numpy as np

__all__ = ["weight_budget", "charge"]

_STATE = threading.local()


@contextlib.contextmanager
def weight_budget(nbytes, what):
    """Within the block, layers built by this thread may create at most ``nbytes`` of weights.

    Parameters
    ----------
    nbytes : int
    what : str
        Where the budget comes from, for the error (``"the 2 weights config.json declares"``).
    """
    outer = getattr(_STATE, "budget", None)
    _STATE.budget = [nbytes, what]
    try:
        yield
    finally:
        _STATE.budget = outer


def charge(name, shape, dtype):
    """Take a weight of ``shape`` and ``dtype`` from the budget, if one is set.

    Raises
    ------
    ValueError
        When the weight does not fit in what is left, before anything is allocated.
    """
    budget = getattr(_STATE, "budget", None)
    if budget is None:
        return
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes > budget[0]:
        raise ValueError(
            f"weight {name} of shape {tuple(shape)} needs {nbytes} bytes, more than the {budget[0]} left of {budget[1]}"
        )
    budget[0] -= nbytes
