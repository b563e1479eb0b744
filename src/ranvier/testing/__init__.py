"""Testing helpers users can use too: the numerical gradient check and the layer contract."""

from ._check_layer import check_layer
from ._gradcheck import GradientCheckResult, check_gradients, numerical_gradient, relative_error

__all__ = ["check_gradients", "check_layer", "GradientCheckResult", "numerical_gradient", "relative_error"]
