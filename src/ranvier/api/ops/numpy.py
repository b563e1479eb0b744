"""``ranvier.ops.numpy`` (Keras 3 ``ops.numpy``): elementwise, reductions, shapes, products."""

from . import _elementwise, _linalg, _reduction, _shape
from ._elementwise import *  # noqa: F403
from ._linalg import *  # noqa: F403
from ._reduction import *  # noqa: F403
from ._shape import *  # noqa: F403
from .core import convert_to_tensor as _convert_to_tensor

__all__ = sorted(  # noqa: PLE0605 - the op modules' names, computed
    set(_elementwise.__all__) | set(_linalg.__all__) | set(_reduction.__all__) | set(_shape.__all__) | {"array"}
)


def array(x, dtype=None):
    """``x`` as an array of ``dtype`` (Keras ``ops.array``: ``convert_to_tensor``).

    Parameters
    ----------
    x : array_like, Tensor or Variable
        Tensors are kept (so gradients flow); Python floats and float lists become floatx.
    dtype : dtype, optional

    Returns
    -------
    ndarray, or Tensor for a Tensor or a Variable read under a tape.
    """
    return _convert_to_tensor(x, dtype)


del _elementwise, _linalg, _reduction, _shape
