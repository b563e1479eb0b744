"""The config of a functional Model: its layers, the nodes connecting them, inputs and outputs.

The graph is written as references: a tensor is ``["input", i]`` (the i-th
model input) or ``[node, output]`` (an output of an earlier node), so a layer
called twice (a shared layer) appears once in ``"layers"`` and twice in
``"nodes"``. A node whose layer took nested inputs (a dict of tensors) keeps
their ``"structure"``, positions in its ``"inputs"`` for leaves (JSON turns
tuples into lists).
"""

from .. import serialization, tree
from ..layers.core import InputLayer

__all__ = ["functional_config", "functional_from_config"]


def functional_config(model):
    """JSON-able ``{"name", "input_layers", "layers", "nodes", "outputs"}`` of a functional Model."""
    tensor_ref = {id(t): ["input", i] for i, t in enumerate(model._inputs)}
    for n_idx, node in enumerate(model._nodes):
        for o_idx, t in enumerate(node.outputs):
            tensor_ref[id(t)] = [n_idx, o_idx]
    nodes = [
        {
            "layer": node.layer.name,
            "inputs": [tensor_ref[id(t)] for t in node.flat_inputs],
            "multi_input": node.multi_input,
            "n_main": node.n_main,
            "structure": node.structure,
            "static_kwargs": node.static_kwargs,
            "tensor_kwargs": {k: list(v) for k, v in node.tensor_kwargs.items()},
        }
        for node in model._nodes
    ]
    return {
        "name": model.name,
        "input_layers": [serialization.serialize(t.input_layer, "layer") for t in model._inputs],
        "layers": [serialization.serialize(layer, "layer") for layer in model._layers],
        "nodes": nodes,
        "outputs": [tensor_ref[id(t)] for t in model._outputs],
        # The form inputs and outputs were given in (one, a list, a dict), as Keras keeps it.
        "input_structure": _structure_config(model._input_structure),
        "output_structure": _structure_config(model._output_structure),
    }


def _structure_config(structure):
    return {"form": structure.form, "keys": structure.names} if structure.form == "dict" else {"form": structure.form}


def _packed(tensors, spec, what):
    """``tensors`` in the form ``spec`` (a ``_structure_config``) names; files without one: one or a list."""
    if spec is None:
        return tensors if len(tensors) > 1 else tensors[0]
    form = spec.get("form") if isinstance(spec, dict) else None
    keys = spec.get("keys") if form == "dict" else None
    if form == "single" and len(tensors) == 1:
        return tensors[0]
    if form == "list":
        return list(tensors)
    if (
        isinstance(keys, list)
        and len(keys) == len(tensors)
        and all(isinstance(k, str) for k in keys)
        and len(set(keys)) == len(keys)
    ):
        return dict(zip(keys, tensors))
    raise ValueError(
        f"{what}_structure must be {{'form': 'single'|'list'}} or {{'form': 'dict', 'keys': [one unique name "
        f"per {what}]}} for {len(tensors)} {what}(s), got {spec!r}"
    )


def functional_from_config(model_class, config, custom_objects=None):
    """Rebuild the graph :func:`functional_config` describes by calling the layers again.

    Parameters
    ----------
    model_class : type
        ``Model`` or a subclass; called as ``model_class(inputs, outputs, name=...)``.
    config : dict
    custom_objects : dict, optional
        Classes of custom layers (and of their custom parts) by name.
    """
    inputs = [InputLayer.from_config(dict(c["config"])).output for c in config["input_layers"]]
    layers = {}
    for cfg in config["layers"]:
        layer = serialization.deserialize(cfg, "layer", custom_objects)
        layers[layer.name] = layer
    produced = []

    def resolve(ref):
        # A file could point anywhere: only at a model input or an output of an earlier node.
        source, index = ref if isinstance(ref, (list, tuple)) and len(ref) == 2 else (None, None)
        pool = inputs if source == "input" else produced[source] if _index(source, len(produced)) else None
        if pool is None or not _index(index, len(pool)):
            raise ValueError(
                f"a tensor reference must be ['input', i] or [node, output] of an earlier node, got {ref!r} "
                f"(after {len(produced)} nodes)"
            )
        return pool[index]

    for node in config["nodes"]:
        flat = [resolve(r) for r in node["inputs"]]
        main = flat[: node["n_main"]] if node["multi_input"] else flat[0]
        if node.get("structure") is not None:  # nested inputs: leaves are positions in ``inputs``
            main = tree.pack_sequence_as(node["structure"], main)
        kwargs = dict(node["static_kwargs"])
        for key, (start, n, is_list) in node["tensor_kwargs"].items():
            kwargs[key] = flat[start : start + n] if is_list else flat[start]
        out = layers[node["layer"]](main, **kwargs)
        produced.append(out if isinstance(out, list) else [out])
    outputs = [resolve(r) for r in config["outputs"]]
    return model_class(
        _packed(inputs, config.get("input_structure"), "input"),
        _packed(outputs, config.get("output_structure"), "output"),
        name=config.get("name"),
    )


def _index(value, size):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size
