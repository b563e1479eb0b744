"""Testing helpers users can use too: the numerical gradient check."""
from ._gradcheck import GradientCheckResult, check_gradients

__all__ = ["check_gradients", "GradientCheckResult"]
