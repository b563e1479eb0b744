"""``ranvier.ops``: Keras 3's ops on NumPy arrays, each with its gradient, and ``GradientTape``.

On plain arrays an op is its NumPy (or compiled kernel) call and returns an
ndarray. Under ``GradientTape`` (or in a traced layer ``call``), ops on
Tensors and Variables record a node each, and ``tape.gradient`` /
``tape.backward`` run them backward (``_tape``). docs/ops.md lists the ops
and measures the recording cost.

Names follow Keras: ``ops.exp`` ... as in ``keras.ops``, with the
submodules ``ops.nn``, ``ops.numpy``, ``ops.core``, ``ops.math`` and ``ops.image``
(the image ops are in ``ops.image`` only, as in Keras).
"""

from ..variables import Variable
from . import core, image, math, nn, numpy
from ._tape import GradientTape
from ._tensor import Tensor, install_operators
from .core import *  # noqa: F403
from .math import *  # noqa: F403
from .nn import *  # noqa: F403
from .numpy import *  # noqa: F403  (last: Keras' ops.tanh etc. are the numpy ones)

for _cls in (Tensor, Variable):
    install_operators(_cls, numpy)

__all__ = sorted(  # noqa: PLE0605 - the submodules' names, computed
    set(core.__all__) | set(math.__all__) | set(nn.__all__) | set(numpy.__all__)
) + [
    "GradientTape",
    "Tensor",
    "core",
    "image",
    "math",
    "nn",
    "numpy",
]

del _cls
