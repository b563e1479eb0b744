"""The error for Keras arguments (or values) ranvier accepts by name but does not implement."""

__all__ = ["UnsupportedArgument"]


class UnsupportedArgument(NotImplementedError, ValueError):
    """A Keras argument value ranvier does not implement (``data_format="channels_first"``, ``groups=2``).

    A ``NotImplementedError``, as every unsupported Keras argument raises; also a
    ``ValueError``, which these raised before, so existing handlers still catch it.
    """
