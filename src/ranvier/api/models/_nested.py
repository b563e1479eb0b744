"""A model used as a layer of another model (``Sequential([base, Dense(10)])``, ``base(x)``)."""

from .. import serialization
from ..layers.base import Layer
from ._executor import Executor

__all__ = ["NestedModel"]


class NestedModel(Layer):
    """The one layer that stands for ``model`` inside another graph.

    Forward runs the inner model's plan; backward runs it back, returning the
    inputs' gradients (its own executor computes them, unlike a model trained
    on data). The weights are the inner model's, so they are shared with it
    and with every other place it is used; ``trainable`` is the inner
    model's flag (``base.trainable = False`` freezes it in the outer model).
    """

    def __init__(self, model, **kwargs):
        model._ensure_graph()
        object.__setattr__(self, "model", model)  # not tracked: _sublayers says it
        # A known input shape lets a Sequential that starts with this model build at once.
        shape = model._inputs[0].shape if len(model._inputs) == 1 else None
        super().__init__(name=model.name, trainable=model.trainable, batch_input_shape=shape, **kwargs)
        self._plan = Executor(model._inputs, model._outputs, model._nodes, input_grads=True)
        self.built = True
        self.input_shape = [t.shape for t in model._inputs] if len(model._inputs) > 1 else model._inputs[0].shape

    @property
    def trainable(self):
        return self.model.trainable

    @trainable.setter
    def trainable(self, value):
        self.model.trainable = bool(value)

    def _sublayers(self):
        return self.model.layers

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self.model._outputs]
        return shapes if len(shapes) > 1 else shapes[0]

    def call(self, inputs, training=False):
        xs = list(inputs) if len(self.model._inputs) > 1 else [inputs]
        outs, run = self._plan.forward(xs, training)
        return (outs if len(outs) > 1 else outs[0]), run

    def backward(self, dy, cache, need_input_grad=True):
        dys = dy if len(self.model._outputs) > 1 else [dy]
        dxs = self._plan.backward(dys, cache)
        if not need_input_grad:
            return None
        return dxs if len(dxs) > 1 else dxs[0]

    def get_config(self):
        return {"name": self.name, "model": serialization.serialize(self.model, "model")}

    @classmethod
    def from_config(cls, config):
        return cls(serialization.deserialize(config["model"], "model"))
