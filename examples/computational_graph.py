"""Backpropagation on a computational graph, as the lecture notes draw it.

Each elementary op records one node with its local derivative while
``rv.GradientTape`` is active; ``tape.gradient`` walks the nodes backward,
multiplying the upstream gradient by each local derivative (the chain rule).

1. ``f(x, y, z) = (x + y) * z`` at x = 1, y = -3, z = 4: the add gate gives
   q = -2, the multiply gate f = -8; backward, df/dq = z = 4 and
   df/dz = q = -2, and the add gate routes df/dq to x and y (4 each).
2. The sigmoid neuron ``f(w, x) = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))`` at
   w = (2, -3, -3), x = (-1, -2): f = 0.73 with dw = (-0.20, -0.39, 0.20)
   and dx = (0.39, -0.59), each gate applying its local derivative
   (1/u -> -1/u^2, u + 1 -> 1, exp -> exp, -u -> -1, a*u -> a).

Usage::

    python examples/computational_graph.py [--quick]
"""

import argparse

import numpy as np

import ranvier as rv
from ranvier import ops


def _table(title, rows):
    print(title)
    print(f"  {'node':<22} {'value':>18} {'gradient df/dnode':>24}")
    for name, value, grad in rows:
        print(
            f"  {name:<22} {np.array2string(np.asarray(value), precision=2):>18} "
            f"{np.array2string(np.asarray(grad), precision=2):>24}"
        )


def add_multiply():
    with rv.GradientTape() as tape:
        x, y, z = (tape.watch(np.array(v)) for v in (1.0, -3.0, 4.0))
        q = x + y
        f = q * z
    grads = tape.gradient(f, [x, y, z, q, f])
    _table("f(x, y, z) = (x + y) * z", zip(["x", "y", "z", "q = x + y", "f = q * z"], [x, y, z, q, f], grads))
    return float(np.asarray(f)), grads


def sigmoid_neuron():
    with rv.GradientTape() as tape:
        w = tape.watch(np.array([2.0, -3.0, -3.0]))
        x = tape.watch(np.array([-1.0, -2.0]))
        dot = w[0] * x[0] + w[1] * x[1] + w[2]
        neg = -dot
        e = ops.exp(neg)
        denom = e + 1.0
        f = 1.0 / denom
    names = ["w", "x", "w0*x0 + w1*x1 + w2", "-(.)", "exp(.)", "1 + (.)", "f = 1 / (.)"]
    nodes = [w, x, dot, neg, e, denom, f]
    grads = tape.gradient(f, nodes)
    _table("f(w, x) = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", zip(names, nodes, grads))
    return float(np.asarray(f)), grads[0], grads[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(the same: this example is instant)")
    parser.parse_args(argv)
    f, grads = add_multiply()
    print(f"f = {f:.0f}, df/dx = {grads[0]:.0f}, df/dy = {grads[1]:.0f}, df/dz = {grads[2]:.0f}\n")
    f, dw, dx = sigmoid_neuron()
    print(f"f = {f:.2f}, dw = {np.round(dw, 2).tolist()}, dx = {np.round(dx, 2).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
