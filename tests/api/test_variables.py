import numpy as np
import pytest

from ranvier.api.variables import Variable, grad_targets


def _var(name="w", trainable=True):
    return Variable(name, np.zeros(3), trainable=trainable)


def test_grad_target_overwrites_first_then_accumulates():
    v = _var()
    v._fresh = True  # what the model does at the start of a step
    grad, beta = v.grad_target()
    assert grad is v.grad and beta == 0.0
    assert v.grad_target()[1] == 1.0


def test_accumulate_grad_sums_the_writes_of_one_step():
    v = _var()
    v.grad[...] = np.nan  # the first write of a step never reads the old values
    v._fresh = True
    v.accumulate_grad(np.array([1.0, 2.0, 3.0]))
    v.accumulate_grad(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(v.grad, [2.0, 3.0, 4.0])
    _var(trainable=False).accumulate_grad(np.ones(3))  # no gradient: nothing to write


def test_grad_targets_share_one_beta_and_pass_none_through():
    a, b = _var("a"), _var("b")
    (ga, none, gb), beta = grad_targets(a, None, b)
    assert ga is a.grad and none is None and gb is b.grad and beta == 0.0
    assert grad_targets(a, b)[1] == 1.0
    assert grad_targets(None) == ([None], 0.0)
    a._fresh = True
    with pytest.raises(RuntimeError, match="all be fresh"):
        grad_targets(a, b)
