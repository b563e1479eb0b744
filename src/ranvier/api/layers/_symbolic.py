"""Symbolic tensors and nodes: the graph that functional and Sequential models run.

This module sits below ``layers.base`` (a layer called on a KerasTensor
records a node here) and below ``models`` (which execute the nodes), and
imports neither.

Calling a layer on a ``KerasTensor`` records a ``Node`` (layer, input
tensors, output tensors) and returns new KerasTensors; a model is the
topologically sorted list of nodes between its inputs and outputs.
"""

import inspect

import numpy as np

from .. import tree

__all__ = [
    "KerasTensor",
    "Node",
    "call_accepts",
    "call_parameters",
    "call_symbolic",
    "is_structure",
    "split_inputs",
    "topological_nodes",
]


class KerasTensor:
    """A symbolic tensor: shape (batch dimension None), dtype and the node that makes it."""

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype).name
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype}>"


class Node:
    """One application of a layer in a graph.

    ``flat_inputs`` are the input tensors in order: the ``inputs`` argument
    (one tensor, a list, or the leaves of a nested structure in ``tree``
    order), then tensors passed as keyword arguments (e.g. ``initial_state``).
    ``rebuild(values)`` turns their values back into the call arguments.
    ``structure`` is None unless ``inputs`` is a nested structure (a dict, or
    a list holding lists or dicts): then it is that structure with each
    tensor replaced by its position in ``flat_inputs`` (JSON-able: it goes
    into the model's config).
    """

    def __init__(self, layer, inputs, kwargs):
        self.layer = layer
        flat, _ = split_inputs(inputs)
        self.structure = tree.pack_sequence_as(inputs, range(len(flat))) if is_structure(inputs) else None
        self.multi_input = isinstance(inputs, (list, tuple, dict))
        self.n_main = len(flat)
        self.flat_inputs = list(flat)
        self.tensor_kwargs = {}
        self.static_kwargs = {}
        for key, value in kwargs.items():
            vals = value if isinstance(value, (list, tuple)) else [value]
            if any(isinstance(v, KerasTensor) for v in vals):
                self.tensor_kwargs[key] = (len(self.flat_inputs), len(vals), isinstance(value, (list, tuple)))
                self.flat_inputs.extend(vals)
            else:
                self.static_kwargs[key] = value
        self.outputs = []
        self.multi_output = False
        self.accepts_mask = call_accepts(layer, "mask")

    def pack_main(self, values):
        """The ``inputs`` argument from the values of its ``n_main`` tensors (or their masks)."""
        if self.structure is not None:
            return tree.pack_sequence_as(self.structure, values)
        return list(values) if self.multi_input else values[0]

    def rebuild(self, values):
        """(inputs, kwargs) for ``layer.call`` from the values of ``flat_inputs``."""
        inputs = self.pack_main(values[: self.n_main])
        kwargs = dict(self.static_kwargs)
        for key, (start, n, is_list) in self.tensor_kwargs.items():
            kwargs[key] = list(values[start : start + n]) if is_list else values[start]
        return inputs, kwargs


def is_structure(inputs):
    """Whether a layer's first argument is a nested structure (Keras' nested inputs).

    A dict, or a list/tuple holding a dict or a list/tuple of tensors, is one;
    one tensor and a flat list of tensors (the convention of ranvier's
    hand-written layers) are not, nor is a nested list of numbers (one array).
    """
    if isinstance(inputs, dict):
        return True
    return isinstance(inputs, (list, tuple)) and any(
        isinstance(e, dict) or isinstance(e, (list, tuple)) and all(hasattr(x, "shape") for x in tree.flatten(e))
        for e in inputs
    )


def split_inputs(inputs):
    """``(flat, pack)``: a layer's first argument as a flat list, and the function packing values back.

    One tensor gives ``[inputs]``; a flat list or tuple gives a list (packed
    back as a list); a nested structure gives its leaves in ``tree.flatten``
    order (packed back into the structure).
    """
    if is_structure(inputs):
        return tree.flatten(inputs), lambda values: tree.pack_sequence_as(inputs, values)
    if isinstance(inputs, (list, tuple)):
        return list(inputs), list
    return [inputs], lambda values: values[0]


