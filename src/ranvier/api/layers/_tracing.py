"""Layers in traced code: the Keras protocol beside ranvier's hand-written one.

A layer class that defines ``backward`` is *hand-written*: ``call`` returns
``(outputs, cache)`` and ``backward(dy, cache)`` the input gradient (every
built-in layer). A class that does not is *traced*, as Keras users write
layers: ``call`` returns the outputs, computed with ``ranvier.ops``, and
gradients come from recording those ops on a tape (``ops._tape``).

Inside traced code (a traced layer's ``call`` during training, or under
``rv.GradientTape``) inputs are ``Tensor`` objects. A hand-written layer
called on them runs its fused kernels and is recorded as one tape node
whose backward is its own ``backward``: a model mixing both kinds keeps
the built-in speed. This module holds those two entry points and the
output-shape inference for traced layers without ``compute_output_shape``.
"""

import threading

import numpy as np

from .. import tree
from ..ops import _tape
from ..ops._tape import GradientTape, Tensor, record, record_many, recording
from ..variables import Variable
from ._symbolic import call_accepts, split_inputs

__all__ = [
    "STATE",
    "backpropagate",
    "call_arguments",
    "run_call",
    "run_call_within",
    "call_hand_written",
    "infer_output_shape",
    "record_loss",
    "record_model_call",
    "taping",
    "trace",
    "value_of",
]


def call_arguments(layer, training, kwargs):
    """``kwargs`` plus ``training`` when the layer's ``call`` takes it (Keras makes both optional)."""
    if call_accepts(layer, "training"):
        return dict(kwargs, training=training)
    return kwargs


def run_call(layer, inputs, kwargs):
    """``layer.call(inputs, **kwargs)`` of a traced layer; a bad-input error also names the layer.

    Ops name themselves in their errors ("ops.matmul: ..."); nested traced
    layers each add their name in front.
    """
    try:
        return layer.call(inputs, **kwargs)
    except (ValueError, TypeError) as exc:
        if type(exc) not in (ValueError, TypeError):
            raise
        raise type(exc)(f"Layer {layer.name!r} ({type(layer).__name__}): {exc}") from exc


def run_call_within(layer, inputs, training, kwargs):
    """``run_call`` with ``training`` as the enclosing call's flag of the layers it calls (Keras 3)."""
    previous, STATE.training = STATE.training, training
    try:
        return run_call(layer, inputs, call_arguments(layer, training, kwargs))
    finally:
        STATE.training = previous


def value_of(x):
    """The ndarray behind ``x`` (a Tensor, a Variable or an array)."""
    if type(x) is Tensor:
        return x.value
    return np.asarray(x)


def call_hand_written(layer, inputs, training, kwargs):
    """A hand-written layer applied to Tensors: its kernels forward, one tape node for its backward.

    Its weight gradients go where its ``backward`` always writes them
    (``Variable.grad``); the node carries the layer's trainable variables so
    a tape knows they were reached.
    """
    multi = isinstance(inputs, (list, tuple))
    flat = list(inputs) if multi else [inputs]
    # As an eager call does (``Layer.__call__``): numeric inputs in the layer's input dtype, so its
    # kernels get the dtype they are compiled for (an int64 feature concatenated with float32 ones).
    dtype = np.dtype(layer._input_dtype or layer.dtype)
    values = [_as_dtype(value_of(x), dtype) for x in flat]
    out, cache = layer.call(values if multi else values[0], training=training, **kwargs)
    refs = recording(*flat, *layer.trainable_weights)
    if refs is None:
        outs = out if isinstance(out, list) else [out]
        wrapped = [Tensor(o, False) for o in outs]
        return wrapped if isinstance(out, list) else wrapped[0]
    need = any(r is not None for r in refs[: len(flat)])
    n_vars = len(refs) - len(flat)

    def backward(dy):
        if isinstance(out, list):
            dy = [np.zeros_like(o) if g is None else g for g, o in zip(dy, out)]
        dx = layer.backward(dy, cache, need_input_grad=need)
        dxs = (list(dx) if multi else [dx]) if need else [None] * len(flat)
        return dxs + [None] * n_vars

    if isinstance(out, list):
        return record_many(out, refs, backward)
    return record(out, refs, backward)


def _as_dtype(value, dtype):
    if value.dtype == dtype or value.dtype.kind not in "biuf":
        return value
    return value.astype(dtype)


def taping():
    """Whether a tape records in this thread (a custom ``train_step`` under ``rv.GradientTape``)."""
    return bool(_tape._STATE.tapes)


def record_model_call(model, xs, training, sources=()):
    """A whole model applied under a tape: one node whose backward is the model's backward pass.

    The weight gradients go to ``Variable.grad`` as in ``fit``. ``sources`` are
    the call's inputs, one per model input: those that are traced Tensors (the
    output of another model or layer on the tape, ``decoder(encoder(x))``) get
    their gradients, from a plan that computes input gradients. Returns one
    (recorded) output per model output.
    """
    traced = any(type(s) is Tensor and s.traced for s in sources)
    executor = model._plan_for_tape(input_grads=traced)
    outs, run = executor.forward(xs, training)
    # compute_loss adds the activity penalties met on the way (their gradients are in the model's backward).
    model._call_penalty = run.penalty
    refs = recording(*sources, *model.trainable_weights)
    if refs is None:
        return outs
    n_sources = len(sources)

    def backward(dys):
        dxs = executor.backward(dys if isinstance(dys, list) else [dys], run)
        return (list(dxs) if traced else [None] * n_sources) + [None] * (len(refs) - n_sources)

    if len(outs) == 1:
        return [record(outs[0], refs, backward)]
    return record_many(outs, refs, backward)


