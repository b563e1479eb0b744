"""Keras 3's ``plot_model`` / ``model_to_dot``: a model's layer graph as a pydot graph (pydot is optional).

The graph is one node per layer (an ``InputLayer`` node per input of a
functional model), labelled with the layer's name and class (and its shapes,
dtype, activation, trainability when asked), and one edge per tensor passed
from a layer to the next. ``model_graph`` builds it without pydot.
"""

import os
import sys

__all__ = ["model_graph", "model_to_dot", "plot_model"]

_PYDOT_MISSING = "You must install pydot (`pip install pydot`) for {} to work."


def _pydot():
    """The pydot module (or one of its older forks, as Keras), or None."""
    for name in ("pydot", "pydot_ng", "pydotplus"):
        try:
            return __import__(name)
        except ImportError:
            continue
    return None


def _check_built(model):
    if not getattr(model, "built", False):
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or by calling "
            "the model on a batch of data."
        )


def _shapes(tensors):
    shapes = [tuple(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else shapes


def _shown(layer):
    """The object a node stands for: a model called inside another is drawn as that model (Keras' class)."""
    from .models._nested import NestedModel

    return layer.model if isinstance(layer, NestedModel) else layer


def _label(layer, node_in, node_out, options):
    lines = [f"{layer.name} ({type(layer).__name__})" if options["show_layer_names"] else type(layer).__name__]
    if options["show_shapes"] and node_out is not None:
        lines.append(f"Input shape: {_shapes(node_in)}")
        lines.append(f"Output shape: {_shapes(node_out)}")
    if options["show_dtype"]:
        dtype = getattr(layer, "dtype", None)
        lines.append(f"Output dtype: {node_out[0].dtype if node_out else dtype}")
    activation = getattr(layer, "activation", None)
    if options["show_layer_activations"] and activation is not None:
        name = getattr(activation, "name", None) or getattr(activation, "__name__", None) or str(activation)
        lines.append(f"Activation: {name}")
    if options["show_trainable"]:
        lines.append(f"Trainable: {'T' if layer.trainable else 'F'}")
    return "\n".join(lines)


def model_graph(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    show_layer_activations=False,
    show_trainable=False,
):
    """The nodes and edges ``model_to_dot`` draws, without pydot.

    Returns
    -------
    nodes : list of (str, str)
        ``(node id, label)``, in execution order (a functional model's inputs first).
    edges : list of (str, str)
        ``(source id, destination id)``, each once. A node id is ``str(id(layer))``, as Keras'.
    """
    from .models.sequential import Sequential

    _check_built(model)
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_trainable": show_trainable,
    }
    if getattr(model, "_subclassed", False) and not isinstance(model, Sequential):
        return [(str(id(model)), _label(model, None, None, options))], []  # one node, as Keras
    first_node = {}
    for node in model._nodes:
        first_node.setdefault(id(node.layer), node)
    nodes, edges = [], []

    def add(layer, node_in, node_out):
        nodes.append((str(id(_shown(layer))), _label(_shown(layer), node_in, node_out, options)))

    def connect(src, dst):
        edge = (str(id(_shown(src))), str(id(_shown(dst))))
        if edge not in edges:
            edges.append(edge)

    if isinstance(model, Sequential):
        layers = model.layers
        for layer in layers:
            node = first_node.get(id(layer))
            add(layer, node and node.flat_inputs, node and node.outputs)
        for src, dst in zip(layers, layers[1:]):
            connect(src, dst)
        return nodes, edges
    for t in model._inputs:
        add(t.input_layer, [t], [t])
    for layer in model._layers:
        node = first_node[id(layer)]
        add(layer, node.flat_inputs, node.outputs)
    for node in model._nodes:
        for t in node.flat_inputs:
            connect(t.input_layer if t.node is None else t.node.layer, node.layer)
    return nodes, edges


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """A ``pydot.Dot`` of the model's layer graph (needs pydot), as ``keras.utils.model_to_dot``.

    Parameters
    ----------
    model : Model
        Built. A subclassed model is one node, as in Keras.
    show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable : bool
        What each node's label shows besides the layer's class.
    rankdir : {"TB", "LR"}, default "TB"
    expand_nested : bool, default False
        Accepted; a model used as a layer is always drawn as one node (its class, e.g. ``Sequential``).
    dpi : int, default 200
    subgraph : bool, default False
        Return a ``pydot.Cluster`` instead of a ``pydot.Dot``.
    splines : str, default "ortho"

    Returns
    -------
    pydot.Dot or pydot.Cluster

    Raises
    ------
    ImportError
        Without pydot (``pip install pydot``).
    """
    _check_built(model)
    pydot = _pydot()
    if pydot is None:
        raise ImportError(_PYDOT_MISSING.format("model_to_dot"))
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="box")
    nodes, edges = model_graph(model, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    for node_id, label in nodes:
        node = pydot.Node(node_id, label=label)
        node.set("fontname", "Helvetica")
        dot.add_node(node)
    for src, dst in edges:
        edge = pydot.Edge(src, dst)
        edge.set("penwidth", "2")
        dot.add_edge(edge)
    return dot


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=False,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """Draw the model's layer graph to ``to_file`` (needs pydot and Graphviz), as ``keras.utils.plot_model``.

    Parameters
    ----------
    model : Model
    to_file : str, default "model.png"
        The extension is the image format (``png`` if none).
    show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable : bool
        As in :func:`model_to_dot` (``show_layer_names`` defaults to False here, as in Keras).
    rankdir, expand_nested, dpi, splines
        As in :func:`model_to_dot`.

    Returns
    -------
    IPython.display.Image or None
        The image when IPython is installed (and the format is not pdf).

    Raises
    ------
    ImportError
        Without pydot (``pip install pydot``) or Graphviz; in a notebook the message is printed instead.
    """
    _check_built(model)
    pydot = _pydot()
    message = None
    if pydot is None:
        message = _PYDOT_MISSING.format("`plot_model`")
    else:
        try:
            pydot.Dot.create(pydot.Dot())
        except (OSError, getattr(pydot, "PydotException", OSError)):
            message = (
                "You must install graphviz (see instructions at https://graphviz.gitlab.io/download/) "
                "for `plot_model` to work."
            )
    if message is not None:
        if "IPython.core.magics.namespace" in sys.modules:  # as Keras: do not crash a notebook
            print(message)
            return None
        raise ImportError(message)
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
        **kwargs,
    )
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension != "pdf":
        try:
            from IPython import display
        except ImportError:
            return None
        return display.Image(filename=to_file)
    return None
