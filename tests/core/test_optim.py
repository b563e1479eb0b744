"""The fused optimizer kernels against their NumPy twins (ranvier.reference.optim)."""

import numpy as np
import pytest

from ranvier.core import _optim
from ranvier.reference import optim as ref

N, N_DECAY = 5000, 3000
# Variable boundaries inside the flat buffer, including an empty one; the
# first chunk boundary of the kernel (8192) is crossed by the larger case.
SEGMENTS = np.array([0, 1200, 3000, 3000, 4100, N], dtype=np.intp)
NO_SCALE = (np.ones(1), np.array([0, N], dtype=np.intp))

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

# name -> (slot names, hyperparameters before the common tail, which slots a config leaves empty)
CASES = {
    "sgd": [
        dict(learning_rate=0.1, momentum=0.0, nesterov=False),
        dict(learning_rate=0.1, momentum=0.9, nesterov=False),
        dict(learning_rate=0.1, momentum=0.9, nesterov=True),
    ],
    "adagrad": [dict(learning_rate=0.05, epsilon=1e-7)],
    "rmsprop": [
        dict(learning_rate=0.01, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
        dict(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-7, centered=False),
        dict(learning_rate=0.01, rho=0.9, momentum=0.0, epsilon=1e-7, centered=True),
        dict(learning_rate=0.01, rho=0.9, momentum=0.9, epsilon=1e-7, centered=True),
    ],
    "adadelta": [dict(learning_rate=1.0, rho=0.95, epsilon=1e-6)],
    "adam": [
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7, amsgrad=True),
    ],
    "adamw": [
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=True),
    ],
    "nadam": [
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        dict(learning_rate=0.01, beta_1=0.0, beta_2=0.9, epsilon=1e-3),
    ],
    "adamax": [
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
    ],
    "lion": [
        dict(learning_rate=0.01, beta_1=0.9, beta_2=0.99),
        dict(learning_rate=0.01, beta_1=1.0, beta_2=0.0),
    ],
    "ftrl": [
        dict(
            learning_rate=0.1,
            learning_rate_power=-0.5,
            l1_regularization_strength=0.0,
            l2_regularization_strength=0.0,
            l2_shrinkage_regularization_strength=0.0,
            beta=0.0,
        ),
        dict(
            learning_rate=0.1,
            learning_rate_power=-0.7,
            l1_regularization_strength=0.05,
            l2_regularization_strength=0.1,
            l2_shrinkage_regularization_strength=0.2,
            beta=0.5,
        ),
    ],
}


def _u_product(beta_1, step):
    """Keras Nadam's running product of its momentum schedule, through ``step``."""
    return float(np.prod([beta_1 * (1 - 0.5 * 0.96**s) for s in range(1, step + 1)]))


def _slots(name, hp, n, dtype, rng):
    """The slot arrays of one configuration, unused ones empty; adagrad starts at 0.1."""
    empty = np.zeros(0, dtype)

    def z():
        return np.zeros(n, dtype)

    if name == "sgd":
        return [z() if hp["momentum"] else empty]
    if name == "adagrad":
        return [np.full(n, 0.1, dtype)]
    if name == "rmsprop":
        return [z(), z() if hp["momentum"] else empty, z() if hp["centered"] else empty]
    if name in ("adadelta", "nadam", "adamax"):
        return [z(), z()]
    if name == "lion":
        return [z()]
    if name == "ftrl":
        return [np.full(n, 0.1, dtype), z()]
    return [z(), z(), z() if hp["amsgrad"] else empty]


def _step_args(name, hp, step):
    hp = dict(hp)
    if name in ("adam", "adamw"):
        amsgrad = hp.pop("amsgrad")
        return list(hp.values()) + [step, amsgrad]
    if name == "adamax":
        return list(hp.values()) + [step]
    if name == "nadam":
        return list(hp.values()) + [step, _u_product(hp["beta_1"], step)]
    return list(hp.values())


def _run(fn, name, hp, w, grads, slots, clipvalue, weight_decay, n_decay, scale, seg, n_threads):
    for step, g in enumerate(grads, start=1):
        fn(w, g, *slots, *_step_args(name, hp, step), clipvalue, weight_decay, n_decay, scale, seg, n_threads)


