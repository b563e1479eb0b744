"""A model's inputs and outputs by position: what users give (arrays, lists, dicts) mapped to them.

Inside the trainer everything is a list with one entry per model input or
output. Users give one array for a one-input model, a list in the order of
``Model(inputs=[...])``, or a dict keyed by ``Input`` name; targets, sample
weights, losses, loss weights and metrics likewise per output (dicts keyed
by the name of the layer computing each output, as Keras 3 does). Errors name
the argument, what is missing or unknown, and what was received.
"""

__all__ = ["Structure", "output_names"]


class Structure:
    """The names of a model's inputs or outputs and the form they were given in.

    Parameters
    ----------
    names : list of str
        One per position, unique.
    form : {"single", "list", "dict"}
        How the model was built: ``Model(x, y)``, ``Model([x1, x2], [y1, y2])``
        or ``Model({"a": x1}, {"b": y})``; ``pack`` returns outputs that way.
    what : str
        "input" or "output", for error messages.
    """

    def __init__(self, names, form, what):
        self.names, self.form, self.what = list(names), form, what

    def __len__(self):
        return len(self.names)

    def flatten(self, value, arg, allow_broadcast=False, optional=False):
        """One entry per position from an array, a list/tuple or a dict.

        ``allow_broadcast``: a single (non-list, non-dict) value serves every
        position (one loss or one sample_weight array for all outputs).
        ``optional``: positions missing from a dict get None instead of an error.
        """
        n = len(self.names)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(self.names))
            if unknown:
                raise ValueError(
                    f"{arg}: unknown {self.what} name(s) {unknown}; the model's {self.what}s are "
                    f"{self.names}, got keys {sorted(value)}"
                )
            missing = [k for k in self.names if k not in value]
            if missing and not optional:
                raise ValueError(
                    f"{arg}: missing {self.what}(s) {missing}; the model's {self.what}s are "
                    f"{self.names}, got keys {sorted(value)}"
                )
            return [value.get(k) for k in self.names]
        if isinstance(value, (list, tuple)) and (
            n > 1 or len(value) == 1 and not allow_broadcast and _holds_arrays(value)
        ):
            if len(value) != n:
                raise ValueError(
                    f"{arg}: the model has {n} {self.what}s {self.names}, got a {type(value).__name__} of {len(value)}"
                )
            return list(value)
        if n > 1 and not allow_broadcast:
            raise ValueError(
                f"{arg}: the model has {n} {self.what}s {self.names}; give a list or a dict keyed by "
                f"{self.what} name, got {type(value).__name__}"
            )
        return [value] * n

    def pack(self, values):
        """Per-position ``values`` in the form the model was built with."""
        if self.form == "dict":
            return dict(zip(self.names, values))
        if self.form == "list":
            return list(values)
        return values[0]


def _holds_arrays(value):
    """A one-entry list of arrays (one input given in a list), not a list of numbers (one array)."""
    first = value[0]
    return hasattr(first, "shape") or isinstance(first, (list, tuple)) and first and hasattr(first[0], "shape")


def output_names(tensors):
    """Keras 3's output names: the name of the layer computing each output (suffixed when repeated)."""
    names = []
    for t in tensors:
        base = t.node.layer.name if t.node is not None else t.name or "output"
        name, i = base, 1
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names.append(name)
    return names
