"""Recurrent kernels vs their NumPy twins, and the kernels' own input checks."""

import numpy as np
import pytest
import scipy.special

from ranvier.core import _recurrent
from ranvier.reference import recurrent as ref

T, B, N_IN, U = 6, 4, 3, 5
CODES = _recurrent.ACTIVATIONS


def _common(rng, gates, dtype, masked, rec_dropout):
    x = rng.standard_normal((T, B, N_IN)).astype(dtype)
    kernel = (0.5 * rng.standard_normal((N_IN, gates * U))).astype(dtype)
    rec = (0.5 * rng.standard_normal((U, gates * U))).astype(dtype)
    mask = (rng.random((T, B)) > 0.3).astype(np.uint8) if masked else np.zeros((0, 0), np.uint8)
    rm = (2 * rng.random((B, U))).astype(dtype) if rec_dropout else np.zeros((0, 0), dtype)
    h_rec = np.zeros((T, B, U) if rec_dropout else (0, 0, 0), dtype)
    return x, kernel, rec, mask, rm, h_rec


def _close(got, want, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


CASES = pytest.mark.parametrize("dtype", [np.float32, np.float64])
MASKS = pytest.mark.parametrize(
    "masked, rec_dropout, seq", [(False, False, False), (True, False, True), (False, True, True), (True, True, False)]
)


@CASES
@MASKS
@pytest.mark.parametrize("act, ract", [("tanh", "sigmoid"), ("relu", "hard_sigmoid"), ("linear", "sigmoid")])
def test_lstm_matches_reference(dtype, masked, rec_dropout, seq, act, ract):
    rng = np.random.default_rng(0)
    x, kernel, rec, mask, rm, _ = _common(rng, 4, dtype, masked, rec_dropout)
    bias = rng.standard_normal(4 * U).astype(dtype)
    h0, c0 = rng.standard_normal((2, B, U)).astype(dtype)
    dseq = rng.standard_normal((T, B, U) if seq else (0, 0, 0)).astype(dtype)
    dh_in, dc_in = rng.standard_normal((2, B, U)).astype(dtype)
    results = []
    for mod in (_recurrent, ref):
        gates = np.empty((T, B, 4 * U), dtype)
        h, c = np.empty((T + 1, B, U), dtype), np.empty((T + 1, B, U), dtype)
        h[0], c[0] = h0, c0
        act_c = np.empty((T, B, U), dtype)
        h_rec = np.zeros_like(_common(rng, 4, dtype, masked, rec_dropout)[5])
        mod.lstm_forward(x, kernel, rec, bias, mask, rm, gates, h, c, act_c, h_rec, CODES[act], CODES[ract], 2)
        dh, dc = dh_in.copy(), dc_in.copy()
        dgates = np.empty_like(gates)
        dk, dr, db = np.ones_like(kernel), np.ones_like(rec), np.ones_like(bias)
        dx = np.empty_like(x)
        mod.lstm_backward(
            x,
            kernel,
            rec,
            mask,
            rm,
            gates,
            h,
            c,
            act_c,
            h_rec,
            dseq,
            dh,
            dc,
            dgates,
            dk,
            dr,
            db,
            dx,
            1.0,
            True,
            CODES[act],
            CODES[ract],
            2,
        )
        results.append((gates, h, c, act_c, h_rec, dh, dc, dgates, dk, dr, db, dx))
    _close(*results, dtype)


@CASES
@MASKS
def test_gru_matches_reference(dtype, masked, rec_dropout, seq):
    rng = np.random.default_rng(1)
    x, kernel, rec, mask, rm, _ = _common(rng, 3, dtype, masked, rec_dropout)
    bias = rng.standard_normal((2, 3 * U)).astype(dtype)
    h0 = rng.standard_normal((B, U)).astype(dtype)
    dseq = rng.standard_normal((T, B, U) if seq else (0, 0, 0)).astype(dtype)
    dh_in = rng.standard_normal((B, U)).astype(dtype)
    results = []
    for mod in (_recurrent, ref):
        gates, recs = np.empty((T, B, 3 * U), dtype), np.empty((T, B, 3 * U), dtype)
        h = np.empty((T + 1, B, U), dtype)
        h[0] = h0
        h_rec = np.zeros((T, B, U) if rec_dropout else (0, 0, 0), dtype)
        mod.gru_forward(x, kernel, rec, bias, mask, rm, gates, recs, h, h_rec, 1, 2, 2)
        dh = dh_in.copy()
        dgates, drec = np.empty_like(gates), np.empty_like(gates)
        dk, dr, dx = np.zeros_like(kernel), np.zeros_like(rec), np.empty_like(x)
        db = np.empty(6 * U, dtype)
        mod.gru_backward(
            x, kernel, rec, mask, rm, gates, recs, h, h_rec, dseq, dh, dgates, drec, dk, dr, db, dx, 0.0, True, 1, 2, 2
        )
        results.append((gates, recs, h, h_rec, dh, dgates, drec, dk, dr, db, dx))
    _close(*results, dtype)


@CASES
@MASKS
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_simple_rnn_matches_reference(dtype, masked, rec_dropout, seq, act):
    rng = np.random.default_rng(2)
    x, kernel, rec, mask, rm, _ = _common(rng, 1, dtype, masked, rec_dropout)
    bias = rng.standard_normal(U).astype(dtype)
    dseq = rng.standard_normal((T, B, U) if seq else (0, 0, 0)).astype(dtype)
    results = []
    for mod in (_recurrent, ref):
        z, h = np.empty((T, B, U), dtype), np.zeros((T + 1, B, U), dtype)
        h_rec = np.zeros((T, B, U) if rec_dropout else (0, 0, 0), dtype)
        mod.simple_rnn_forward(x, kernel, rec, bias, mask, rm, z, h, h_rec, CODES[act], 2)
        dh = np.ones((B, U), dtype)
        dgates, dk, dr, dx = np.empty((T, B, U), dtype), np.zeros_like(kernel), np.zeros_like(rec), np.empty_like(x)
        db = np.empty(U, dtype)
        mod.simple_rnn_backward(
            x, kernel, rec, mask, rm, h, h_rec, dseq, dh, dgates, dk, dr, db, dx, 0.0, True, CODES[act], 2
        )
        results.append((h, h_rec, dh, dgates, dk, dr, db, dx))
    _close(*results, dtype)


@pytest.mark.parametrize("act, fn", [("tanh", np.tanh), ("sigmoid", scipy.special.expit)])
def test_float32_activations_match_scipy(act, fn):
    # The float32 path uses polynomial exp/tanh: check them over the whole range, saturation included.
    z = np.concatenate([np.linspace(-100, 100, 20001), np.linspace(-1, 1, 20001), [0.0, -0.0, 1e-30]])
    x = z.astype(np.float32).reshape(1, -1, 1)  # one step, one unit, the values along the batch
    h = np.zeros((2, x.shape[1], 1), np.float32)
    _recurrent.simple_rnn_forward(
        x,
        np.ones((1, 1), np.float32),
        np.zeros((1, 1), np.float32),
        np.zeros(1, np.float32),
        np.zeros((0, 0), np.uint8),
        np.zeros((0, 0), np.float32),
        np.empty((1, x.shape[1], 1), np.float32),
        h,
        np.zeros((0, 0, 0), np.float32),
        CODES[act],
        1,
    )
    want = fn(x[0, :, 0].astype(np.float64))
    np.testing.assert_allclose(h[1, :, 0], want, rtol=3e-7, atol=3e-8)


def test_masked_steps_carry_the_state():
    rng = np.random.default_rng(3)
    x, kernel, rec, _, rm, h_rec = _common(rng, 4, np.float64, False, False)
    mask = np.ones((T, B), np.uint8)
    mask[2:4, 1] = 0
    h, c = np.zeros((T + 1, B, U)), np.zeros((T + 1, B, U))
    _recurrent.lstm_forward(
        x, kernel, rec, np.zeros(4 * U), mask, rm, np.empty((T, B, 4 * U)), h, c, np.empty((T, B, U)), h_rec, 1, 2, 1
    )
    np.testing.assert_array_equal(h[3, 1], h[2, 1])
    np.testing.assert_array_equal(h[4, 1], h[2, 1])
    np.testing.assert_array_equal(c[4, 1], c[2, 1])
    assert not np.array_equal(h[4, 0], h[2, 0])


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(4)
    Tb, Bb, Ub = 3, 300, 256  # large enough for the gate kernels to go parallel
    x = rng.standard_normal((Tb, Bb, 8)).astype(np.float32)
    kernel = rng.standard_normal((8, 4 * Ub)).astype(np.float32) * 0.2
    rec = rng.standard_normal((Ub, 4 * Ub)).astype(np.float32) * 0.1
    outs = []
    for threads in (1, 2):
        h, c = np.zeros((Tb + 1, Bb, Ub), np.float32), np.zeros((Tb + 1, Bb, Ub), np.float32)
        _recurrent.lstm_forward(
            x,
            kernel,
            rec,
            np.zeros(4 * Ub, np.float32),
            np.zeros((0, 0), np.uint8),
            np.zeros((0, 0), np.float32),
            np.empty((Tb, Bb, 4 * Ub), np.float32),
            h,
            c,
            np.empty((Tb, Bb, Ub), np.float32),
            np.zeros((0, 0, 0), np.float32),
            1,
            2,
            threads,
        )
        outs.append(h)
    np.testing.assert_array_equal(outs[0], outs[1])


def _run_cell(cell, mod, threads, x, kernel, rec, bias, mask, rm, dseq):
    """Forward then backward of one cell kind; every output, in a tuple."""
    (T_, B_, _), u, dtype = x.shape, rec.shape[0], x.dtype
    h, h_rec = np.zeros((T_ + 1, B_, u), dtype), np.empty((T_, B_, u), dtype)
    dh = np.ones((B_, u), dtype)
    dk, dr, dx = np.empty_like(kernel), np.empty_like(rec), np.empty_like(x)
    db = np.empty(bias.size, dtype)
    if cell == "lstm":
        gates, act_c, c = np.empty((T_, B_, 4 * u), dtype), np.empty((T_, B_, u), dtype), np.zeros_like(h)
        mod.lstm_forward(x, kernel, rec, bias, mask, rm, gates, h, c, act_c, h_rec, 1, 2, threads)
        dc, dgates = np.zeros_like(dh), np.empty_like(gates)
        mod.lstm_backward(
            x,
            kernel,
            rec,
            mask,
            rm,
            gates,
            h,
            c,
            act_c,
            h_rec,
            dseq,
            dh,
            dc,
            dgates,
            dk,
            dr,
            db,
            dx,
            0.0,
            True,
            1,
            2,
            threads,
        )
        return h, c, dh, dc, dgates, dk, dr, db, dx
    if cell == "gru":
        gates, recs = np.empty((T_, B_, 3 * u), dtype), np.empty((T_, B_, 3 * u), dtype)
        mod.gru_forward(x, kernel, rec, bias, mask, rm, gates, recs, h, h_rec, 1, 2, threads)
        dgates, drec = np.empty_like(gates), np.empty_like(gates)
        mod.gru_backward(
            x,
            kernel,
            rec,
            mask,
            rm,
            gates,
            recs,
            h,
            h_rec,
            dseq,
            dh,
            dgates,
            drec,
            dk,
            dr,
            db,
            dx,
            0.0,
            True,
            1,
            2,
            threads,
        )
        return h, dh, dgates, drec, dk, dr, db, dx
    z = np.empty((T_, B_, u), dtype)
    mod.simple_rnn_forward(x, kernel, rec, bias, mask, rm, z, h, h_rec, 1, threads)
    dgates = np.empty_like(z)
    mod.simple_rnn_backward(x, kernel, rec, mask, rm, h, h_rec, dseq, dh, dgates, dk, dr, db, dx, 0.0, True, 1, threads)
    return h, dh, dgates, dk, dr, db, dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "cell, gates, units, Bb",
    [
        ("lstm", 4, 40, 56),
        ("gru", 3, 40, 56),
        ("rnn", 1, 72, 56),
        ("lstm", 4, 100, 8),
        ("gru", 3, 112, 8),
        ("rnn", 1, 200, 8),
    ],
)
def test_threaded_time_loops_with_masks_match_reference(dtype, cell, gates, units, Bb):
    # Two threads split a batch of 56 in whole 8-row tiles (24 + 32). A batch of 8 has
    # no tile for the second thread, so they split the units in 32-unit tiles instead,
    # ragged (100 = 64 + 36, 112 = 64 + 48, 200 = 96 + 104), and meet every step. With
    # masked steps and recurrent dropout; the weight gradients split the units either
    # way, and one thread and two must agree bit for bit.
    rng = np.random.default_rng(5)
    Tb, nin = 4, 3
    x = rng.standard_normal((Tb, Bb, nin)).astype(dtype)
    kernel = (0.4 * rng.standard_normal((nin, gates * units))).astype(dtype)
    rec = (2 / np.sqrt(units) * rng.standard_normal((units, gates * units))).astype(dtype)  # O(1) states
    bias = rng.standard_normal((2, 3 * units) if cell == "gru" else gates * units).astype(dtype)
    mask = (rng.random((Tb, Bb)) > 0.3).astype(np.uint8)
    rm = (2 * rng.random((Bb, units))).astype(dtype)
    dseq = rng.standard_normal((Tb, Bb, units)).astype(dtype)
    args = (x, kernel, rec, bias, mask, rm, dseq)
    want = _run_cell(cell, ref, 1, *args)
    one, two = _run_cell(cell, _recurrent, 1, *args), _run_cell(cell, _recurrent, 2, *args)
    _close(want, one, dtype)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_kernels_reject_bad_shapes():
    z = np.zeros
    x = z((T, B, N_IN))
    args = dict(bias=z(4 * U), mask=z((0, 0), np.uint8), rm=z((0, 0)))
    good = [
        x,
        z((N_IN, 4 * U)),
        z((U, 4 * U)),
        args["bias"],
        args["mask"],
        args["rm"],
        z((T, B, 4 * U)),
        z((T + 1, B, U)),
        z((T + 1, B, U)),
        z((T, B, U)),
        z((0, 0, 0)),
        1,
        2,
        1,
    ]
    _recurrent.lstm_forward(*good)
    for i, bad, msg in [
        (1, z((N_IN + 1, 4 * U)), "kernel"),
        (2, z((U, 3 * U)), "recurrent_kernel"),
        (3, z(3 * U), "bias"),
        (4, z((T, B + 1), np.uint8), "mask"),
        (7, z((T, B, U)), "h"),
        (0, z((0, B, N_IN)), r"x must have shape \(>= 1, >= 1, 3\)"),
    ]:
        call = list(good)
        call[i] = bad
        with pytest.raises(ValueError, match=msg):
            _recurrent.lstm_forward(*call)


def test_backward_rejects_bad_bias_gradient_and_beta():
    z = np.zeros
    x, h = z((T, B, N_IN)), z((T + 1, B, U))
    args = [
        x,
        z((N_IN, U)),
        z((U, U)),
        z((0, 0), np.uint8),
        z((0, 0)),
        h,
        z((0, 0, 0)),
        z((0, 0, 0)),
        z((B, U)),
        z((T, B, U)),
        z((N_IN, U)),
        z((U, U)),
        z(U),
        z((T, B, N_IN)),
        0.0,
        True,
        1,
        1,
    ]
    _recurrent.simple_rnn_backward(*args)
    bad_bias = list(args)
    bad_bias[12] = z(U + 1)
    with pytest.raises(ValueError, match=r"dbias must have shape \(5,\) or \(0,\), got \(6,\)"):
        _recurrent.simple_rnn_backward(*bad_bias)
    bad_beta = list(args)
    bad_beta[14] = 0.5
    with pytest.raises(ValueError, match="beta must be 0.0 .* or 1.0 .*, got 0.5"):
        _recurrent.simple_rnn_backward(*bad_beta)
