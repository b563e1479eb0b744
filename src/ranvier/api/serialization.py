"""One registry and one codec for every family of configurable objects.

Layers, models, losses, metrics, optimizers, learning-rate schedules,
activations, initializers, regularizers and constraints are all given as a
name (``"mse"``, ``"he_normal"``), a ``{"class_name", "config"}`` dict (what
saving writes), a class or an instance. Each family module registers its
built-in names here once, at import (:func:`register_family`); its public
``get`` / ``serialize`` / ``deserialize`` are thin calls into this module.
This module imports nothing from ranvier, so every family can import it.

Name lookup, in order: the ``custom_objects`` passed to the call, the
enclosing :class:`custom_object_scope` blocks, the objects registered with
:func:`register_keras_serializable` (or put in :func:`get_custom_objects`),
then the family's built-in names. Built-in names follow Keras 3's case rules:
exact, except optimizers (``"Adam"``, ``"adam"`` and ``"ADAM"`` all work).

Serialized form: ``{"class_name", "config"}``, plus ``"module"`` and
``"registered_name"`` (Keras 3's keys) for registered custom objects, so they
load by name without ``custom_objects``. Keras 3 configs with
``"module": "keras.layers", "registered_name": None`` read as well. Nothing
named in a config is ever imported: ``"module"`` is informational.
"""

import re
import threading
import types

__all__ = [
    "register_family",
    "snake_case",
    "lookup",
    "get",
    "serialize",
    "deserialize",
    "register_keras_serializable",
    "get_registered_object",
    "get_registered_name",
    "get_custom_objects",
    "CustomObjectScope",
    "custom_object_scope",
    "serialize_keras_object",
    "deserialize_keras_object",
]

_PLAIN_TYPES = (str, int, float, bool)
_FAMILIES = {}
# Keras 3's two global tables: "package>name" -> object, and back.
_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_SCOPES = threading.local()


class _Family:
    """What one family accepts; see :func:`register_family`."""

    def __init__(self, key, base, names, title, fold_case, optional, coerce, serializer):
        self.key, self.base, self.title = key, base, title
        self.fold_case, self.optional, self.coerce, self.serializer = fold_case, optional, coerce, serializer
        self.names = {name.lower(): obj for name, obj in names.items()} if fold_case else names

    def builtin(self, name):
        return self.names.get(name.lower() if self.fold_case else name)

    def base_name(self):
        return self.base.__name__ if isinstance(self.base, type) else self.base[0].__name__


def register_family(
    key,
    base,
    classes=(),
    aliases=None,
    *,
    snake_names=False,
    title=None,
    fold_case=False,
    optional=False,
    coerce=None,
    serializer=None,
):
    """Declare a family and its built-in names (each family module calls this once, at import).

    Parameters
    ----------
    key : str
        ``"layer"``, ``"loss"``, ``"metric"``, ``"optimizer"``, ``"schedule"``, ``"activation"``,
        ``"initializer"``, ``"regularizer"``, ``"constraint"`` or ``"model"``.
    base : type or tuple of types
        Instances are members as they are; classes deriving from it are instantiated.
    classes : iterable of types
        Built-in classes, known by their ``__name__``.
    aliases : dict[str, object], optional
        More names: Keras' short names (``"mse"``), or name -> an object with
        ``from_config(config)`` for members that are not classes (activations).
    snake_names : bool, default False
        Also know each class by its snake_case name (``"he_normal"``), as Keras 3 does for
        initializers, regularizers, constraints and metrics.
    title : str, optional
        The family in messages (default: ``key``).
    fold_case : bool, default False
        Built-in names match case-insensitively (Keras 3 does this for optimizers only).
    optional : bool, default False
        ``None`` is a valid identifier and gives ``None``.
    coerce : callable, optional
        ``coerce(obj)`` turns a callable that is not a member (a plain function) into one, or
        raises ``TypeError``; without it such callables are refused.
    serializer : callable, optional
        ``serializer(obj)`` for members needing a special form (None: the generic one).
    """
    names = {cls.__name__: cls for cls in classes}
    if snake_names:
        names.update({snake_case(cls.__name__): cls for cls in classes})
    names.update(aliases or {})
    _FAMILIES[key] = _Family(key, base, names, title or key, fold_case, optional, coerce, serializer)


