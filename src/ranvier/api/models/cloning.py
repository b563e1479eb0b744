"""clone_model and model_from_json: new models from an existing one's architecture."""

import json

from .. import serialization

__all__ = ["clone_model", "model_from_json"]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model with ``model``'s architecture and new weights, freshly initialized (Keras 3).

    The layers are rebuilt from their configs, so they share nothing with
    ``model``. Custom layers need ``get_config`` (and registration, or a
    ``custom_object_scope``), as for saving.
    """
    for name, value in (
        ("input_tensors", input_tensors),
        ("clone_function", clone_function),
        ("call_function", call_function),
        *kwargs.items(),
    ):
        if value is not None:
            raise NotImplementedError(f"clone_model: the argument {name} is not supported yet, got {name}={value!r}")
    if recursive:
        raise NotImplementedError(f"clone_model: recursive=True is not supported yet, got recursive={recursive!r}")
    return model_from_json(model.to_json())


def model_from_json(json_string, custom_objects=None):
    """The model ``Model.to_json`` described (architecture only; weights are new)."""
    try:
        spec = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_from_json: not a JSON string ({exc}), got {str(json_string)[:80]!r}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(f"model_from_json: expected {{'class_name', 'config'}}, got {str(json_string)[:80]!r}")
    with serialization.custom_object_scope(custom_objects):
        model = serialization.lookup(spec["class_name"], "model", custom_objects).from_config(
            spec.get("config") or {}, custom_objects=custom_objects
        )
    model.build_from_config(spec.get("build_config"))
    return model
