"""Testing helpers users can use too: the numerical gradient check."""
from ._gradcheck import GradientCheckResult, check_gradients, numerical_gradient, relative_error

__all__ = ["check_gradients", "GradientCheckResult", "numerical_gradient", "relative_error"]