def register_builtin(key, obj, name=None):
    """Add one built-in member to family ``key`` (a class defined below the family's module)."""
    _family(key).names[name or obj.__name__] = obj


def _family(key):
    try:
        return _FAMILIES[key]
    except KeyError:
        raise ValueError(f"family must be one of {sorted(_FAMILIES)}, got {key!r}") from None


def snake_case(name):
    """Keras 3's ``to_snake_case``: ``TopKCategoricalAccuracy`` -> ``top_k_categorical_accuracy``.

    A digit does not start a word: ``Conv2DTranspose`` -> ``conv2d_transpose``, ``L1L2`` -> ``l1l2``.
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ------------------------------------------------------------ custom objects
class CustomObjectScope:
    """Names visible to deserialization inside a ``with`` block (Keras 3's ``custom_object_scope``).

    Parameters
    ----------
    custom_objects : dict[str, object], optional
        ``{"MyLayer": MyLayer}``. Nested scopes add to the enclosing ones (the inner wins), and a
        scope belongs to the thread that entered it.
    """

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_objects must be a dict, got {custom_objects!r}")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc_info):
        _scope_stack().pop()


custom_object_scope = CustomObjectScope


def _scope_stack():
    stack = getattr(_SCOPES, "stack", None)
    if stack is None:
        stack = _SCOPES.stack = []
    return stack


def get_custom_objects():
    """The live global dict of registered objects (``"package>name"`` -> object); edits take effect."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Class or function decorator: register the object under ``"package>name"``.

    A registered custom layer, loss, metric, ... is then written with its
    registered name and loads by it, with no ``custom_objects``. ``name``
    defaults to the object's ``__name__``. Registering the same key again
    replaces the earlier object (re-running a notebook cell).

    Raises
    ------
    ValueError
        For a class without ``get_config`` (it could not be saved), or a ``package`` or ``name``
        containing ``">"``.
    """
    for arg, value in (("package", package), ("name", name)):
        if value is not None and (not isinstance(value, str) or ">" in value):
            raise ValueError(f"register_keras_serializable: {arg} must be a string without '>', got {value!r}")

    def decorator(obj):
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a class needs a get_config() method to be serialized")
        key = f"{package}>{name if name is not None else obj.__name__}"
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj):
    """The name ``obj`` is registered under, else its ``__name__``."""
    return _registered_key(obj) or obj.__name__


def function_name(fn, where):
    """The name a model file stores for the function ``fn`` (a loss, metric or Lambda function).

    Files never hold code, so ``fn`` must be registered; ``where`` names the owner in the error.
    """
    name = get_registered_name(fn)
    if get_registered_object(name) is not fn:
        raise ValueError(
            f"{where}: a model file names its functions, so this one must be registered (define it "
            f"with def and decorate it with @rv.saving.register_keras_serializable()), got a lambda "
            f"expression or an unregistered function: {fn!r}"
        )
    return name


def registered_function(name, where):
    """The function a model file names (``function_name``'s inverse)."""
    fn = get_registered_object(name)
    if fn is None:
        raise ValueError(
            f"{where}: the function {name!r} is not registered: decorate it with "
            "@rv.saving.register_keras_serializable() or pass it in custom_objects"
        )
    return fn


def _registered_key(obj):
    # A key dropped from get_custom_objects() (or taken over by another object) no longer counts.
    key = _GLOBAL_CUSTOM_NAMES.get(obj)
    return key if key is not None and _GLOBAL_CUSTOM_OBJECTS.get(key) is obj else None


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered, scoped or passed under ``name``, or None (Keras 3's lookup order:
    scopes, registered objects, ``custom_objects``, ``module_objects``)."""
    for source in (*reversed(_scope_stack()), _GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in source:
            return source[name]
    return None


def _custom(name, custom_objects):
    for source in (custom_objects or {}, *reversed(_scope_stack()), _GLOBAL_CUSTOM_OBJECTS):
        obj = source.get(name)
        if obj is not None:
            return obj
    return None


# -------------------------------------------------------------------- lookup
def lookup(name, family, custom_objects=None):
    """The class (or function) a name stands for in ``family``.

    Raises
    ------
    ValueError
        For an unknown name; the message names the family and the value and says how to make a
        custom object known.
    """
    fam = _family(family)
    obj = _custom(name, custom_objects)
    if obj is not None:
        return _check_member(obj, fam, name)
    obj = fam.builtin(name)
    if obj is None:
        case = " (in any case)" if fam.fold_case else ""
        raise ValueError(
            f"Unknown {fam.title}: {name!r}. Known: {sorted(fam.names)}{case}. "
            f"A custom {fam.title} needs custom_objects={{{name!r}: ...}} or "
            "@ranvier.saving.register_keras_serializable()"
        )
    return obj


def _check_member(obj, fam, name):
    is_class = isinstance(obj, type)
    if (is_class and issubclass(obj, fam.base)) or (not is_class and fam.coerce is not None and callable(obj)):
        return obj
    raise TypeError(
        f"{name!r} names {obj!r}, which is not a {fam.title} (a {fam.base_name()} subclass"
        f"{' or a function' if fam.coerce else ''})"
    )


def _instantiate(entry, config, fam, name):
    if not hasattr(entry, "from_config") and not isinstance(entry, type):
        return entry  # a function: the family decides (coerce) what it becomes
    try:
        return entry.from_config(dict(config)) if hasattr(entry, "from_config") else entry(**config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot rebuild {fam.title} {name!r} from config {config!r}: {exc}") from None


def get(identifier, family, custom_objects=None):
    """A member of ``family`` from a name, a config dict, a class, an instance or (where the family
    allows it) a function.

    Raises
    ------
    ValueError
        For an unknown name or config.
    TypeError
        For anything else.
    """
    fam = _family(family)
    if identifier is None and fam.optional:
        return None
    if isinstance(identifier, fam.base):
        return identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier, family, custom_objects)
    elif isinstance(identifier, str):
        obj = _instantiate(lookup(identifier, family, custom_objects), {}, fam, identifier)
    elif isinstance(identifier, type) and issubclass(identifier, fam.base):
        return identifier()
    else:
        obj = identifier
    if isinstance(obj, fam.base):
        return obj
    if fam.coerce is not None and callable(obj) and not isinstance(obj, type):
        return fam.coerce(obj)
    allowed = "None, " if fam.optional else ""
    raise TypeError(f"{fam.title} must be {allowed}a name, a config dict or a {fam.base_name()}, got {identifier!r}")


# --------------------------------------------------------------------- codec
def serialize(obj, family=None):
    """``{"class_name", "config"}`` of ``obj`` (JSON types), with ``"module"`` and
    ``"registered_name"`` for a registered class; a function gives Keras 3's
    ``{"class_name": "function", "config": name, ...}``. None gives None."""
    if obj is None:
        return None
    if family is not None:
        fam = _family(family)
        if fam.serializer is not None:
            return fam.serializer(obj)
        if not isinstance(obj, fam.base) and not (fam.coerce is not None and isinstance(obj, types.FunctionType)):
            raise TypeError(f"serialize expects a {fam.title} ({fam.base_name()}), got {obj!r}")
    if isinstance(obj, types.FunctionType):
        return {
            "module": obj.__module__,
            "class_name": "function",
            "config": obj.__name__,
            "registered_name": get_registered_name(obj),
        }
    cls = type(obj)
    config = {"class_name": cls.__name__, "config": obj.get_config()}
    registered = _registered_key(cls)
    if registered is not None:
        config.update(module=cls.__module__, registered_name=registered)
    return config


def deserialize(config, family, custom_objects=None):
    """The member of ``family`` a :func:`serialize` dict (or a name) describes.

    ``custom_objects`` are visible to the nested objects too (a wrapper's inner layer, an
    optimizer's schedule).
    """
    fam = _family(family)
    if config is None and fam.optional:
        return None
    if isinstance(config, str):
        return get(config, family, custom_objects)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"A {fam.title} config is a dict with 'class_name' and 'config', got {config!r}")
    inner = config.get("config") or {}
    if config["class_name"] == "function":
        name, inner = config.get("registered_name") or inner, {}
    else:
        registered = config.get("registered_name")
        name = registered if registered and _custom(registered, custom_objects) is not None else config["class_name"]
    if not isinstance(inner, dict) or not isinstance(name, str):
        raise ValueError(f"A {fam.title} config is a dict with 'class_name' and 'config', got {config!r}")
    entry = lookup(name, family, custom_objects)
    with CustomObjectScope(custom_objects):
        return _instantiate(entry, inner, fam, name)


# -------------------------------------------------------- Keras 3 front door
def serialize_keras_object(obj):
    """Keras 3's ``serialize_keras_object``: plain values, lists and dicts as they are (recursively),
    objects of any family as :func:`serialize` gives them."""
    if obj is None or isinstance(obj, _PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "ndim", None) == 0:
        return obj.item()  # NumPy scalars
    for fam in _FAMILIES.values():
        if isinstance(obj, fam.base):
            config = serialize(obj, fam.key)
            # Keras 3 names the module of every object; it tells a loss from the metric of the
            # same class name (MeanSquaredError, SparseCategoricalCrossentropy) when read back.
            if isinstance(config, dict) and "module" not in config and fam.key in _FAMILY_MODULES:
                config = {"module": f"keras.{_FAMILY_MODULES[fam.key]}", **config}
            return config
    if isinstance(obj, types.FunctionType) or hasattr(obj, "get_config"):
        return serialize(obj)
    raise TypeError(f"Cannot serialize {obj!r}: an object needs a get_config() method")


# Keras 3 "module" values ("keras.losses", "ranvier.losses") -> family.
_MODULE_FAMILIES = {
    "layers": "layer",
    "models": "model",
    "losses": "loss",
    "metrics": "metric",
    "optimizers": "optimizer",
    "schedules": "schedule",
    "activations": "activation",
    "initializers": "initializer",
    "regularizers": "regularizer",
    "constraints": "constraint",
}
_FAMILY_MODULES = {family: module for module, family in _MODULE_FAMILIES.items()}


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None):
    """Keras 3's ``deserialize_keras_object``: the inverse of :func:`serialize_keras_object`.

    The family comes from the config's ``"module"`` when it names one, else from the one family
    that knows the name. ``module_objects`` (name -> class) is looked up after the registries.
    ``safe_mode=False`` is refused: ranvier never runs code from a config, which is what
    ``safe_mode=True`` asks.
    """
    if safe_mode is not True:
        raise NotImplementedError(
            f"deserialize_keras_object: safe_mode must be True (ranvier never "
            f"evaluates code from a config), got {safe_mode!r}"
        )
    if config is None or isinstance(config, _PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, module_objects=module_objects) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {
            key: deserialize_keras_object(value, custom_objects, module_objects=module_objects)
            for key, value in config.items()
        }
    if module_objects:
        custom_objects = {**module_objects, **(custom_objects or {})}
    return deserialize(config, _family_of(config, custom_objects), custom_objects)


def _family_of(config, custom_objects):
    module = config.get("module") or ""
    family = _MODULE_FAMILIES.get(module.rsplit(".", 1)[-1])
    if family is not None and module.split(".", 1)[0] in ("keras", "ranvier"):
        return family
    name = config.get("registered_name") or config["class_name"]
    if config["class_name"] == "function":
        name = config.get("registered_name") or config["config"]
    custom = _custom(name, custom_objects) or _custom(config["class_name"], custom_objects)
    matches = [
        fam.key
        for fam in sorted(_FAMILIES.values(), key=lambda fam: fam.key)
        if (custom is not None and _is_member(custom, fam)) or (custom is None and fam.builtin(name))
    ]
    if len(matches) == 1:
        return matches[0]
    what = f"{len(matches)} families ({', '.join(matches)})" if matches else "no family"
    raise ValueError(
        f'Cannot tell what {name!r} is: it belongs to {what}. Give its "module" '
        f'("keras.losses") or use the family\'s deserialize (rv.losses.deserialize), '
        f"got {config!r}"
    )


def _is_member(obj, fam):
    return isinstance(obj, type) and issubclass(obj, fam.base)