CONFIGS = [(name, hp) for name, hps in CASES.items() for hp in hps]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,hp", CONFIGS)
@pytest.mark.parametrize("clip", ["none", "value", "scale"])
def test_kernel_matches_reference(name, hp, dtype, clip):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(N).astype(dtype)
    grads = [rng.standard_normal(N).astype(dtype) for _ in range(4)]
    clipvalue = 0.7 if clip == "value" else np.inf
    if clip == "scale":
        scale, seg = np.array([0.5, 1.0, 3.0, 0.25, 2.0]), SEGMENTS
    else:
        scale, seg = NO_SCALE
    results = []
    for fn in (getattr(_optim, f"{name}_update"), getattr(ref, f"{name}_update")):
        w, slots = w0.copy(), _slots(name, hp, N, dtype, rng)
        _run(fn, name, hp, w, grads, slots, clipvalue, 0.01, N_DECAY, scale, seg, 2)
        results.append([w] + slots)
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, **TOL[dtype])
    assert not np.allclose(results[0][0], w0), "the update must move the weights"


@pytest.mark.parametrize("name,hp", CONFIGS)
def test_weight_decay_only_below_n_decay(name, hp):
    """Entries past n_decay (biases) update exactly as with no decay at all."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(N)
    grads = [rng.standard_normal(N) for _ in range(3)]
    fn = getattr(_optim, f"{name}_update")
    out = {}
    for wd in (0.0, 0.1):
        w, slots = w0.copy(), _slots(name, hp, N, np.float64, rng)
        _run(fn, name, hp, w, grads, slots, np.inf, wd, N_DECAY, *NO_SCALE, 1)
        out[wd] = w
    np.testing.assert_array_equal(out[0.0][N_DECAY:], out[0.1][N_DECAY:])
    changed = out[0.0][:N_DECAY] != out[0.1][:N_DECAY]
    # Lion steps by signs (decay moves only the entries whose sign it flips) and
    # FTRL's l1 pins some weights at exactly 0.
    assert changed.any() if name in ("lion", "ftrl") else changed.all()


@pytest.mark.parametrize("name,hp", CONFIGS)
def test_large_buffer_and_thread_count_agree(name, hp):
    """Several parallel chunks: 1 and 2 threads give the same bits (elementwise update)."""
    n = 100_000  # >= 2 grains (32768), so two threads really run
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(2)]
    seg = np.array([0, 17_000, 40_001, n], dtype=np.intp)
    scale = np.array([0.3, 1.0, 2.0])
    fn = getattr(_optim, f"{name}_update")
    ws = []
    for n_threads in (1, 2):
        w, slots = w0.copy(), _slots(name, hp, n, np.float32, rng)
        _run(fn, name, hp, w, grads, slots, 1.5, 0.01, 30_000, scale, seg, n_threads)
        ws.append(w)
    np.testing.assert_array_equal(ws[0], ws[1])
    want, slots = w0.copy(), _slots(name, hp, n, np.float32, rng)
    _run(getattr(ref, f"{name}_update"), name, hp, want, grads, slots, 1.5, 0.01, 30_000, scale, seg, 1)
    np.testing.assert_allclose(ws[0], want, **TOL[np.float32])


def test_sgd_formula_by_hand():
    """Keras' momentum SGD, written out for two steps."""
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    lr, mu, wd = 0.1, 0.9, 0.5
    for nesterov in (False, True):
        w_, v_ = w.copy(), v.copy()
        for g in (g1, g2):
            _optim.sgd_update(w_, g, v_, lr, mu, nesterov, np.inf, wd, 1, *_no_scale(2), 1)
        ww, vv = w.copy(), v.copy()
        for g in (g1, g2):
            gg = g + np.array([wd * ww[0], 0.0])
            vv = mu * vv - lr * gg
            ww = ww + (mu * vv - lr * gg if nesterov else vv)
        np.testing.assert_allclose(w_, ww, rtol=1e-15)
        np.testing.assert_allclose(v_, vv, rtol=1e-15)


def test_adam_first_step_is_sign_step():
    """With m = v = 0, Adam's first step is lr * g / (|g| + eps / sqrt(1 - beta_2))."""
    g = np.array([3.0, -0.5, 1e-3])
    w = np.zeros(3)
    m, v = np.zeros(3), np.zeros(3)
    _optim.adam_update(w, g, m, v, np.zeros(0), 0.1, 0.9, 0.999, 1e-7, 1, False, np.inf, 0.0, 0, *_no_scale(3), 1)
    np.testing.assert_allclose(w, -0.1 * g / (np.abs(g) + 1e-7 / np.sqrt(0.001)), rtol=1e-12)


