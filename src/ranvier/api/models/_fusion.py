"""The fusion pass: rewrites a plan of layer steps into fused steps.

It reads only what layers declare in ``capabilities``
(``layers._capabilities``) and the shape of the graph (who uses which
tensor); the executor runs whatever steps come out. Two rules exist:

``"relu_gradient"``
    A max pool (``RELU_GRADIENT``) whose only input is the plain-ReLU output
    of a ``PREACTIVATION`` layer, used by nothing else, not a model output,
    with no activity penalty on that layer: the pool's backward returns the
    gradient w.r.t. the layer's pre-activation in its one pass, and the
    ReLU backward (a pass over the pool's whole input) is skipped.
``"conv_maxpool"``
    Where ``"relu_gradient"`` applies, the layer is a ``CONV_MAXPOOL`` conv,
    the pool a ``MAXPOOL_2X2`` one and the pool has no activity penalty: one
    kernel computes both forward, another both backward, and the conv
    output is never stored.

Fused results equal the plain plan's bit for bit (tests/api/models).
"""

from .. import activations
from ..layers._capabilities import CONV_MAXPOOL, MAXPOOL_2X2, PREACTIVATION, RELU_GRADIENT
from ._steps import LayerStep, Step, add_activity_gradient

__all__ = ["RULES", "fuse", "ReluPoolStep", "ConvPoolStep"]

RULES = ("relu_gradient", "conv_maxpool")


def fuse(steps, output_ids, rules=RULES):
    """The plan ``steps`` (LayerSteps in execution order) with the fusion ``rules`` applied."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"fuse: unknown fusion rules {sorted(unknown)}; known are {RULES}, got {rules!r}")
    if "relu_gradient" not in rules:
        return list(steps)
    producers, uses = {}, {}
    for j, step in enumerate(steps):
        for t in step.in_ids:
            uses[t] = uses.get(t, 0) + 1
        for t in step.out_ids:
            producers[t] = j
    plan = list(steps)
    for i, pool in enumerate(steps):
        j = producers.get(pool.in_ids[0])
        if j is None or not _relu_pool(pool, steps[j], uses, output_ids):
            continue
        src = steps[j]
        src.preactivation = True
        plan[i] = ReluPoolStep(pool.node, pool.in_ids, pool.out_ids, pool.need)
        if "conv_maxpool" in rules and _conv_pool(src, pool):
            plan[j] = ConvPoolStep(src, pool)
            plan[i] = None
    return [step for step in plan if step is not None]


def _relu_pool(pool, src, uses, output_ids):
    layer = src.layer
    return (
        RELU_GRADIENT in pool.layer.capabilities
        and len(pool.in_ids) == 1
        and pool.need is not None
        and uses[pool.in_ids[0]] == 1
        and pool.in_ids[0] not in output_ids
        and not src.node.multi_output
        and PREACTIVATION in layer.capabilities
        and layer.activity_regularizer is None
        and activations.is_plain(layer.activation, "relu")
    )


def _conv_pool(conv, pool):
    # Masks: a conv neither takes nor passes one, so running the pool inside it changes nothing.
    return (
        CONV_MAXPOOL in conv.layer.capabilities
        and MAXPOOL_2X2 in pool.layer.capabilities
        and pool.layer.activity_regularizer is None
        and not conv.node.accepts_mask
        and not conv.layer.supports_masking
    )


class ReluPoolStep(LayerStep):
    """A max pool whose backward returns dL/dz for its input ``relu(z)`` (rule ``"relu_gradient"``)."""

    def backward(self, grads, cache, preactivation=False):
        dys = self._pop_grads(grads)
        if dys is None:
            return
        cache, outs = cache
        dy = dys[0]
        reg = self.layer.activity_regularizer
        if reg is not None:
            dy = add_activity_gradient(reg, outs[0], dy)
        self._push_grads(grads, [self.layer.backward_through_relu(dy, cache)])


class ConvPoolStep(Step):
    """A ReLU conv and the 2x2 max pool above it as one step (rule ``"conv_maxpool"``).

    It reads the conv's inputs and writes the pool's output; the conv output
    is never stored.
    """

    def __init__(self, conv, pool):
        super().__init__(conv.in_ids, pool.out_ids, conv.need)
        self.conv, self.pool = conv.layer, pool.layer
        self._conv_step = conv

    def forward(self, run, training):
        inputs, _, _ = self._conv_step.arguments(run)
        out, cache, pool_cache = self.conv.call_relu_maxpool(inputs, self.pool, training=training)
        run.values[self.out_ids[0]] = out
        run.caches.append((cache, pool_cache))

    def backward(self, grads, cache, preactivation=False):
        dys = self._pop_grads(grads)
        if dys is None:
            return
        need_any = self.need is not None
        dx = self.conv.backward_through_maxpool(dys[0], *cache, need_input_grad=need_any)
        if need_any:
            self._push_grads(grads, [dx])
