"""Steps of a model's plan: what one entry does forward and backward.

A :class:`Step` reads its input tensors from, and writes its output tensors
to, the run's ``values`` (keyed by tensor id); backward reads and writes
``grads`` keyed the same way. :class:`LayerStep` runs one layer; the fusion
pass (``_fusion``) adds steps that run several, and later kinds (traced
layers, nested models) subclass :class:`Step` the same way.
"""

import numpy as np

from ..layers import _tracing

__all__ = ["Run", "Step", "LayerStep", "TracedStep"]


class Run:
    """What one forward pass leaves for the backward pass.

    Attributes
    ----------
    values : dict[int, ndarray]
        Tensor id -> value (inputs, then every step's outputs).
    masks : dict[int, ndarray]
        Tensor id -> mask, for tensors that carry one.
    caches : list
        One entry per step, in plan order (what its ``backward`` needs).
    penalty : float
        Sum of the activity-regularizer penalties and ``add_loss`` losses met on the way.
    n_penalties : int
        How many terms ``penalty`` sums (a model compiled without a loss needs one).
    """

    __slots__ = ("values", "masks", "caches", "penalty", "n_penalties")

    def __init__(self, values):
        self.values, self.masks, self.caches, self.penalty, self.n_penalties = values, {}, [], 0.0, 0


class Step:
    """One entry of a plan.

    Parameters
    ----------
    in_ids, out_ids : tuple of int
        Ids of the tensors the step reads and writes.
    need : tuple of bool or None
        Per input, whether it wants a gradient (model inputs do not); None
        when no input does.
    """

    def __init__(self, in_ids, out_ids, need):
        self.in_ids, self.out_ids, self.need = in_ids, out_ids, need

    def forward(self, run, training):
        """Write ``run.values[out_ids]`` and append one cache entry to ``run.caches``."""
        raise NotImplementedError

    def backward(self, grads, cache, preactivation=False):
        """Pop the output gradients from ``grads`` and add the input gradients to it.

        ``preactivation``: the output gradient is w.r.t. the layer's pre-activation.
        """
        raise NotImplementedError

    def _pop_grads(self, grads):
        """The output gradients (None for an output nobody used), or None when all are."""
        dys = [grads.pop(t, None) for t in self.out_ids]
        return None if all(g is None for g in dys) else dys

    def _push_grads(self, grads, dxs):
        """Add the input gradients ``dxs`` (one per input; None = no gradient) into ``grads``."""
        for t, g, n in zip(self.in_ids, dxs, self.need):
            if g is None or not n:
                continue
            prev = grads.get(t)
            grads[t] = g if prev is None else prev + g