def record_loss(model, y, y_pred, sample_weight):
    """The compiled loss of ``y_pred`` plus weight and activity penalties, as a recorded scalar Tensor.

    Its backward hands each output's loss gradient to its prediction and the
    penalties' gradients to the regularized weights.
    """
    outputs = model._output_structure
    preds = outputs.flatten(y_pred, "y_pred")
    targets = outputs.flatten(y, "y", optional=True)
    weights = outputs.flatten(sample_weight, "sample_weight", allow_broadcast=True, optional=True)
    total, grads = model._call_penalty, []
    for loss, weight, pred, target, sw in zip(model._output_losses, model._loss_weight_list, preds, targets, weights):
        value = value_of(pred)
        if loss is None or target is None:
            grads.append(None)
            continue
        prepared = loss.prepare_targets(np.asarray(target), value.shape, value.dtype)
        loss_value, dy = loss.value_and_grad(prepared, value, None if sw is None else np.asarray(sw, value.dtype))
        total += weight * float(loss_value)
        grads.append(dy * weight)
    regularized = model._regularized
    total += sum(float(v.regularizer.penalty(v.value)) for v in regularized)
    total = np.asarray(total, dtype=value_of(preds[0]).dtype)
    refs = recording(*preds, *[v for v in regularized if v.trainable])
    if refs is None:
        return Tensor(total, False)
    n_preds = len(preds)

    def backward(g):
        out = [None if dy is None else dy * g for dy in grads]
        for v in refs[n_preds:]:
            penalty_grad = np.zeros_like(v.value)
            v.regularizer.add_gradient(v.value, penalty_grad)
            out.append(penalty_grad * g)
        return out

    return record(total, refs, backward)


class _TraceState(threading.local):
    """Per thread: where ``Layer.add_loss`` puts losses while the executor traces a call (None
    outside tracing), and the ``training`` flag of the enclosing layer call, which layers called
    without one inherit (None outside any call: each layer then takes its ``call``'s default)."""

    def __init__(self):
        self.losses = None
        self.training = None


STATE = _TraceState()


def trace(layer, inputs, need, training, kwargs):
    """Run a traced layer's ``call`` on a tape.

    Parameters
    ----------
    inputs : ndarray, list of ndarray, or a nested structure of them
    need : sequence of bool
        Per input (in ``tree.flatten`` order), whether it wants a gradient (it is then a traced Tensor).

    Returns
    -------
    outputs : ndarray or list of ndarray
    cache : (tape, input Tensors, output Tensors, losses)
        What ``backpropagate`` needs.
    """
    flat, pack = split_inputs(inputs)
    # Every input is a Tensor, so the layers it meets know they run in traced code; only
    # those that want a gradient are traced.
    sources = [Tensor(x, bool(n) and x.dtype.kind == "f") for x, n in zip(flat, need)]
    previous = STATE.losses, STATE.training
    STATE.losses, STATE.training = [], training
    try:
        with GradientTape(persistent=True) as tape:
            out = run_call(layer, pack(sources), call_arguments(layer, training, kwargs))
        losses = STATE.losses
    finally:
        STATE.losses, STATE.training = previous
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    values = [value_of(o) for o in outs]
    cache = (tape, sources, outs, losses)
    return (values if isinstance(out, (list, tuple)) else values[0]), cache


def backpropagate(cache, dys):
    """Input gradients of a traced call (one per input; None for untraced ones).

    Every trainable variable reached gets its gradient added to
    ``Variable.grad`` (``accumulate_grad``: the flat gradient buffer), and
    every loss the call added gets gradient 1.
    """
    tape, sources, outs, losses = cache
    traced = [s for s in sources if s.traced]
    grads = tape.backward(
        outs + losses, list(dys) + [1.0] * len(losses), sources=traced, variable_grad=Variable.accumulate_grad
    )
    it = iter(grads)
    return [next(it) if s.traced else None for s in sources]


def infer_output_shape(layer, input_shape, tensor_shapes=None):
    """Output shape(s) of a traced layer from one eager run on zeros.

    ``input_shape`` is one shape or a structure of them (a list, a dict);
    ``tensor_shapes`` maps keyword arguments to shapes (or lists of them), which
    get zeros too. The batch dimension runs as 2 and other unknown dimensions as
    1; the output's first dimension reads as the batch (None).
    """
    dtype = layer._input_dtype or layer.dtype

    def zeros(shape):
        return np.zeros(tuple(2 if i == 0 else (1 if d is None else d) for i, d in enumerate(shape)), dtype)

    kwargs = {k: tree.map_shape_structure(zeros, v) for k, v in (tensor_shapes or {}).items()}
    out = run_call(layer, tree.map_shape_structure(zeros, input_shape), call_arguments(layer, False, kwargs))
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    result = [(None,) + tuple(value_of(o).shape[1:]) for o in outs]
    return result if isinstance(out, (list, tuple)) else result[0]
