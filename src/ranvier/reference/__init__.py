"""Plain NumPy twins of every compiled kernel, with the same signatures.

Tests compare the kernels with them; benchmarks time them as the NumPy
baseline. Import the submodule you need (``from ranvier.reference import conv``).
"""
