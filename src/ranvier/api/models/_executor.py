"""The executor: runs a model's plan of steps forward and backward.

A model is a list of nodes (``layers._symbolic``) between its input and
output tensors. The executor turns them into a plan, one
``_steps.LayerStep`` per node, which ``_fusion.fuse`` may rewrite into
fused steps, and runs it: the executor itself knows nothing of what a step
does.
"""

from . import _fusion
from ._steps import LayerStep, Run, TracedStep

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
    input_grads : bool, default False
        Whether ``backward`` returns the gradients of the inputs (a model
        nested in another needs them; a model trained on data does not).
    """

    def __init__(self, inputs, outputs, nodes, rules=_fusion.RULES, input_grads=False):
        self.input_ids = tuple(id(t) for t in inputs)
        self.output_ids = tuple(id(t) for t in outputs)
        self.nodes = nodes
        self.input_grads = input_grads
        self.replan(rules)

    def replan(self, rules=_fusion.RULES):
        """Build the plan again with the fusion ``rules`` given (tests compare fused and plain plans)."""
        self.rules = tuple(rules)
        inputs = set() if self.input_grads else set(self.input_ids)
        plain = []
        for node in self.nodes:
            in_ids = tuple(id(t) for t in node.flat_inputs)
            need = tuple(i not in inputs for i in in_ids)
            kind = TracedStep if node.layer._traced else LayerStep
            plain.append(kind(node, in_ids, tuple(id(t) for t in node.outputs), need if any(need) else None))
        self.steps = _fusion.fuse(plain, self.output_ids, self.rules)
        producers = {t: step for step in self.steps for t in step.out_ids}
        self._producers = [producers.get(t) for t in self.output_ids]

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

    def backward(self, dys, run, preactivation=()):
        """Backpropagate ``dys`` (one per model output) through the plan of ``run``.

        ``preactivation`` lists output positions whose ``dys`` entry is the
        gradient w.r.t. the producing layer's pre-activation (a loss that
        folds softmax or sigmoid into its gradient; that layer must declare
        ``PREACTIVATION``). Weight gradients go where each layer writes them
        (the model's flat gradient buffer). Returns the inputs' gradients
        (None where an input got none) with ``input_grads``, else None.
        """
        grads = {t: dy for t, dy in zip(self.output_ids, dys) if dy is not None}
        folded = [self._producers[p] for p in preactivation]
        for step, cache in zip(reversed(self.steps), reversed(run.caches)):
            step.backward(grads, cache, step in folded)
        if self.input_grads:
            return [grads.get(t) for t in self.input_ids]
        return None
