# The float types every kernel is written for (float32 and float64, never mixed).
# Kept apart from _blas.pxd so kernels that need no BLAS do not import scipy.linalg.
ctypedef fused floating:
    float
    double