def test_nadam_first_step_by_hand():
    """Keras Nadam's first step from m = v = 0, written out."""
    g, w = np.array([2.0, -0.25]), np.array([1.0, 1.0])
    m, v = np.zeros(2), np.zeros(2)
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-7
    u1, u2 = b1 * (1 - 0.5 * 0.96), b1 * (1 - 0.5 * 0.96**2)
    _optim.nadam_update(w, g, m, v, lr, b1, b2, eps, 1, u1, np.inf, 0.0, 0, *_no_scale(2), 1)
    m_hat = u2 * (1 - b1) * g / (1 - u1 * u2) + (1 - u1) * g / (1 - u1)
    np.testing.assert_allclose(w, 1.0 - lr * m_hat / (np.abs(g) + eps), rtol=1e-12)


def test_lion_steps_are_signs_and_zero_stays():
    w, g, m = np.zeros(3), np.array([3.0, -1e-9, 0.0]), np.zeros(3)
    _optim.lion_update(w, g, m, 0.5, 0.9, 0.99, np.inf, 0.0, 0, *_no_scale(3), 1)
    np.testing.assert_array_equal(w, [-0.5, 0.5, 0.0])
    np.testing.assert_allclose(m, 0.01 * g, rtol=1e-15)


def test_ftrl_l1_zeroes_small_linear():
    """With l1 larger than |linear| the weight is exactly 0 (FTRL's sparsity)."""
    w, g = np.array([0.5, 0.5]), np.array([0.01, 5.0])
    acc, lin = np.full(2, 0.1), np.zeros(2)
    _optim.ftrl_update(w, g, acc, lin, 0.1, -0.5, 1.0, 0.0, 0.0, 0.0, np.inf, 0.0, 0, *_no_scale(2), 1)
    assert w[0] == 0.0 and w[1] != 0.0


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda a: _optim.nadam_update(*a[:4], 0.1, 0.9, 0.999, 1e-7, 0, 0.5, *_TAIL), "step must be >= 1.*got 0"),
        (lambda a: _optim.nadam_update(*a[:4], 0.1, 0.9, 0.999, 1e-7, 1, 1.0, *_TAIL), r"u_product .*got 1.0"),
        (lambda a: _optim.adamax_update(*a[:4], 0.1, 0.9, 1.0, 1e-7, 1, *_TAIL), r"be in \[0, 1\), got 0.9 and 1.0"),
        (lambda a: _optim.lion_update(*a[:3], 0.1, 1.5, 0.9, *_TAIL), r"be in \[0, 1\], got 1.5 and 0.9"),
        (lambda a: _optim.ftrl_update(*a[:4], 0.0, -0.5, 0, 0, 0, 0, *_TAIL), "learning_rate must be > 0.*got 0.0"),
        (
            lambda a: _optim.ftrl_update(*a[:4], 0.1, 0.5, 0, 0, 0, 0, *_TAIL),
            "learning_rate_power must be <= 0, got 0.5",
        ),
        (lambda a: _optim.ftrl_update(*a[:4], 0.1, -0.5, -1, 0, 0, 0, *_TAIL), r"be >= 0, got \(-1.0, 0.0, 0.0, 0.0\)"),
    ],
)
def test_new_kernels_reject_bad_hyperparameters(call, match):
    arrays = [np.ones(3), np.ones(3), np.ones(3), np.ones(3)]
    with pytest.raises(ValueError, match=match):
        call(arrays)
    np.testing.assert_array_equal(arrays[0], 1.0)


_TAIL = (np.inf, 0.0, 0, np.ones(1), np.array([0, 3], dtype=np.intp), 1)


def test_clipvalue_keeps_nan():
    w, g = np.zeros(2), np.array([np.nan, 5.0])
    _optim.sgd_update(w, g, np.zeros(0), 1.0, 0.0, False, 1.0, 0.0, 0, *_no_scale(2), 1)
    assert np.isnan(w[0]) and w[1] == -1.0


def _no_scale(n):
    return np.ones(1), np.array([0, n], dtype=np.intp)


