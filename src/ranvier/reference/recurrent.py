"""NumPy twin of ``ranvier.core._recurrent`` (same signatures, time-major layout)."""

import numpy as np

from ._beta import scale_by_beta

__all__ = [
    "ACTIVATIONS",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
    "simple_rnn_forward",
    "simple_rnn_backward",
]

ACTIVATIONS = {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3, "hard_sigmoid": 4}

_FORWARD = {
    0: lambda x: x,
    1: np.tanh,
    2: lambda x: 1 / (1 + np.exp(-x)),
    3: lambda x: np.maximum(x, 0),
    4: lambda x: np.clip(x / 6 + 0.5, 0, 1),
}
# Derivatives written through the output y, as the kernels compute them.
_DERIV = {
    0: np.ones_like,
    1: lambda y: 1 - y * y,
    2: lambda y: y * (1 - y),
    3: lambda y: (y > 0).astype(y.dtype),
    4: lambda y: ((y > 0) & (y < 1)).astype(y.dtype) / 6,
}


def _rec_input(h, rec_mask, h_rec, t):
    """The state fed to the recurrent GEMM at step t (times the recurrent dropout mask)."""
    if rec_mask.shape[0] == 0:
        return h[t]
    h_rec[t] = h[t] * rec_mask
    return h_rec[t]


def _keep(mask, t):
    """(B, 1) boolean: which samples take step t."""
    if mask.shape[0] == 0:
        return None
    return mask[t].astype(bool)[:, None]


def _backprop_state(dgr, U, rec_mask, dh):
    g = dgr @ U.T
    dh += g * rec_mask if rec_mask.shape[0] else g


def _weight_grads(x, h, h_rec, rec_mask, dgx, dgr, kernel, dkernel, drecurrent_kernel, dbias, dx, beta, need_dx):
    T, B, n_in = x.shape
    hs = (h_rec if rec_mask.shape[0] else h[:T]).reshape(T * B, -1)
    scale_by_beta(dkernel, beta)
    dkernel += x.reshape(T * B, n_in).T @ dgx.reshape(T * B, -1)
    scale_by_beta(drecurrent_kernel, beta)
    drecurrent_kernel += hs.T @ dgr.reshape(T * B, -1)
    if dbias.shape[0]:
        scale_by_beta(dbias, beta)
        G = dgx.shape[-1]
        dbias[:G] += dgx.sum(axis=(0, 1))
        if dgr is not dgx:
            dbias[G:] += dgr.sum(axis=(0, 1))
    if need_dx:
        dx[...] = (dgx.reshape(T * B, -1) @ kernel.T).reshape(dx.shape)


def lstm_forward(
    x,
    kernel,
    recurrent_kernel,
    bias,
    mask,
    rec_mask,
    gates,
    h,
    c,
    act_c,
    h_rec,
    activation,
    recurrent_activation,
    n_threads=1,
):
    T = x.shape[0]
    u = h.shape[2]
    act, ract = _FORWARD[activation], _FORWARD[recurrent_activation]
    gates[...] = (x @ kernel).reshape(gates.shape)
    for t in range(T):
        z = gates[t] + _rec_input(h, rec_mask, h_rec, t) @ recurrent_kernel + bias
        i, f, g, o = ract(z[:, :u]), ract(z[:, u : 2 * u]), act(z[:, 2 * u : 3 * u]), ract(z[:, 3 * u :])
        cn = f * c[t] + i * g
        ac = act(cn)
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        c[t + 1], act_c[t], h[t + 1] = cn, ac, o * ac
        keep = _keep(mask, t)
        if keep is not None:
            h[t + 1] = np.where(keep, h[t + 1], h[t])
            c[t + 1] = np.where(keep, c[t + 1], c[t])
            gates[t] *= keep
            act_c[t] *= keep


def lstm_backward(
    x,
    kernel,
    recurrent_kernel,
    mask,
    rec_mask,
    gates,
    h,
    c,
    act_c,
    h_rec,
    dh_seq,
    dh,
    dc,
    dgates,
    dkernel,
    drecurrent_kernel,
    dbias,
    dx,
    beta,
    need_dx,
    activation,
    recurrent_activation,
    n_threads=1,
):
    T = x.shape[0]
    u = h.shape[2]
    dact, dract = _DERIV[activation], _DERIV[recurrent_activation]
    for t in range(T - 1, -1, -1):
        dht = dh + dh_seq[t] if dh_seq.shape[0] else dh.copy()
        i, f, g, o = (gates[t][:, k * u : (k + 1) * u] for k in range(4))
        dct = dc + dht * o * dact(act_c[t])
        dgt = np.concatenate(
            [dct * g * dract(i), dct * c[t] * dract(f), dct * i * dact(g), dht * act_c[t] * dract(o)], axis=1
        )
        dc_new = dct * f
        keep = _keep(mask, t)
        if keep is not None:
            dgt *= keep
            dc_new = np.where(keep, dc_new, dc)
            dh[...] = np.where(keep, 0, dht)
        else:
            dh[...] = 0
        dc[...] = dc_new
        dgates[t] = dgt
        _backprop_state(dgt, recurrent_kernel, rec_mask, dh)
    _weight_grads(x, h, h_rec, rec_mask, dgates, dgates, kernel, dkernel, drecurrent_kernel, dbias, dx, beta, need_dx)


