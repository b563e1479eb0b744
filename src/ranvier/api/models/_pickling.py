"""What pickling a model carries so that unpickling finds its custom classes.

A pickled model holds its saved-model bytes (``saving.to_bytes``), or, for a
``Sequential`` not built yet, its config. Both name custom classes (layers,
losses, metrics, ...) that a fresh process does not know, so the state also
maps each name the config uses for a class outside ranvier to a
:class:`_ClassRef`. Unpickling resolves a name in this order:

1. the ``custom_object_scope`` blocks around the unpickling call and the
   objects registered with ``register_keras_serializable`` (as ``load_model``);
2. the class itself, for ``copy.deepcopy`` (no pickling happens);
3. the class's module and qualified name, recorded when pickling only if
   that path leads back to the class (a class defined inside a function
   does not: unpickle such a model inside ``custom_object_scope``). The
   module is taken from ``sys.modules`` or imported by its dotted name, as
   pickle itself imports the module of every class it names; no code from
   the state is ever evaluated. Importing the module also re-runs its
   ``register_keras_serializable`` decorators, which is how a registered
   class reaches a ``spawn`` worker.

A pickle can run code whatever ranvier does: share model files
(``model.save``, ``load_model``) with anyone you would not run code from.
"""

import importlib
import sys
import types

from .. import saving, serialization

__all__ = ["model_state", "config_state", "model_from_state"]

# The state keys (the first one predates the custom classes: old pickles still load).
_BYTES, _CONFIG, _CLASSES = "ranvier_model_bytes", "ranvier_model_config", "ranvier_custom_objects"


class _ClassRef:
    """A custom class (or registered function) a pickled model names.

    ``copy.deepcopy`` keeps the object itself; pickling keeps its import path,
    or nothing when that path does not lead back to it.
    """

    __slots__ = ("obj", "path")

    def __init__(self, obj=None, path=None):
        self.obj, self.path = obj, path

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        path = (self.obj.__module__, self.obj.__qualname__) if self.obj is not None else self.path
        if path is None or (self.obj is not None and _find(*path, import_module=False) is not self.obj):
            return (_ClassRef, ())
        return (_ClassRef, (None, path))

    def resolve(self):
        """The object, or None when its path cannot be followed."""
        if self.obj is not None:
            return self.obj
        return None if self.path is None else _find(*self.path, import_module=True)


def _find(module_name, qualname, import_module):
    """The class or function at ``module_name``.``qualname``, or None.

    The module comes from ``sys.modules``, else (``import_module``) from
    ``importlib.import_module`` by its dotted name; nothing else is imported.
    """
    if not (isinstance(module_name, str) and isinstance(qualname, str)) or "<locals>" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None and import_module:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
    obj = module
    for part in qualname.split(".") if module is not None else ():
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, (type, types.FunctionType)) else None


def _custom_objects(model):
    """``{name in the config: _ClassRef}`` for every class (and function) outside ranvier the model uses.

    Walks the model's attributes (no recursion: models thousands of layers deep) through
    containers and configurable objects, the ones ``get_config`` writes.
    """
    found, seen, stack = {}, set(), [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, types.FunctionType):
            _record(found, obj)
        elif hasattr(type(obj), "get_config") and hasattr(obj, "__dict__"):
            _record(found, type(obj))
            stack.extend(vars(obj).values())
    return found


def _record(found, obj):
    if (obj.__module__ or "").split(".")[0] != "ranvier":
        found[serialization.get_registered_name(obj)] = _ClassRef(obj)


def model_state(model):
    """The pickled state of a built model: its saved-model bytes and its custom classes."""
    return {_BYTES: saving.to_bytes(model), _CLASSES: _custom_objects(model)}


def config_state(model):
    """The pickled state of a model with no weights yet (an unbuilt ``Sequential``): its config."""
    config = {"class_name": serialization.get_registered_name(type(model)), "config": model.get_config()}
    compile_config = model._compile_config if model.compiled else None
    return {_CONFIG: config, "compile_config": compile_config, _CLASSES: _custom_objects(model)}


def model_from_state(state):
    """The model a :func:`model_state` or :func:`config_state` dict describes."""
    known = {}
    for name, ref in (state.get(_CLASSES) or {}).items():
        if serialization.get_registered_object(name) is None:  # scopes and the registry come first
            obj = ref.resolve()
            if obj is not None:
                known[name] = obj
    where = "a pickled model (unpickle it inside rv.saving.custom_object_scope({...}) for custom classes)"
    if _BYTES in state:
        return saving.from_bytes(state[_BYTES], custom_objects=known, where=where)
    config = state[_CONFIG]
    with serialization.custom_object_scope(known):
        cls = serialization.lookup(config["class_name"], "model", known)
        model = cls.from_config(config["config"], custom_objects=known)
    if state.get("compile_config"):
        saving._compile_from_config(model, state["compile_config"], known)  # the one compile-config codec
    return model