def check_structure_allowed(layer, inputs):
    """A hand-written layer takes one tensor or a flat list: a nested structure is refused, naming it."""
    if not layer._traced and is_structure(inputs):
        raise TypeError(
            f"Layer {layer.name!r} ({type(layer).__name__}) takes a tensor or a list of tensors; nested inputs "
            f"(a dict, or lists of lists) go to layers whose call is written with ops, got {_describe(inputs)}"
        )


def _describe(inputs):
    if isinstance(inputs, dict):
        return f"a dict with keys {sorted(inputs)}"
    return f"a nested {type(inputs).__name__}"


def call_symbolic(layer, inputs, *args, **kwargs):
    """Record ``layer(inputs, **kwargs)`` on KerasTensors; returns the output tensor(s).

    ``inputs`` is one tensor, a list of them, or (for a traced layer) a
    nested structure of them; ``build`` and ``compute_output_shape`` get the
    shapes in the same form.
    """
    if args:
        raise TypeError(f"{layer.name}: pass extra arguments by keyword, got {len(args)} positional")
    kwargs.pop("training", None)
    check_structure_allowed(layer, inputs)
    flat, pack = split_inputs(inputs)
    for t in flat:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Layer {layer.name!r}: mixing symbolic and concrete inputs is not supported, got {type(t).__name__}"
            )
    inputs = pack(flat)  # a tuple reads as a list, as hand-written layers take them
    node = Node(layer, inputs, kwargs)
    in_shape = node.pack_main([t.shape for t in flat])
    if layer.built:
        if not node.multi_input:
            layer._check_input_shape(in_shape)
    else:
        layer._build_once(in_shape)
    extra = node.rebuild([t.shape for t in node.flat_inputs])[1]  # tensor keywords as shapes
    extra = {k: extra[k] for k in node.tensor_kwargs}
    out_shape = layer.compute_output_shape(in_shape, **extra) if extra else layer.compute_output_shape(in_shape)
    if isinstance(out_shape, list):
        node.multi_output = True
        outs = [KerasTensor(s, layer._output_dtype, node, i) for i, s in enumerate(out_shape)]
    else:
        outs = [KerasTensor(out_shape, layer._output_dtype, node, 0)]
    node.outputs = outs
    layer.output_shape = out_shape
    # Keras' layer.input / layer.output: the tensors of the layer's latest call (feature extraction).
    layer.input = inputs
    layer.output = outs if node.multi_output else outs[0]
    return layer.output


def topological_nodes(inputs, outputs):
    """Nodes needed to compute ``outputs`` from ``inputs``, in execution order.

    A depth-first walk with an explicit stack (a deep model would exceed Python's recursion
    limit): each node comes after the nodes making its inputs, in the order a recursive walk
    over ``flat_inputs`` gives, so saved weight orders do not change.
    """
    input_ids = {id(t) for t in inputs}
    order, state = [], {}

    def producer(tensor):
        """The node to visit for ``tensor``: None for a model input or a node already done."""
        if id(tensor) in input_ids:
            return None
        node = tensor.node
        if node is None:
            raise ValueError(f"Graph disconnected: {tensor} is not computed from the model inputs")
        mark = state.get(id(node))
        if mark == "active":
            raise ValueError("The layer graph has a cycle")
        if mark == "done":
            return None
        state[id(node)] = "active"
        return node

    for tensor in outputs:
        node = producer(tensor)
        stack = [] if node is None else [(node, iter(node.flat_inputs))]
        while stack:
            node, pending = stack[-1]
            for t in pending:
                child = producer(t)
                if child is not None:
                    stack.append((child, iter(child.flat_inputs)))
                    break
            else:
                stack.pop()
                state[id(node)] = "done"
                order.append(node)
    return order


def call_parameters(layer):
    """``layer.call``'s parameters after ``self`` (cached per class; a model's too)."""
    cls = type(layer)
    params = cls.__dict__.get("_call_parameters_cache")
    if params is None:
        params = cls._call_parameters_cache = list(inspect.signature(cls.call).parameters.values())[1:]
    return params


def call_accepts(layer, argument):
    """Whether ``layer.call`` takes keyword ``argument`` (cached per class)."""
    cls = type(layer)
    cache = cls.__dict__.get("_call_args_cache")
    if cache is None:
        cache = cls._call_args_cache = {p.name for p in call_parameters(layer)}
    return argument in cache