def gru_forward(
    x,
    kernel,
    recurrent_kernel,
    bias,
    mask,
    rec_mask,
    gates,
    rec,
    h,
    h_rec,
    activation,
    recurrent_activation,
    n_threads=1,
):
    T = x.shape[0]
    u = h.shape[2]
    act, ract = _FORWARD[activation], _FORWARD[recurrent_activation]
    xp = (x @ kernel).reshape(gates.shape) + bias[0]
    for t in range(T):
        rec[t] = _rec_input(h, rec_mask, h_rec, t) @ recurrent_kernel
        rp = rec[t] + bias[1]
        z = ract(xp[t, :, :u] + rp[:, :u])
        r = ract(xp[t, :, u : 2 * u] + rp[:, u : 2 * u])
        hh = act(xp[t, :, 2 * u :] + r * rp[:, 2 * u :])
        gates[t] = np.concatenate([z, r, hh], axis=1)
        rec[t, :, 2 * u :] = rp[:, 2 * u :]
        h[t + 1] = z * h[t] + (1 - z) * hh
        keep = _keep(mask, t)
        if keep is not None:
            h[t + 1] = np.where(keep, h[t + 1], h[t])
            gates[t] *= keep
            rec[t] *= keep


def gru_backward(
    x,
    kernel,
    recurrent_kernel,
    mask,
    rec_mask,
    gates,
    rec,
    h,
    h_rec,
    dh_seq,
    dh,
    dgates,
    drec,
    dkernel,
    drecurrent_kernel,
    dbias,
    dx,
    beta,
    need_dx,
    activation,
    recurrent_activation,
    n_threads=1,
):
    T = x.shape[0]
    u = h.shape[2]
    dact, dract = _DERIV[activation], _DERIV[recurrent_activation]
    for t in range(T - 1, -1, -1):
        dht = dh + dh_seq[t] if dh_seq.shape[0] else dh.copy()
        z, r, hh = (gates[t][:, k * u : (k + 1) * u] for k in range(3))
        dz = dht * (h[t] - hh) * dract(z)
        dah = dht * (1 - z) * dact(hh)
        dr = dah * rec[t][:, 2 * u :] * dract(r)
        dgx = np.concatenate([dz, dr, dah], axis=1)
        dgr = np.concatenate([dz, dr, dah * r], axis=1)
        keep = _keep(mask, t)
        if keep is not None:
            dgx *= keep
            dgr *= keep
            dh[...] = np.where(keep, dht * z, dht)
        else:
            dh[...] = dht * z
        dgates[t], drec[t] = dgx, dgr
        _backprop_state(dgr, recurrent_kernel, rec_mask, dh)
    _weight_grads(x, h, h_rec, rec_mask, dgates, drec, kernel, dkernel, drecurrent_kernel, dbias, dx, beta, need_dx)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, mask, rec_mask, z, h, h_rec, activation, n_threads=1):
    T = x.shape[0]
    act = _FORWARD[activation]
    z[...] = (x @ kernel).reshape(z.shape)
    for t in range(T):
        z[t] += _rec_input(h, rec_mask, h_rec, t) @ recurrent_kernel
        h[t + 1] = act(z[t] + bias)
        keep = _keep(mask, t)
        if keep is not None:
            h[t + 1] = np.where(keep, h[t + 1], h[t])


def simple_rnn_backward(
    x,
    kernel,
    recurrent_kernel,
    mask,
    rec_mask,
    h,
    h_rec,
    dh_seq,
    dh,
    dgates,
    dkernel,
    drecurrent_kernel,
    dbias,
    dx,
    beta,
    need_dx,
    activation,
    n_threads=1,
):
    T = x.shape[0]
    dact = _DERIV[activation]
    for t in range(T - 1, -1, -1):
        dht = dh + dh_seq[t] if dh_seq.shape[0] else dh.copy()
        dgt = dht * dact(h[t + 1])
        keep = _keep(mask, t)
        if keep is not None:
            dgt *= keep
            dh[...] = np.where(keep, 0, dht)
        else:
            dh[...] = 0
        dgates[t] = dgt
        _backprop_state(dgt, recurrent_kernel, rec_mask, dh)
    _weight_grads(x, h, h_rec, rec_mask, dgates, dgates, kernel, dkernel, drecurrent_kernel, dbias, dx, beta, need_dx)
