"""A functional model whose inputs are layer outputs: the graph cut there, as Keras 3 does.

``Model(inputs, outputs)`` with an intermediate tensor among ``inputs``
(``{"age": Normalization()(Input(...)), ...}`` in keras-io's structured-data
example) gets a fresh ``Input`` of that tensor's shape and dtype in its place,
and the layers between the inputs and the outputs are called again on the new
tensors (Keras' ``clone_graph_nodes``): the layers before the cut are not part
of the model, and the graph the tensors came from is left as it was.
"""

from .. import tree
from ..layers._symbolic import topological_nodes
from ..layers.core import InputLayer

__all__ = ["cut_at_inputs"]


def cut_at_inputs(inputs, outputs):
    """``(inputs, outputs)`` with every input a model input (``Input`` tensor); unchanged when all are.

    Parameters
    ----------
    inputs, outputs : KerasTensor or a structure (list, dict) of them

    Raises
    ------
    ValueError
        When an output needs a tensor that is neither an input nor computed from them.
    """
    flat_in = tree.flatten(inputs)
    if all(t.node is None for t in flat_in):
        return inputs, outputs
    mapping = {}
    for t in flat_in:
        if t.node is not None and id(t) not in mapping:
            mapping[id(t)] = InputLayer(batch_shape=t.shape, dtype=_input_dtype(t), name=t.name).output
    for node in topological_nodes(flat_in, tree.flatten(outputs)):
        args, kwargs = node.rebuild([mapping.get(id(t), t) for t in node.flat_inputs])
        out = node.layer(args, **kwargs)
        for old, new in zip(node.outputs, out if node.multi_output else [out]):
            mapping[id(old)] = new
    return tree.map_structure(lambda t: mapping.get(id(t), t), (inputs, outputs))


def _input_dtype(tensor):
    return "string" if tensor.dtype == "object" else tensor.dtype
