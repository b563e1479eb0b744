"""The executor: runs a model's plan of steps forward and backward.

A model is a list of nodes (``layers._symbolic``) between its input and
output tensors. The executor turns them into a plan, one
``_steps.LayerStep`` per node, which ``_fusion.fuse`` may rewrite into
fused steps, and runs it: the executor itself knows nothing of what a step
does.
"""
from . import _fusion
from ._steps import LayerStep, Run

__all__ = ["Executor"]


class Executor:
    """The plan of a graph from ``inputs`` to ``outputs`` and the two passes over it.

    Parameters
    ----------
    inputs, outputs : list of KerasTensor
    nodes : list of Node
        The nodes between them in execution order (``topological_nodes``).
    rules : tuple of str, optional
        Fusion rules to apply (``_fusion.RULES`` by default; ``()`` for none).
    """

    def __init__(self, inputs, outputs, nodes, rules=_fusion.RULES):
        self.input_ids = tuple(id(t) for t in inputs)
        self.output_ids = tuple(id(t) for t in outputs)
        self.nodes = nodes
        self.replan(rules)

    def replan(self, rules=_fusion.RULES, preactivation_outputs=()):
        """Build the plan again with the fusion ``rules`` given (tests compare fused and plain plans).

        ``preactivation_outputs`` are output positions whose gradient will come
        w.r.t. the producing layer's pre-activation (a loss that folds the
        output activation).
        """
        self.rules = tuple(rules)
        inputs = set(self.input_ids)
        plain = []
        for node in self.nodes:
            in_ids = tuple(id(t) for t in node.flat_inputs)
            need = tuple(i not in inputs for i in in_ids)
            plain.append(LayerStep(node, in_ids, tuple(id(t) for t in node.outputs), need if any(need) else None))
        self.steps = _fusion.fuse(plain, self.output_ids, self.rules)
        producers = {t: step for step in self.steps for t in step.out_ids}
        for position in preactivation_outputs:
            producers[self.output_ids[position]].preactivation = True
        self.preactivation_outputs = tuple(preactivation_outputs)

    def output_layer(self, position=0):
        """The layer that computes output ``position`` (None when it is a model input)."""
        target = self.output_ids[position]
        for node in self.nodes:
            if any(id(t) == target for t in node.outputs):
                return node.layer if len(node.outputs) == 1 else None
        return None

    def forward(self, xs, training):
        """Run the plan on the input arrays ``xs`` (one per model input).

        Returns
        -------
        outputs : list of ndarray
            One per model output.
        run : Run
            What ``backward`` needs (and the activity penalty in ``run.penalty``).
        """
        run = Run(dict(zip(self.input_ids, xs)))
        for step in self.steps:
            step.forward(run, training)
        return [run.values[t] for t in self.output_ids], run

    def backward(self, dys, run):
        """Backpropagate ``dys`` (one per model output) through the plan of ``run``.

        Weight gradients go where each layer writes them (the model's flat
        gradient buffer); nothing is returned: model inputs get no gradient.
        """
        grads = dict(zip(self.output_ids, dys))
        for step, cache in zip(reversed(self.steps), reversed(run.caches)):
            step.backward(grads, cache)
