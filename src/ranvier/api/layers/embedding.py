"""Embedding: token ids to dense vectors (a learned lookup table)."""

import numpy as np

from ...core import _embedding
from .. import config, initializers, regularizers
from ._buffers import scratch
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["Embedding"]


def _initializer(identifier):
    # Keras' "uniform" for embeddings is RandomUniform(-0.05, 0.05).
    if identifier == "uniform":
        return initializers.RandomUniform(-0.05, 0.05)
    return initializers.get(identifier)


class Embedding(Layer):
    """Turn token ids into vectors: ``output[..., :] = embeddings[ids[...]]``.

    Parameters
    ----------
    input_dim : int
        Vocabulary size: ids must be in ``[0, input_dim)``.
    output_dim : int
        Size of each vector.
    embeddings_initializer : default "uniform" (RandomUniform(-0.05, 0.05), as Keras)
    embeddings_regularizer, embeddings_constraint : optional
    mask_zero : bool, default False
        Id 0 is padding: the layer emits a mask ``ids != 0`` that recurrent
        layers downstream use to skip padded timesteps.
    input_length : int, optional
        Keras 2 argument: the sequence length (sets ``input_shape=(input_length,)``).

    Notes
    -----
    Input shape ``(batch, ...)`` integer ids; output shape ``(batch, ..., output_dim)``.
    """

    _input_dtype = "int64"

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        activity_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive integer, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self._embeddings = WeightSpec(
            "embeddings", _initializer(embeddings_initializer), embeddings_regularizer, embeddings_constraint
        )
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = bool(mask_zero)

    @property
    def _produces_mask(self):
        return self.mask_zero

    def build(self, input_shape):
        self.embeddings = self._embeddings.add_to(self, (self.input_dim, self.output_dim))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        return np.asarray(inputs) != 0 if self.mask_zero else None

    def _ids(self, inputs):
        """Validated int64 ids: integral and in range, before the kernel runs."""
        ids = np.asarray(inputs)
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                raise TypeError(
                    f"Embedding {self.name!r}: inputs must be integer token ids, got "
                    f"non-integral values of dtype {ids.dtype}"
                )
        elif ids.dtype.kind not in "iub":
            raise TypeError(f"Embedding {self.name!r}: inputs must be integer token ids, got dtype {ids.dtype}")
        if ids.ndim == 0 or ids.size == 0:
            raise ValueError(
                f"Embedding {self.name!r}: inputs must be a non-empty (batch, ...) array of ids, got shape {ids.shape}"
            )
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= self.input_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"Embedding {self.name!r}: token ids must be in [0, {self.input_dim}) "
                f"(input_dim={self.input_dim}), got {int(bad)}"
            )
        return np.ascontiguousarray(ids, dtype=np.int64)

    def call(self, inputs, training=False):
        ids = self._ids(inputs)
        flat = ids.reshape(-1)
        table = self.embeddings.value
        out = scratch(self, "out", (flat.shape[0], self.output_dim), table.dtype)
        _embedding.embedding_forward(flat, table, out, config.kernel_threads())
        return out.reshape(ids.shape + (self.output_dim,)), flat

    def backward(self, dy, cache, need_input_grad=True):
        if self.trainable and self.embeddings.trainable:
            dy = np.ascontiguousarray(dy, dtype=self.embeddings.dtype).reshape(-1, self.output_dim)
            _embedding.embedding_backward(cache, dy, *self.embeddings.grad_target())
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            **self._embeddings.get_config(),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "mask_zero": self.mask_zero,
        }
