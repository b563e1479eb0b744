"""ranvier: CPU-first neural networks with a Keras-shaped API.

>>> import ranvier as rv
>>> model = rv.Sequential([rv.layers.Input((784,)),
...                        rv.layers.Dense(512, activation="relu"),
...                        rv.layers.Dense(10, activation="softmax")])
>>> model.compile(optimizer=rv.optimizers.Adam(1e-3),
...               loss="sparse_categorical_crossentropy", metrics=["accuracy"])

Keras scripts run after changing the import: ``import ranvier as keras``.
"""

__version__ = "0.1.0"

from .api import _threading

with _threading.openmp_environment():  # OpenMP reads its wait policy when the core loads it, here
    from . import (
        activations,
        callbacks,
        config,
        constraints,
        datasets,
        initializers,
        layers,
        losses,
        metrics,
        models,
        ops,
        optimizers,
        preprocessing,
        random,
        regularizers,
        saving,
        testing,
        utils,
    )
from .api.config import get_num_threads, set_num_threads
from .api.layers import Input
from .api.models import Model, Sequential, load_model, save_model
from .api.ops import GradientTape

__all__ = [
    "__version__",
    "Model",
    "Sequential",
    "Input",
    "load_model",
    "save_model",
    "set_num_threads",
    "get_num_threads",
    "GradientTape",
    "activations",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "random",
    "regularizers",
    "saving",
    "testing",
    "utils",
]
