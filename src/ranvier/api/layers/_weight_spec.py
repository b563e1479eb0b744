"""WeightSpec: one weight's initializer, regularizer and constraint, from constructor to config."""

from .. import constraints, initializers, regularizers

__all__ = ["WeightSpec"]


class WeightSpec:
    """How a layer creates one of its weights, and the config keys that describe it.

    A layer takes the Keras arguments ``<key>_initializer``, ``<key>_regularizer``
    and ``<key>_constraint``, keeps them in a spec in ``__init__``, creates the
    weight with ``add_to`` in ``build`` and returns ``get_config()``'s three
    keys from ``get_config``. The layer's ``<key>_initializer`` (etc.)
    attributes read the spec, as Keras layers expose them.

    Parameters
    ----------
    name : str
        The weight's name (``"kernel"``, ``"recurrent_kernel"``...).
    initializer, regularizer, constraint
        Anything ``initializers.get`` / ``regularizers.get`` / ``constraints.get`` accept.
    key : str, optional
        Prefix of the config keys; default ``name`` (``"depthwise"`` for the
        weight ``"depthwise_kernel"``, as in Keras).

    Examples
    --------
    >>> self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
    >>> self.kernel = self._kernel.add_to(self, (input_shape[-1], self.units))     # in build
    >>> {**super().get_config(), **self._kernel.get_config()}                      # in get_config
    """

    __slots__ = ("name", "key", "initializer", "regularizer", "constraint")

    def __init__(self, name, initializer="glorot_uniform", regularizer=None, constraint=None, key=None):
        self.name = name
        self.key = name if key is None else key
        self.initializer = initializers.get(initializer)
        self.regularizer = regularizers.get(regularizer)
        self.constraint = constraints.get(constraint)

    def add_to(self, layer, shape, initializer=None, trainable=True, dtype=None):
        """Create the weight on ``layer`` (``layer.add_weight``); returns the ``Variable``.

        ``initializer`` overrides the spec's for this creation only (a layer that
        fills the value itself, e.g. LSTM's unit forget bias).
        """
        return layer.add_weight(
            shape=shape,
            initializer=self.initializer if initializer is None else initializer,
            dtype=dtype,
            trainable=trainable,
            regularizer=self.regularizer,
            constraint=self.constraint,
            name=self.name,
        )

    def get_config(self):
        """``{"<key>_initializer": ..., "<key>_regularizer": ..., "<key>_constraint": ...}``, serialized."""
        return {
            f"{self.key}_initializer": initializers.serialize(self.initializer),
            f"{self.key}_regularizer": regularizers.serialize(self.regularizer),
            f"{self.key}_constraint": constraints.serialize(self.constraint),
        }

    def __repr__(self):
        return f"<WeightSpec {self.name!r} key={self.key!r}>"
