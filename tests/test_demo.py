"""The README's first command: the demo separates the Gaussian mixture."""

import numpy as np

from ranvier.__main__ import main
from ranvier.api.datasets import make_gaussian_mixture
from ranvier.demo import weight_decay_experiment


def test_gaussian_mixture_is_reproducible_and_balanced():
    x, y = make_gaussian_mixture(200, seed=0)
    x2, y2 = make_gaussian_mixture(200, seed=0)
    assert x.shape == (200, 2) and np.array_equal(x, x2) and np.array_equal(y, y2)
    assert y.sum() == 100
    assert not np.array_equal(make_gaussian_mixture(200, seed=1)[0], x)


def test_demo_separates_the_mixture(capsys):
    results, _ = weight_decay_experiment()
    out = capsys.readouterr().out
    assert "weight decay" in out
    for _, train_acc, test_acc in results.values():
        # Bayes error of this mixture is ~25%: well above chance, below perfection.
        assert train_acc > 0.72 and test_acc > 0.65


def test_cli_help_exit_code(capsys):
    assert main([]) == 2
