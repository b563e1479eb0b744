"""The two-class Gaussian mixture of the lecture notes: a small built-in data set (no download)."""

import numpy as np

__all__ = ["make_gaussian_mixture"]


def make_gaussian_mixture(n_samples=200, seed=0, n_centers=10, variance=0.2):
    """The two-class Gaussian mixture of the lecture notes (Hastie et al., ESL 2.3.3).

    Each class is a mixture of ``n_centers`` Gaussians whose means are drawn
    once (fixed, whatever ``seed``) from N((1, 0), I) for class 0 and
    N((0, 1), I) for class 1; a sample picks a class, then one of its means at
    random, and adds N(0, variance * I) noise. The boundary between the
    classes is curved, so a linear model cannot separate them; the Bayes error
    is about 20%.

    Parameters
    ----------
    n_samples : int, default 200
        Balanced: half of each class (class 1 gets the extra one if odd).
    seed : int, default 0
        Seed of the samples (the means never change): use two seeds for a
        train and a test set.

    Returns
    -------
    x : ndarray of shape (n_samples, 2), float32
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"make_gaussian_mixture: n_samples must be an integer >= 2, got {n_samples!r}")
    means_rng = np.random.default_rng(20_000_101)
    means = np.stack(
        [means_rng.normal((1.0, 0.0), 1.0, (n_centers, 2)), means_rng.normal((0.0, 1.0), 1.0, (n_centers, 2))]
    )
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], [n_samples // 2, n_samples - n_samples // 2])
    rng.shuffle(y)
    centers = rng.integers(0, n_centers, n_samples)
    x = means[y, centers] + rng.normal(0.0, np.sqrt(variance), (n_samples, 2))
    return x.astype(np.float32), y.astype(np.int64)
