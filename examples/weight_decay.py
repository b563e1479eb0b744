"""Weight decay smooths the decision boundary: the lecture's experiment.

A two-class Gaussian mixture of 200 training samples, an MLP with one hidden
layer of 50 tanh units, SGD (learning rate 0.1, momentum 0.9) and L2 weight
decay 1e-4, 1e-3 and 1e-2 on the kernels (the optimizer's coupled
``weight_decay``, never the biases). Prints train/test accuracies (the same
numbers as ``python -m ranvier demo``) and saves the three decision
boundaries side by side.

Usage::

    pip install "ranvier[examples]"      # matplotlib, for the figure
    python examples/weight_decay.py --output weight_decay.png
"""

import argparse
import sys

import numpy as np

from ranvier.demo import weight_decay_experiment


def plot(models, x, y, path):
    """Probability of class 1 over the plane, the 0.5 contour and the training points."""
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "The figure needs matplotlib: pip install 'ranvier[examples]' (or pip install matplotlib). "
            "The accuracies above do not."
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(np.float32)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.6), sharey=True)
    for ax, (wd, model) in zip(axes, models.items()):
        p = model.predict(grid, batch_size=4096)[:, 1].reshape(g0.shape)
        ax.contourf(g0, g1, p, levels=20, cmap="RdBu_r", alpha=0.35, vmin=0, vmax=1)
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=18, vmin=0, vmax=1)
        ax.set_title(f"weight decay {wd:g}")
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="30 epochs (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="weight_decay.png", help="PNG file for the figure")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 30

    results, (x_train, y_train, _, _) = weight_decay_experiment(epochs=args.epochs, seed=args.seed)
    models = {wd: model for wd, (model, _, _) in results.items()}
    plot(models, x_train, y_train, args.output)


if __name__ == "__main__":
    main()
