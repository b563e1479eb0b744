"""Compiled kernels: compute only, no Python objects (see docs/architecture.md)."""
