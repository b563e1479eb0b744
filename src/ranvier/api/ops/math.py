"""``ranvier.ops.math`` (Keras 3 ``ops.math`` names ranvier has)."""

from ._elementwise import erf, rsqrt
from ._reduction import logsumexp

__all__ = ["erf", "rsqrt", "logsumexp"]
