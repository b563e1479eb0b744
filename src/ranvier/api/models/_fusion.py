"""The fusion pass: rewrites a plan of layer steps into fused steps.

It reads only what layers declare in ``capabilities``
(``layers._capabilities``) and the shape of the graph (who uses which
tensor); the executor runs whatever steps come out. Three rules exist:

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
``"dense_pair"``
    A ``DENSE_PAIR`` layer with a plain ReLU whose output only a linear
    ``DENSE_PAIR`` layer reads (a transformer's feed-forward pair), not a
    model output, neither with an activity penalty: forward runs the two
    layers as before; backward runs both in one row-blocked kernel where the
    layers would each run row-blocked (else their own backward), so the
    gradient between them stays in cache block by block.

Fused results equal the plain plan's bit for bit (tests/api/models).
"""

from .. import activations
from ..layers._capabilities import CONV_MAXPOOL, DENSE_PAIR, MAXPOOL_2X2, PREACTIVATION, RELU_GRADIENT
from ._steps import LayerStep, Step, add_activity_gradient

__all__ = ["RULES", "fuse", "ReluPoolStep", "ConvPoolStep", "DensePairStep"]

RULES = ("relu_gradient", "conv_maxpool", "dense_pair")


def fuse(steps, output_ids, rules=RULES):
    """The plan ``steps`` (LayerSteps in execution order) with the fusion ``rules`` applied."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"fuse: unknown fusion rules {sorted(unknown)}; known are {RULES}, got {rules!r}")
    producers, uses = {}, {}
    for j, step in enumerate(steps):
        for t in step.in_ids:
            uses[t] = uses.get(t, 0) + 1
        for t in step.out_ids:
            producers[t] = j
    plan = list(steps)
    for i, step in enumerate(steps):
        j = producers.get(step.in_ids[0])
        if j is None:
            continue
        src = steps[j]
        if "relu_gradient" in rules and _relu_pool(step, src, uses, output_ids):
            src.preactivation = True
            plan[i] = ReluPoolStep(step.node, step.in_ids, step.out_ids, step.need)
            if "conv_maxpool" in rules and _conv_pool(src, step):
                plan[j] = ConvPoolStep(src, step)
                plan[i] = None
        elif "dense_pair" in rules and _dense_pair(src, step, uses, output_ids):
            # At the first layer's place: the second reads nothing else, and what reads it comes later.
            plan[j] = DensePairStep(src, step)
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


def _dense_pair(first, second, uses, output_ids):
    mid = first.out_ids[0]
    a, b = first.layer, second.layer
    return (
        type(first) is LayerStep
        and type(second) is LayerStep
        and DENSE_PAIR in a.capabilities
        and DENSE_PAIR in b.capabilities
        and second.in_ids == (mid,)
        and not first.node.multi_output
        and uses[mid] == 1
        and mid not in output_ids
        and not first.preactivation
        and a.activity_regularizer is None
        and b.activity_regularizer is None
        and activations.is_plain(a.activation, "relu")
        and activations.is_plain(b.activation, "linear")
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


class DensePairStep(Step):
    """A plain-ReLU dense layer and the linear one reading its output (rule ``"dense_pair"``).

    Forward runs the two layers' own steps. Backward runs both layers in one
    row-blocked pass (``DENSE_PAIR``) where ``pair_row_blocked`` holds, else
    the two steps' own backward.
    """

    def __init__(self, first, second):
        super().__init__(first.in_ids, second.out_ids, first.need)
        self._first, self._second = first, second

    def forward(self, run, training):
        self._first.forward(run, training)
        self._second.forward(run, training)
        second = run.caches.pop()
        run.caches.append((run.caches.pop(), second))

    def backward(self, grads, cache, preactivation=False):
        first, second = self._first, self._second
        layer_cache = cache[0][0]  # (layer cache, outputs): no activity penalty keeps outputs
        dy = grads.get(self.out_ids[0])
        if dy is None or not first.layer.pair_row_blocked(second.layer, layer_cache[0].shape[0]):
            second.backward(grads, cache[1], preactivation)
            first.backward(grads, cache[0])
            return
        del grads[self.out_ids[0]]
        # A linear second layer: dy is the gradient of its pre-activation too (``preactivation``).
        dx = first.layer.backward_pair(second.layer, dy, layer_cache, need_input_grad=self.need is not None)
        if self.need is not None:
            self._push_grads(grads, [dx])
