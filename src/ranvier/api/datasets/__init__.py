"""Data sets: Keras' downloadable ones (``mnist.load_data()`` ...) and a small built-in one.

Each downloadable set is a submodule with Keras 3's ``load_data()``. Files are
cached in ``$RANVIER_HOME/datasets`` (default ``~/.ranvier/datasets``),
checked against Keras' sha256/md5 hashes; see docs/datasets.md.
"""

from . import boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters
from ._synthetic import make_gaussian_mixture

__all__ = [
    "make_gaussian_mixture",
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
SUBMODULES = tuple(__all__[1:])  # the downloadable sets (ranvier.datasets registers them by name)
