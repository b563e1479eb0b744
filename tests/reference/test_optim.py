"""ranvier.reference.optim against torch.optim and against the formulas written out by hand.

The kernels are tested against this reference in tests/core/test_optim.py.
Convention differences: torch puts Adam's and RMSprop's epsilon outside the
square root (Keras inside, or before the bias correction), so those cases use a
negligible epsilon; torch's momentum buffers are ranvier's divided by -lr (SGD)
or lr (RMSprop), equal updates at a constant rate.
"""

import math

import numpy as np
import pytest

from ranvier.reference import optim as ref

N, N_DECAY, STEPS = 40, 30, 6
TINY = 1e-30


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(N), [rng.standard_normal(N) for _ in range(STEPS)]


def _torch_run(make_opt, w0, grads):
    """Run a torch optimizer on (kernel, bias) = (w[:N_DECAY], w[N_DECAY:])."""
    torch = pytest.importorskip("torch")
    kernel = torch.tensor(w0[:N_DECAY], dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(w0[N_DECAY:], dtype=torch.float64, requires_grad=True)
    opt = make_opt(torch, kernel, bias)
    for g in grads:
        kernel.grad = torch.tensor(g[:N_DECAY], dtype=torch.float64)
        bias.grad = torch.tensor(g[N_DECAY:], dtype=torch.float64)
        opt.step()
    return np.concatenate([kernel.detach().numpy(), bias.detach().numpy()])


def _groups(kernel, bias, wd):
    """Weight decay on the kernel only, as ranvier's n_decay does."""
    return [{"params": [kernel], "weight_decay": wd}, {"params": [bias], "weight_decay": 0.0}]


def _ref_run(fn, w0, grads, slots, hyper, wd, clipvalue=math.inf):
    """``hyper(t)``: the hyperparameter arguments of step t (1-based)."""
    w = w0.copy()
    scale, seg = np.ones(1), np.array([0, N])
    for t, g in enumerate(grads, start=1):
        fn(w, g, *slots, *hyper(t), clipvalue, wd, N_DECAY, scale, seg)
    return w


def _zeros(k):
    return [np.zeros(N) for _ in range(k)]


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_torch(momentum, nesterov):
    w0, grads = _problem()
    want = _torch_run(
        lambda torch, k, b: torch.optim.SGD(_groups(k, b, 0.05), lr=0.1, momentum=momentum, nesterov=nesterov),
        w0,
        grads,
    )
    got = _ref_run(
        ref.sgd_update, w0, grads, [np.zeros(N) if momentum else np.zeros(0)], lambda t: [0.1, momentum, nesterov], 0.05
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adagrad_matches_torch():
    w0, grads = _problem(1)
    want = _torch_run(
        lambda torch, k, b: torch.optim.Adagrad(_groups(k, b, 0.05), lr=0.1, initial_accumulator_value=0.1, eps=TINY),
        w0,
        grads,
    )
    got = _ref_run(ref.adagrad_update, w0, grads, [np.full(N, 0.1)], lambda t: [0.1, TINY], 0.05)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True), (0.9, True)])
def test_rmsprop_matches_torch(momentum, centered):
    w0, grads = _problem(2)
    want = _torch_run(
        lambda torch, k, b: torch.optim.RMSprop(
            _groups(k, b, 0.05), lr=0.01, alpha=0.9, eps=TINY, momentum=momentum, centered=centered
        ),
        w0,
        grads,
    )
    slots = [np.zeros(N), np.zeros(N) if momentum else np.zeros(0), np.zeros(N) if centered else np.zeros(0)]
    got = _ref_run(ref.rmsprop_update, w0, grads, slots, lambda t: [0.01, 0.9, momentum, TINY, centered], 0.05)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_adadelta_matches_torch():
    """Same formula in both, epsilon included."""
    w0, grads = _problem(3)
    want = _torch_run(
        lambda torch, k, b: torch.optim.Adadelta(_groups(k, b, 0.05), lr=1.0, rho=0.9, eps=1e-6), w0, grads
    )
    got = _ref_run(ref.adadelta_update, w0, grads, _zeros(2), lambda t: [1.0, 0.9, 1e-6], 0.05)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw_match_torch(amsgrad, decoupled):
    w0, grads = _problem(4)
    grads = [g * s for g, s in zip(grads, [1.0, 0.1, 3.0, 0.01, 1.0, 0.5])]  # so amsgrad matters
    cls = "AdamW" if decoupled else "Adam"
    want = _torch_run(
        lambda torch, k, b: getattr(torch.optim, cls)(
            _groups(k, b, 0.1), lr=0.01, betas=(0.8, 0.99), eps=TINY, amsgrad=amsgrad
        ),
        w0,
        grads,
    )
    fn = ref.adamw_update if decoupled else ref.adam_update
    slots = _zeros(2) + [np.zeros(N) if amsgrad else np.zeros(0)]
    got = _ref_run(fn, w0, grads, slots, lambda t: [0.01, 0.8, 0.99, TINY, t, amsgrad], 0.1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_adam_keras_epsilon_by_hand():
    """Keras' Adam with a large epsilon, where its placement matters, written out per entry."""
    w0, grads = _problem(5)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 0.1
    want = w0.copy()
    m, v = np.zeros(N), np.zeros(N)
    for t, g in enumerate(grads, start=1):
        for i in range(N):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            want[i] -= alpha * m[i] / (math.sqrt(v[i]) + eps)
    got = _ref_run(ref.adam_update, w0, grads, _zeros(2) + [np.zeros(0)], lambda t: [lr, b1, b2, eps, t, False], 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_clipvalue_matches_torch_clip_grad_value():
    torch = pytest.importorskip("torch")
    w0, grads = _problem(6)
    kernel = torch.tensor(w0[:N_DECAY], requires_grad=True)
    bias = torch.tensor(w0[N_DECAY:], requires_grad=True)
    opt = torch.optim.SGD(_groups(kernel, bias, 0.05), lr=0.1, momentum=0.9)
    for g in grads:
        kernel.grad, bias.grad = torch.tensor(g[:N_DECAY]), torch.tensor(g[N_DECAY:])
        torch.nn.utils.clip_grad_value_([kernel, bias], 0.5)
        opt.step()
    want = np.concatenate([kernel.detach().numpy(), bias.detach().numpy()])
    got = _ref_run(ref.sgd_update, w0, grads, [np.zeros(N)], lambda t: [0.1, 0.9, False], 0.05, clipvalue=0.5)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sum_squares_segments():
    x = np.arange(10.0)
    out = np.empty(3)
    ref.sum_squares(x, np.array([0, 3, 3, 10]), out)
    np.testing.assert_array_equal(out, [5.0, 0.0, sum(i * i for i in range(3, 10))])
