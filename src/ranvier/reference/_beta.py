"""The ``beta`` convention of the kernels' accumulating outputs, in NumPy."""

__all__ = ["scale_by_beta"]


def scale_by_beta(out, beta):
    """out *= beta in place, except that beta == 0 overwrites (as BLAS does: the old values,
    possibly uninitialised, are never read)."""
    if beta == 0:
        out[...] = 0
    else:
        out *= beta