class LayerStep(Step):
    """One layer applied to its inputs: ``layer.call`` forward, ``layer.backward`` back.

    ``preactivation`` (set by the fusion pass, or passed to ``backward`` for a
    model output whose loss folds the activation) means the gradient arriving
    at the output is already w.r.t. the layer's pre-activation: backward then
    runs ``layer.backward_preactivation`` (a ``PREACTIVATION`` capability).
    """

    def __init__(self, node, in_ids, out_ids, need):
        super().__init__(in_ids, out_ids, need)
        self.node, self.layer = node, node.layer
        self.preactivation = False
        self._plain_call = not (node.multi_input or node.static_kwargs or node.tensor_kwargs)

    def arguments(self, run):
        """(inputs, kwargs, mask) for ``layer.call`` from the run's values and masks."""
        node, values = self.node, run.values
        if self._plain_call:
            inputs, kwargs = values[self.in_ids[0]], {}
        else:
            inputs, kwargs = node.rebuild([values[i] for i in self.in_ids])
        # Masks exist only downstream of a layer that makes one: most graphs skip the lookups.
        mask = None
        if run.masks:
            in_masks = [run.masks.get(i) for i in self.in_ids[: node.n_main]]
            if any(m is not None for m in in_masks):
                mask = node.pack_main(in_masks)
                if node.accepts_mask:
                    kwargs["mask"] = mask
        return inputs, kwargs, mask

    def forward(self, run, training):
        node, layer = self.node, self.layer
        if self._plain_call and not run.masks:  # most steps: one input, no mask (batch-1 latency counts)
            inputs, kwargs, mask = run.values[self.in_ids[0]], {}, None
        else:
            inputs, kwargs, mask = self.arguments(run)
        out, cache = self._call(inputs, kwargs, training, run)
        reg = layer.activity_regularizer
        if reg is None and mask is None and not node.multi_output and not layer._produces_mask:
            run.values[self.out_ids[0]] = out
            run.caches.append((cache, None))
            return
        outs = out if node.multi_output else [out]
        if reg is not None:
            run.penalty += sum(reg.penalty(o) for o in outs) / max(1, outs[0].shape[0])
            run.n_penalties += 1
        out_mask = layer.compute_mask(inputs, mask) if mask is not None or layer._produces_mask else None
        for i, (t, v) in enumerate(zip(self.out_ids, outs)):
            run.values[t] = v
            if out_mask is not None:
                m = out_mask[i] if isinstance(out_mask, (list, tuple)) else out_mask
                if m is not None:
                    run.masks[t] = m
        # Outputs are kept only where backward needs them: activity penalties, unused outputs.
        run.caches.append((cache, outs if reg is not None or node.multi_output else None))

    def backward(self, grads, cache, preactivation=False):
        dys = self._pop_grads(grads)
        if dys is None:
            if not self._adds_losses(cache[0]):
                return
            dys = [None] * len(self.out_ids)  # only the call's own add_loss losses to differentiate
        cache, outs = cache
        reg = self.layer.activity_regularizer
        if reg is not None:
            dys = [add_activity_gradient(reg, o, g) for o, g in zip(outs, dys)]
        if self.node.multi_output:
            dy = [np.zeros_like(o) if g is None else g for g, o in zip(dys, outs)]
        else:
            dy = dys[0]
        need_any = self.need is not None
        dx = self._backward(dy, cache, need_any, preactivation or self.preactivation)
        if need_any:
            self._push_grads(grads, dx if len(self.in_ids) > 1 else [dx])

    def _adds_losses(self, cache):
        """Whether the call behind ``cache`` added losses (their gradient flows with no output gradient)."""
        return False

    def _call(self, inputs, kwargs, training, run):
        """``(outputs, cache)`` of the layer on these arguments (``training=None``: its ``call``'s default)."""
        layer = self.layer
        return layer.call(inputs, training=layer._default_training if training is None else training, **kwargs)

    def _backward(self, dy, cache, need_any, preactivation):
        """The input gradient(s) for ``dy``, weight gradients written on the way."""
        if preactivation:
            return self.layer.backward_preactivation(dy, cache, need_input_grad=need_any)
        return self.layer.backward(dy, cache, need_input_grad=need_any)


class TracedStep(LayerStep):
    """A traced layer (Keras' protocol: no hand-written ``backward``).

    Training runs its ``call`` on a tape (``layers._tracing.trace``) and
    backward replays the tape; inference calls it on plain arrays, which
    records nothing. Losses the call adds (``add_loss``) join the run's
    penalty and get gradient 1.
    """

    def _call(self, inputs, kwargs, training, run):
        layer = self.layer
        if training is None:
            training = layer._default_training
        if not training and not _tracing.taping():
            # Under a tape (a custom train_step calling a model without training=True) the call
            # is recorded all the same: the gradient must reach the weights.
            return _tracing.run_call_within(layer, inputs, False, kwargs), None
        need = self.need or (False,) * len(self.in_ids)
        out, cache = _tracing.trace(layer, inputs, need[: self.node.n_main], training, kwargs)
        for loss in cache[3]:
            run.penalty += float(_tracing.value_of(loss))
        run.n_penalties += len(cache[3])
        return out, cache

    def _adds_losses(self, cache):
        return bool(cache[3])

    def _backward(self, dy, cache, need_any, preactivation):
        dys = dy if self.node.multi_output else [dy]
        dxs = _tracing.backpropagate(cache, dys) + [None] * (len(self.in_ids) - self.node.n_main)
        return dxs if len(self.in_ids) > 1 else dxs[0]


def add_activity_gradient(reg, out, dy):
    """dy + d(penalty / batch)/d(out): activity penalties are averaged over the batch."""
    g = np.zeros_like(out)
    reg.add_gradient(out, g)
    g *= 1.0 / max(1, out.shape[0])
    return g if dy is None else dy + g