# --- sum of squares -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_squares_matches_reference(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(N).astype(dtype)
    got, want = np.empty(5), np.empty(5)
    _optim.sum_squares(x, SEGMENTS, got, 2)
    ref.sum_squares(x, SEGMENTS, want)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[2] == 0.0


def test_sum_squares_bit_identical_across_threads():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(700_001) * np.exp(rng.uniform(-8, 8, 700_001))).astype(np.float32)
    seg = np.array([0, 5, 400_000, 400_000, 700_001], dtype=np.intp)
    outs = []
    for n_threads in (1, 2, 1, 2):
        out = np.empty(4)
        _optim.sum_squares(x, seg, out, n_threads)
        outs.append(out)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    np.testing.assert_allclose(
        outs[0][[0, 1, 3]],
        [np.sum(x[a:b].astype(np.float64) ** 2) for a, b in [(0, 5), (5, 400_000), (400_000, 700_001)]],
        rtol=1e-12,
    )


# --- bad input -------------------------------------------------------------------------------


def _sgd(w=None, g=None, vel=None, lr=0.1, mom=0.9, clip=np.inf, n_decay=0, scale=None, seg=None):
    w = np.zeros(4) if w is None else w
    g = np.zeros(4) if g is None else g
    vel = np.zeros(4) if vel is None else vel
    scale = np.ones(1) if scale is None else scale
    seg = np.array([0, 4], dtype=np.intp) if seg is None else seg
    _optim.sgd_update(w, g, vel, lr, mom, False, clip, 0.0, n_decay, scale, seg, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(g=np.zeros(5)), r"g must have shape \(4,\).*got \(5,\)"),
        (dict(vel=np.zeros(0)), r"sgd_update: velocity must have shape \(4,\), got \(0,\)"),
        (dict(vel=np.zeros(3), mom=0.0), r"velocity must have shape \(4,\) or \(0,\), got \(3,\)"),
        (dict(lr=-0.1), r"learning_rate must be >= 0, got -0.1"),
        (dict(lr=np.nan), r"learning_rate must be >= 0, got nan"),
        (dict(clip=0.0), r"clipvalue must be > 0 .*got 0.0"),
        (dict(n_decay=5), r"n_decay must be in \[0, 4\], got 5"),
        (dict(scale=np.ones(2)), r"segments must have len\(grad_scale\) \+ 1 = 3 entries"),
        (dict(seg=np.array([0, 3], dtype=np.intp)), r"segments must run from 0 to 4, got 0 to 3"),
        (
            dict(scale=np.ones(2), seg=np.array([0, 5, 4], dtype=np.intp)),
            r"non-decreasing, got segments\[2\] = 4 < segments\[1\] = 5",
        ),
    ],
)
def test_bad_input_raises_before_writing(kwargs, match):
    w = np.ones(4)
    with pytest.raises(ValueError, match=match):
        _sgd(w=w, **kwargs)
    np.testing.assert_array_equal(w, 1.0)


def test_adam_rejects_bad_step_and_betas():
    args = [np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(0)]
    with pytest.raises(ValueError, match="step must be >= 1.*got 0"):
        _optim.adam_update(*args, 0.1, 0.9, 0.999, 1e-7, 0, False, np.inf, 0.0, 0, *_no_scale(3), 1)
    with pytest.raises(ValueError, match=r"beta_1 and beta_2 must be in \[0, 1\), got 1.0"):
        _optim.adamw_update(*args, 0.1, 1.0, 0.999, 1e-7, 1, False, np.inf, 0.0, 0, *_no_scale(3), 1)


def test_mixed_dtypes_rejected():
    with pytest.raises((TypeError, ValueError)):
        _optim.sgd_update(
            np.zeros(3, np.float32),
            np.zeros(3),
            np.zeros(3, np.float32),
            0.1,
            0.9,
            False,
            np.inf,
            0.0,
            0,
            *_no_scale(3),
            1,
        )


def test_sum_squares_bad_segments():
    with pytest.raises(ValueError, match=r"segments must have len\(out\) \+ 1 = 2 entries, got 3"):
        _optim.sum_squares(np.zeros(4), np.array([0, 2, 4], dtype=np.intp), np.empty(1), 1)
    with pytest.raises(ValueError, match="segments must run from 0 to 4"):
        _optim.sum_squares(np.zeros(4), np.array([0, 3], dtype=np.intp), np.empty(1), 1)
