"""``ranvier.ops.numpy`` (Keras 3 ``ops.numpy``): elementwise, reductions, shapes, products."""

from . import _elementwise, _linalg, _reduction, _shape
from ._elementwise import *  # noqa: F403
from ._linalg import *  # noqa: F403
from ._reduction import *  # noqa: F403
from ._shape import *  # noqa: F403

__all__ = sorted(  # noqa: PLE0605 - the op modules' names, computed
    set(_elementwise.__all__) | set(_linalg.__all__) | set(_reduction.__all__) | set(_shape.__all__)
)

del _elementwise, _linalg, _reduction, _shape
