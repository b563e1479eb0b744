"""Benchmark workloads (DESIGN.md W1-W4): each module builds the same network in
ranvier, in ranvier's NumPy reference and in PyTorch eager, and returns a
``step()`` callable for one training step."""
