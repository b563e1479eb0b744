"""One lookup for every family of named, configurable objects.

Initializers, regularizers and constraints are all given as a Keras name
(``"he_normal"``, ``"l2"``, ``"max_norm"``), a class name, a
``{"class_name", "config"}`` dict (what saving writes) or an instance; a
:class:`Registry` turns any of these into the object, and back.
"""

__all__ = ["Registry"]


class Registry:
    """Names, classes and (de)serialization of one family.

    Parameters
    ----------
    kind : str
        What the family is called in error messages (``"initializer"``).
    base : type
        Instances of it are returned as they are.
    aliases : dict[str, type]
        Lower-case Keras names; class names are accepted too.
    optional : bool
        Whether ``None`` is a valid identifier (no regularizer, no constraint).
    """

    def __init__(self, kind, base, aliases, optional=False):
        self.kind, self.base, self.aliases, self.optional = kind, base, aliases, optional
        self.classes = {cls.__name__: cls for cls in aliases.values()}

    def serialize(self, obj):
        if obj is None:
            return None
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, config):
        cls = self.classes.get(config.get("class_name")) if isinstance(config, dict) else None
        if cls is None:
            raise ValueError(f"Unknown {self.kind} config: {config!r}")
        return cls.from_config(config.get("config", {}))

    def get(self, identifier):
        """The object for a name, a class name, a config dict or an instance."""
        if isinstance(identifier, self.base) or (identifier is None and self.optional):
            return identifier
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, str):
            cls = self.aliases.get(identifier.lower()) or self.classes.get(identifier)
            if cls is None:
                raise ValueError(f"Unknown {self.kind}: {identifier!r}. Known: {sorted(self.aliases)}")
            return cls()
        allowed = "None, " if self.optional else ""
        raise TypeError(f"{self.kind} must be {allowed}a string, a config dict or a {self.base.__name__}, "
                        f"got {identifier!r}")
