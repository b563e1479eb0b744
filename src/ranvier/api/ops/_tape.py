"""GradientTape: records ops on Tensors and Variables, then runs them backward.

Recording. While a tape is active in this thread, every differentiable op
whose inputs include a traced Tensor or a trainable Variable appends one node
``(output, inputs, backward)`` to each active tape: ``inputs`` holds the
traced inputs (None for constants) and ``backward(dy)`` returns one gradient
per input (None where none is needed), thinc's ``(y, backprop)`` style. Nodes
are appended in execution order, which is a topological order, so the
backward pass is one reversed walk with no sort.

Backward. Gradients accumulate by input identity; a gradient whose shape
differs from its input's (broadcasting) is summed over the broadcast axes.
Each Variable's total gradient goes once to a ``variable_grad(var, grad)``
hook (the model's flat gradient buffer) or back to the caller.

Cost: an op under a tape costs its NumPy call plus ~1-2 us of Python
(docs/ops.md has the measurements); ops on plain arrays outside a tape
record nothing.
"""

import threading
from contextlib import contextmanager

import numpy as np

from ..variables import Variable
from ._tensor import Tensor

__all__ = [
    "GradientTape",
    "recording",
    "record",
    "record_many",
    "wrap",
    "paused",
    "is_source",
    "unbroadcast",
    "backward",
]


class _State(threading.local):
    """The active tapes of this thread (services call predict from several threads)."""

    def __init__(self):
        self.tapes = []


_STATE = _State()


@contextmanager
def paused():
    """Nothing is recorded inside this block (custom_gradient's forward)."""
    saved, _STATE.tapes = _STATE.tapes, []
    try:
        yield
    finally:
        _STATE.tapes = saved


def is_source(x):
    """Whether gradients flow to ``x``: a traced Tensor or a trainable Variable."""
    t = type(x)
    if t is Tensor:
        return x.traced
    return (t is Variable or isinstance(x, Variable)) and x.trainable


def recording(*inputs):
    """The input refs to record (None for constants), or None when no node is needed."""
    if not _STATE.tapes:
        return None
    refs, found = [], False
    for x in inputs:
        # is_source, inlined: this runs for every input of every op under a tape.
        t = type(x)
        if x.traced if t is Tensor else (t is Variable or isinstance(x, Variable)) and x.trainable:
            refs.append(x)
            found = True
        else:
            refs.append(None)
    return tuple(refs) if found else None


def record(y, refs, backward):
    """Wrap ``y`` in a Tensor and append its node to every active tape."""
    if y.dtype.kind not in "fc":
        return Tensor(y, False)
    out = Tensor(y)
    node = (out, refs, backward)
    for tape in _STATE.tapes:
        tape._nodes.append(node)
    return out


def record_many(ys, refs, backward):
    """``record`` for an op with several outputs: ``backward`` gets a list (None where no gradient)."""
    outs = tuple(Tensor(y) for y in ys)
    node = (outs, refs, backward)
    for tape in _STATE.tapes:
        tape._nodes.append(node)
    return list(outs)


def wrap(y, *inputs):
    """An op's result when nothing is recorded: a Tensor if any input is one, else ``y``."""
    tensor = traced = False
    for x in inputs:
        if type(x) is Tensor:
            tensor, traced = True, traced or x.traced
    return Tensor(y, traced and y.dtype.kind in "fc") if tensor else y


