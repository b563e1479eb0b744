"""NumPy twin of ``ranvier.core._embedding``."""

import numpy as np

from ._beta import scale_by_beta

__all__ = ["embedding_forward", "embedding_backward"]


def embedding_forward(ids, embeddings, out, n_threads=1):
    np.take(embeddings, ids, axis=0, out=out)


def embedding_backward(ids, dy, dembeddings, beta):
    scale_by_beta(dembeddings, beta)
    np.add.at(dembeddings, ids, dy)