def unbroadcast(g, shape):
    """``g`` summed down to ``shape``: the gradient of broadcasting an input of that shape."""
    if g.shape == shape:
        return g
    g = np.asarray(g)
    lead = g.ndim - len(shape)
    if lead < 0:
        return np.broadcast_to(g, shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else np.broadcast_to(g, shape)


def backward(nodes, outputs, output_grads, keep=(), variable_grad=None):
    """Walk ``nodes`` in reverse from ``outputs``. Returns (gradients by id, Variables reached by id).

    ``keep``: ids of Tensors whose gradient must stay in the result (sources);
    other intermediate gradients are dropped as soon as they are consumed.
    """
    grads = {}
    for out, g in zip(outputs, output_grads):
        if g is None or not is_source(out):
            continue
        g = np.asarray(g, dtype=out.dtype)
        if g.shape != out.shape:
            g = np.broadcast_to(g, out.shape)
        k = id(out)
        grads[k] = g if k not in grads else grads[k] + g
    variables = {}
    keep = set(keep)
    for out, refs, back in reversed(nodes):
        if type(out) is tuple:
            dys = [grads.get(id(o)) if id(o) in keep else grads.pop(id(o), None) for o in out]
            if all(d is None for d in dys):
                continue
            in_grads = back(dys)
        else:
            k = id(out)
            dy = grads.get(k) if k in keep else grads.pop(k, None)
            if dy is None:
                continue
            in_grads = back(dy)
        for r, g in zip(refs, in_grads):
            if r is None or g is None:
                continue
            if g.shape != r.shape:
                g = unbroadcast(g, r.shape)
            if g.dtype != r.dtype:  # float32 - float64 array promotes; a gradient keeps its input's dtype
                g = g.astype(r.dtype)
            k = id(r)
            if type(r) is not Tensor:
                variables[k] = r
            prev = grads.get(k)
            grads[k] = g if prev is None else prev + g
    if variable_grad is not None:
        for k, var in variables.items():
            variable_grad(var, _as_gradient(grads[k], var))
    return grads, variables


def _as_gradient(g, source):
    """A fresh-enough, writable C-contiguous gradient in ``source``'s dtype."""
    g = np.asarray(g, dtype=source.dtype)
    return g if g.flags.c_contiguous and g.flags.writeable else np.array(g, order="C")


def _flatten(sources):
    if isinstance(sources, (list, tuple)):
        return [leaf for s in sources for leaf in _flatten(s)]
    if isinstance(sources, dict):
        return [leaf for k in sorted(sources) for leaf in _flatten(sources[k])]
    return [sources]


def _rebuild(sources, leaves):
    if isinstance(sources, (list, tuple)):
        items = [_rebuild(s, leaves) for s in sources]
        return type(sources)(items) if isinstance(sources, tuple) else items
    if isinstance(sources, dict):
        return {k: _rebuild(sources[k], leaves) for k in sorted(sources)}
    return next(leaves)


class GradientTape:
    """Record ops to differentiate them (Keras/TensorFlow's ``GradientTape``).

    >>> with rv.GradientTape() as tape:
    ...     x = tape.watch(np.array(3.0))
    ...     y = x * x
    >>> tape.gradient(y, x)
    array(6.)

    Trainable Variables (layer weights) are watched automatically; a plain
    array must be watched, and ``watch`` *returns* the Tensor to compute with
    (NumPy arrays cannot be marked in place as TF tensors are). Tapes nest:
    every active tape of the thread records each op.

    Parameters
    ----------
    persistent : bool, default False
        Allow several ``gradient`` calls (else the recording is freed after one).
    watch_accessed_variables : bool, default True
        Record ops on trainable Variables without watching them.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        if not watch_accessed_variables:
            raise NotImplementedError("GradientTape: watch_accessed_variables=False is not supported, got False")
        self.persistent = bool(persistent)
        self._nodes = []
        self._used = False

    def __enter__(self):
        _STATE.tapes.append(self)
        return self

    def __exit__(self, *exc):
        _STATE.tapes.remove(self)
        return False

    @contextmanager
    def stop_recording(self):
        """Ops inside this block are not recorded by this tape."""
        tapes = _STATE.tapes
        tapes.remove(self)
        try:
            yield
        finally:
            tapes.append(self)

    def reset(self):
        """Forget everything recorded so far."""
        self._nodes = []

    def watch(self, x):
        """A Tensor of ``x``'s value that this tape traces; nested lists give lists.

        Returns ``x`` itself if it is already a traced Tensor or a Variable.
        Raises TypeError for non-float values (gradients exist for floats only).
        """
        if isinstance(x, (list, tuple)):
            return type(x)(self.watch(v) for v in x)
        if is_source(x) or isinstance(x, Variable):
            return x
        value = x.value if type(x) is Tensor else np.asarray(x)
        if value.dtype.kind != "f":
            raise TypeError(
                f"GradientTape.watch: x must be a float array (gradients exist for floats only), "
                f"got dtype {value.dtype}"
            )
        return Tensor(value)

    def watched_variables(self):
        """The trainable Variables recorded so far, in first-use order."""
        seen = {}
        for _, refs, _ in self._nodes:
            for r in refs:
                if r is not None and type(r) is not Tensor:
                    seen.setdefault(id(r), r)
        return list(seen.values())

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """Gradients of ``target`` with respect to ``sources``.

        Parameters
        ----------
        target : Tensor, or a (nested) list of Tensors
            Summed when not scalar and no ``output_gradients`` are given (as TF does).
        sources : Tensor or Variable, or a nested list / tuple / dict of them
        output_gradients : array or list of arrays like ``target``, optional
            dL/dtarget (default ones).
        unconnected_gradients : {"none", "zero"}
            What a source the target does not depend on gets.

        Returns
        -------
        Gradients as ndarrays in the structure of ``sources`` (source dtype).
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(
                f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}"
            )
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient: a non-persistent tape can only compute gradients "
                "once; use GradientTape(persistent=True)"
            )
        targets = _flatten(target)
        leaves = _flatten(sources)
        for i, s in enumerate(leaves):
            if not (type(s) is Tensor or isinstance(s, Variable)):
                raise TypeError(
                    f"GradientTape.gradient: source {i} must be a Tensor (from tape.watch or an op) "
                    f"or a Variable, got {type(s).__name__}; note that watch returns the Tensor "
                    f"to compute with: x = tape.watch(x)"
                )
            if s.dtype.kind != "f":
                raise TypeError(
                    f"GradientTape.gradient: source {i} has dtype {s.dtype}; gradients exist for float sources only"
                )
        if output_gradients is None:
            grads_out = [np.ones_like(t.value) if type(t) is Tensor else None for t in targets]
        else:
            grads_out = _flatten(output_gradients)
            if len(grads_out) != len(targets):
                raise ValueError(
                    f"GradientTape.gradient: output_gradients must match target's structure "
                    f"({len(targets)} arrays), got {len(grads_out)}"
                )
        # Variable gradients meet in Variable.grad: a hand-written layer's backward writes
        # there itself (fused kernels), ops' gradients are added by the hook.
        reached = self.watched_variables()
        for v in reached:
            v._fresh = True
        grads, _ = backward(
            self._nodes, targets, grads_out, keep=[id(s) for s in leaves], variable_grad=Variable.accumulate_grad
        )
        if not self.persistent:
            self._used = True
            self._nodes = []
        result = []
        for s in leaves:
            if type(s) is Tensor:
                g = grads.get(id(s))
            else:
                g = None if s._fresh or s.grad is None else s.grad.copy()
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(s.shape, s.dtype)
            result.append(None if g is None else _as_gradient(g, s))
        return _rebuild(sources, iter(result))

    def backward(self, outputs, output_grads, sources=(), variable_grad=None):
        """The executor's entry: gradients of ``outputs`` given dL/doutputs.

        Parameters
        ----------
        outputs : list of Tensors (non-Tensors are skipped: constant outputs)
        output_grads : list of arrays, one per output (None for no gradient)
        sources : list of Tensors whose gradients to return (e.g. the traced inputs)
        variable_grad : callable(var, grad), optional
            Called once per trainable Variable reached, with its total gradient
            (a C-contiguous array of the variable's shape and dtype).

        Returns
        -------
        list of ndarrays, one per source (zeros where the outputs do not depend on it).
        """
        grads, _ = backward(
            self._nodes, list(outputs), list(output_grads), keep=[id(s) for s in sources], variable_grad=variable_grad
        )
        if not self.persistent:
            self._nodes = []
        out = []
        for s in sources:
            g = grads.get(id(s))
            out.append(np.zeros(s.shape, s.dtype) if g is None else _as_gradient(g, s))
        return out
