"""Attention layers (Keras 3): MultiHeadAttention, Attention, AdditiveAttention.

``MultiHeadAttention`` is hand-written: the four projections are single matrix
products over all ``(batch * time)`` rows on the Dense kernels' path, and the
attention itself is one call of ``core._attention`` (threads over batch x
heads). Projections write ``(B, T, H, D)`` buffers that the kernel reads as
``(B, H, T, D)`` views, and it writes its output straight into the
``(B, T, H, Dv)`` rows the output projection multiplies, so heads are never
split or merged by a copy.
"""

import math

import numpy as np

from ...core import _attention, _dropout
from .. import config, regularizers
from .._conv_geometry import positive_int
from .._errors import UnsupportedArgument
from ._buffers import scratch
from ._dense_products import dense_forward, dense_grads
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]

_NO_MASK = np.zeros((0, 0, 0, 0), np.uint8)


def _array(x):
    """A mask argument as an ndarray (it may be a ``Tensor`` in traced code)."""
    return np.asarray(getattr(x, "value", x))


class _Projection(Layer):
    """The kernel and bias of one of MultiHeadAttention's ``EinsumDense`` sublayers.

    Keras' names and shapes (``query/kernel`` of shape ``(dim, heads, key_dim)``);
    the products use them as ``(rows, dim) @ (dim, heads * key_dim)`` matrices.
    """

    def __init__(self, kernel_spec, bias_spec, kernel_shape, bias_shape, **kwargs):
        super().__init__(**kwargs)
        self._kernel, self._bias = kernel_spec, bias_spec
        self._shapes = (tuple(kernel_shape), tuple(bias_shape) if bias_shape else None)

    def build(self, input_shape):
        self.kernel = self._kernel.add_to(self, self._shapes[0])
        self.bias = None if self._shapes[1] is None else self._bias.add_to(self, self._shapes[1])

    def matrix(self, n_in):
        return self.kernel.value.reshape(n_in, -1)

    def forward(self, x, out):
        """out = x @ kernel (+ bias); x (rows, n_in), out (rows, n_out)."""
        bias = None if self.bias is None else self.bias.value.reshape(-1)
        return dense_forward(x, self.matrix(x.shape[1]), out, bias)

    def backward(self, x, dz, dx=None, accumulate=False):
        """Weight gradients of ``forward``; ``dx`` (if given) gets, or with ``accumulate`` adds, ``dz @ kernel.T``."""
        w = self.matrix(x.shape[1])
        dense_grads(x, w, dz, self.kernel, self.bias, dx, dx_beta=float(accumulate), trainable=self.trainable)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017), as Keras 3's ``MultiHeadAttention``.

    Parameters
    ----------
    num_heads : int
    key_dim : int
        Size of each head for query and key.
    value_dim : int, optional
        Size of each head for value (default ``key_dim``).
    dropout : float, default 0.0
        Dropout rate on the attention weights (training only).
    use_bias : bool, default True
    output_shape : int or tuple, optional
        Output feature shape (default: the query's last dimension).
    attention_axes : None
        Only the default (attention over the sequence axis of ``(B, T, dim)``
        inputs) is implemented; other axes raise ``NotImplementedError``.
    flash_attention : accepted and ignored (the kernel is always the fused one).
    kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
    activity_regularizer, kernel_constraint, bias_constraint : as in Keras.
    seed : int, optional
        Seed of the attention dropout.

    Notes
    -----
    Call: ``layer(query, value, key=None, query_mask=None, value_mask=None,
    key_mask=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)``; query ``(B, Tq, dim)``, value
    ``(B, Tv, dim_v)``, key ``(B, Tv, dim_k)``; ``attention_mask`` boolean
    ``(B, Tq, Tv)`` or ``(B, heads, Tq, Tv)``, True = attend. Masked keys get
    -1e9 added to their scores (Keras' masked softmax): a fully masked query row
    attends uniformly. Output ``(B, Tq, dim)`` (or ``output_shape``), and the
    attention weights ``(B, heads, Tq, Tv)`` (before dropout) if asked for.

    Weights, in Keras' order: ``query``, ``key``, ``value`` kernels
    ``(dim, heads, key_dim)`` (value: ``value_dim``) and biases ``(heads, key_dim)``,
    ``attention_output`` kernel ``(heads, value_dim, *output_shape)`` and bias
    ``output_shape``. The gradient does not flow back through returned attention
    scores (a loss on them raises ``NotImplementedError``). Differences from Keras:
    ``activity_regularizer`` penalises the layer's output only (Keras applies it to
    each of the four projections' outputs); ``attention_axes`` other than the sequence
    axis and inputs of rank other than 3 are not implemented.
    """

    supports_masking = True

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = positive_int(num_heads, "num_heads", "MultiHeadAttention")
        self.key_dim = positive_int(key_dim, "key_dim", "MultiHeadAttention")
        self.value_dim = self.key_dim if not value_dim else positive_int(value_dim, "value_dim", "MultiHeadAttention")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be a float in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, (int, np.integer)) else output_shape
            try:
                output_shape = tuple(
                    positive_int(d, "output_shape entries", "MultiHeadAttention") for d in output_shape
                )
            except TypeError:
                raise ValueError(
                    f"MultiHeadAttention: output_shape must be an int, list or tuple, got {output_shape!r}"
                ) from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                f"MultiHeadAttention: attention_axes must be an int, list or tuple, got {attention_axes!r}"
            )
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        if self.attention_axes not in (None, (1,), (-2,)):
            raise UnsupportedArgument(
                f"MultiHeadAttention: attention_axes other than the sequence axis are not supported, "
                f"got {attention_axes!r}"
            )
        self.flash_attention = flash_attention
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"MultiHeadAttention: seed must be an integer or None, got {seed!r}")
        self.seed = seed
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._bias = WeightSpec("bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._rng = None
        self._symbolic_scores = False

    # Keras' attribute names for the sublayers.
    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None and isinstance(query, (list, tuple)) and len(query) in (2, 3):
            # The list form [query, value(, key)] other multi-input layers take (check_layer uses it).
            query, value, key = (list(query) + [None])[:3]
        if value is None:
            raise ValueError("MultiHeadAttention: value is required (call(query, value, key=None, ...)), got None")
        self._symbolic_scores = bool(kwargs.get("return_attention_scores", False))
        inputs = [query, value] if key is None else [query, value, key]
        return super().__call__(inputs, **kwargs)

    def _shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (2, 3):
            raise ValueError(f"MultiHeadAttention: expected query and value shapes, got {input_shape!r}")
        shapes = [tuple(s) for s in input_shape]
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) == 3 else v
        for name, s in (("query", q), ("value", v), ("key", k)):
            if len(s) != 3 or s[-1] is None:
                raise UnsupportedArgument(
                    f"MultiHeadAttention: {name} must have shape (batch, time, features) with known features "
                    f"(other ranks need attention_axes, not supported), got {s}"
                )
        if v[1:-1] != k[1:-1]:
            raise ValueError(
                f"MultiHeadAttention: value and key must agree on all but the last axis, got value_shape={v} "
                f"and key_shape={k}"
            )
        return q, v, k

    def build(self, input_shape):
        q, v, k = self._shapes(input_shape)
        h = self.num_heads
        out_shape = self._output_shape or (q[-1],)

        def proj(name, kernel_shape, bias_shape):
            layer = _Projection(
                self._kernel,
                self._bias,
                kernel_shape,
                bias_shape if self.use_bias else None,
                name=name,
                dtype=self.dtype,
            )
            layer._build_once(None)
            return layer

        self._query_dense = proj("query", (q[-1], h, self.key_dim), (h, self.key_dim))
        self._key_dense = proj("key", (k[-1], h, self.key_dim), (h, self.key_dim))
        self._value_dense = proj("value", (v[-1], h, self.value_dim), (h, self.value_dim))
        self._output_dense = proj("attention_output", (h, self.value_dim) + tuple(out_shape), tuple(out_shape))
        self._rng = config.make_rng(self.seed)

    def compute_output_shape(self, input_shape, **_):
        q, v, _k = self._shapes(input_shape)
        out = q[:-1] + (self._output_shape or (q[-1],))
        if self._symbolic_scores:
            return [out, (q[0], self.num_heads, q[1], v[1])]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def _mask(self, b, tq, tk, query_mask, value_mask, key_mask, attention_mask):
        """The combined uint8 mask, broadcastable to (B, H, Tq, Tk), or an empty one."""
        attend = None

        def both(a, m):
            return m if a is None else a & m

        for m, shape in ((query_mask, (b, 1, tq, 1)), (value_mask, (b, 1, 1, tk)), (key_mask, (b, 1, 1, tk))):
            if m is not None:
                m = _array(m)
                if m.shape != (b, shape[2] * shape[3]):
                    want = (b, tq) if shape[2] > 1 else (b, tk)
                    raise ValueError(
                        f"MultiHeadAttention: a query/value/key mask must have shape {want}, got {m.shape}"
                    )
                attend = both(attend, m.astype(bool).reshape(shape))
        if attention_mask is not None:
            m = _array(attention_mask).astype(bool)
            # Keras inserts the missing leading axes before the head axis: (Tq, Tk) and (B, Tq, Tk).
            m = m.reshape((1,) * (3 - m.ndim) + m.shape) if m.ndim < 3 else m
            if m.ndim == 3:
                m = m[:, None]
            if (
                m.ndim != 4
                or m.shape[-2:] != (tq, tk)
                or m.shape[0] not in (1, b)
                or m.shape[1] not in (1, self.num_heads)
            ):
                raise ValueError(
                    f"MultiHeadAttention: attention_mask must broadcast to ({b}, {tq}, {tk}) or "
                    f"({b}, {self.num_heads}, {tq}, {tk}), got {_array(attention_mask).shape}"
                )
            attend = both(attend, m)
        if attend is None:
            return _NO_MASK
        bm = b if attend.shape[0] > 1 else 1
        hm = self.num_heads if attend.shape[1] > 1 else 1
        tm = tq if attend.shape[2] > 1 else 1
        return np.ascontiguousarray(np.broadcast_to(attend, (bm, hm, tm, tk)), dtype=np.uint8)

    def call(
        self,
        inputs,
        training=False,
        mask=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._shapes([x.shape for x in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        if isinstance(mask, (list, tuple)):
            # Keras fills the masks of the inputs' own masks (Embedding(mask_zero=True) upstream).
            query_mask = mask[0] if query_mask is None else query_mask
            value_mask = mask[1] if value_mask is None else value_mask
            if len(mask) == 3 and key_mask is None:
                key_mask = mask[2]
        b, tq, tk = query.shape[0], query.shape[1], value.shape[1]
        if key.shape[0] != b or value.shape[0] != b:
            raise ValueError(
                f"MultiHeadAttention: query, value and key must have one batch size, got {[x.shape for x in inputs]}"
            )
        m = self._mask(b, tq, tk, query_mask, value_mask, key_mask, attention_mask)
        h, kd, vd, dt = self.num_heads, self.key_dim, self.value_dim, query.dtype
        xq, xk, xv = (x.reshape(-1, x.shape[-1]) for x in (query, key, value))
        zq = self._query_dense.forward(xq, scratch(self, "q", (b * tq, h * kd), dt)).reshape(b, tq, h, kd)
        zk = self._key_dense.forward(xk, scratch(self, "k", (b * tk, h * kd), dt)).reshape(b, tk, h, kd)
        zv = self._value_dense.forward(xv, scratch(self, "v", (b * tk, h * vd), dt)).reshape(b, tk, h, vd)
        ctx = scratch(self, "ctx", (b, tq, h, vd), dt)
        probs = scratch(self, "probs", (b, h, tq, tk), dt)
        keep = _NO_MASK
        rate = self.dropout if training else 0.0
        threads = config.kernel_threads()
        if rate > 0.0:
            keep = scratch(self, "keep", (b, h, tq, tk), np.dtype(np.uint8))
            _dropout.keep_mask(int(self._rng.integers(0, 2**63)), rate, keep.reshape(-1), threads)
        scale = 1.0 / math.sqrt(kd)
        _attention.attention_forward(
            _heads(zq), _heads(zk), _heads(zv), m, bool(use_causal_mask), scale, keep, rate, _heads(ctx), probs, threads
        )
        flat_ctx = ctx.reshape(b * tq, h * vd)
        n_out = math.prod(self._output_dense.kernel.shape[2:])
        y = self._output_dense.forward(flat_ctx, scratch(self, "y", (b * tq, n_out), dt))
        y = y.reshape((b, tq) + tuple(self._output_dense.kernel.shape[2:]))
        # For query, value, key: the index of the first input that is the same array (key
        # defaults to value), so backward writes one gradient per distinct input.
        firsts = [next(j for j in range(i + 1) if inputs[j] is inputs[i]) for i in range(len(inputs))]
        shared = (firsts[0], firsts[1], firsts[2] if len(inputs) == 3 else firsts[1])
        cache = (xq, xk, xv, zq, zk, zv, probs, keep, rate, scale, flat_ctx, len(inputs), shared)
        if return_attention_scores:
            return [y, probs], cache
        return y, cache

    def backward(self, dy, cache, need_input_grad=True):
        xq, xk, xv, zq, zk, zv, probs, keep, rate, scale, flat_ctx, n_inputs, shared = cache
        if isinstance(dy, (list, tuple)):
            if np.any(dy[1]):
                raise NotImplementedError(
                    "MultiHeadAttention: gradients through the returned attention scores are not supported, "
                    "got a nonzero gradient for them"
                )
            dy = dy[0]
        dt = xq.dtype
        b, tq, h, kd = zq.shape
        vd = zv.shape[3]
        dy2 = np.ascontiguousarray(dy.reshape(flat_ctx.shape[0], -1))
        dctx = scratch(self, "dctx", flat_ctx.shape, dt)
        self._output_dense.backward(flat_ctx, dy2, dctx)
        dzq = scratch(self, "dq", zq.shape, dt)
        dzk = scratch(self, "dk", zk.shape, dt)
        dzv = scratch(self, "dv", zv.shape, dt)
        _attention.attention_backward(
            _heads(zq),
            _heads(zk),
            _heads(zv),
            probs,
            keep,
            rate,
            _heads(dctx.reshape(b, tq, h, vd)),
            scale,
            _heads(dzq),
            _heads(dzk),
            _heads(dzv),
            config.kernel_threads(),
        )
        grads = {}
        for proj, x, dz, i in (
            (self._query_dense, xq, dzq, 0),
            (self._value_dense, xv, dzv, 1),
            (self._key_dense, xk, dzk, 2),
        ):
            j = shared[i]
            dx = grads.get(j)
            if need_input_grad and dx is None:
                dx = grads[j] = scratch(self, f"dx{j}", x.shape, dt)
                proj.backward(x, dz.reshape(x.shape[0], -1), dx)
            else:
                proj.backward(x, dz.reshape(x.shape[0], -1), dx, accumulate=True)
        # One gradient per distinct input array (self-attention passes one tensor twice).
        out = [None] * n_inputs
        for j, dx in grads.items():
            out[j] = dx.reshape(b, -1, dx.shape[-1])
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
            "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
            **self._kernel.get_config(),
            **self._bias.get_config(),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "seed": self.seed,
        }


def _heads(a):
    """A (B, T, H, D) buffer as the (B, H, T, D) view the kernel takes (no copy)."""
    return a.transpose(0, 2, 1, 3)


class Attention(Layer):
    """Dot-product (Luong-style) attention, as Keras 3's ``Attention``.

    Parameters
    ----------
    use_scale : bool, default False
        A trainable scalar ``scale`` (initialised to 1) multiplies the scores.
    score_mode : {"dot", "concat"}, default "dot"
        "dot": ``scores = query @ key.T``; "concat":
        ``scores = concat_score_weight * sum(tanh(scale * (query + key)), -1)``.
    dropout : float, default 0.0
        Dropout rate on the attention weights (training only).
    seed : int, optional

    Notes
    -----
    Call: ``layer([query, value(, key)], mask=None, training=False,
    return_attention_scores=False, use_causal_mask=False)``, query
    ``(B, Tq, dim)``, value ``(B, Tv, dim_v)``, key ``(B, Tv, dim)``; ``mask``
    ``[query_mask, value_mask]`` booleans ``(B, Tq)`` and ``(B, Tv)`` (masked
    keys get 1e9 subtracted, masked queries give zero rows). Output
    ``(B, Tq, dim_v)`` and, if asked for, the attention weights ``(B, Tq, Tv)``
    (after dropout, as Keras returns them). "dot" runs the compiled attention
    kernel; "concat" (and ``AdditiveAttention``) NumPy. The gradient does not
    flow back through returned attention weights.
    """

    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if score_mode not in self._score_modes:
            raise ValueError(f"{name}: score_mode must be one of {self._score_modes}, got {score_mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be a float in [0, 1), got {dropout!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{name}: seed must be an integer or None, got {seed!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._rng = None
        self._symbolic_scores = False

    def __call__(self, inputs, *args, **kwargs):
        self._symbolic_scores = bool(kwargs.get("return_attention_scores", False))
        return super().__call__(inputs, *args, **kwargs)

    def _validate(self, shapes):
        name = type(self).__name__
        if (
            not isinstance(shapes, (list, tuple))
            or len(shapes) not in (2, 3)
            or not all(isinstance(s, (list, tuple)) for s in shapes)
        ):
            raise ValueError(
                f"{name}: call it on a list [query, value] or [query, value, key], got {_described(shapes)}"
            )
        shapes = [tuple(s) for s in shapes]
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) == 3 else v
        if any(len(s) != 3 for s in (q, v, k)):
            raise ValueError(f"{name}: query, value and key must have shape (batch, time, dim), got {shapes}")
        if q[-1] != k[-1] or v[1] != k[1]:
            raise ValueError(
                f"{name}: query and key need one dim, value and key one length, got query {q}, value {v}, key {k}"
            )
        return q, v, k

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") if self.use_scale else None
        self.concat_score_weight = None
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones")
        self._rng = config.make_rng(self.seed)

    def compute_output_shape(self, input_shape, **_):
        q, v, _k = self._validate(input_shape)
        out = q[:-1] + v[-1:]
        return [out, (q[0], q[1], v[1])] if self._symbolic_scores else out

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else None

    def _keep(self, shape, training):
        """The dropout keep mask (B, 1, Tq, Tv) and rate, or an empty mask and 0."""
        if not training or self.dropout == 0.0:
            return _NO_MASK, 0.0
        keep = scratch(self, "keep", shape, np.dtype(np.uint8))
        _dropout.keep_mask(int(self._rng.integers(0, 2**63)), self.dropout, keep.reshape(-1), config.kernel_threads())
        return keep, self.dropout

    def call(self, inputs, training=False, mask=None, return_attention_scores=False, use_causal_mask=False):
        self._validate([x.shape for x in inputs])
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        if mask is not None and (not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3)):
            raise ValueError(f"{type(self).__name__}: mask must be a list [query_mask, value_mask], got {mask!r}")
        q_mask = None if mask is None or mask[0] is None else _array(mask[0]).astype(bool)
        v_mask = None if mask is None or mask[1] is None else _array(mask[1]).astype(bool)
        b, tq, tv = q.shape[0], q.shape[1], v.shape[1]
        keep, rate = self._keep((b, 1, tq, tv), training)
        attend = _NO_MASK if v_mask is None else np.ascontiguousarray(v_mask.reshape(b, 1, 1, tv), dtype=np.uint8)
        dt = q.dtype
        out = scratch(self, "out", (b, tq, v.shape[2]), dt)
        probs = scratch(self, "probs", (b, 1, tq, tv), dt)
        if self.score_mode == "dot":
            scale = 1.0 if self.scale is None else float(self.scale.value)
            # The kernel multiplies q @ k.T by its scale: Keras scales the scores after the product,
            # so a scaled copy of q keeps the scale's own gradient exact (sum(q * dq_scaled)).
            qs = q if self.scale is None else q * dt.type(scale)
            _attention.attention_forward(
                qs[:, None],
                k[:, None],
                v[:, None],
                attend,
                bool(use_causal_mask),
                1.0,
                keep,
                rate,
                out[:, None],
                probs,
                config.kernel_threads(),
            )
            extra = qs
        else:
            t = self._tanh_terms(q, k)
            scores = probs[:, 0]
            np.sum(t * self._score_weight(), axis=-1, out=scores)
            _masked_softmax(scores, v_mask, use_causal_mask)
            np.matmul(_dropped(probs[:, 0], keep, rate), v, out=out)
            extra = t
        if q_mask is not None:
            out *= q_mask[:, :, None]
        cache = (q, k, v, probs, keep, rate, extra, q_mask, len(inputs), inputs[1] is k)
        if return_attention_scores:
            return [out, _dropped(probs[:, 0], keep, rate)], cache
        return out, cache

    def _score_weight(self):
        return self.concat_score_weight.value

    def _tanh_terms(self, q, k):
        """tanh(a * (q_i + k_j)), shape (B, Tq, Tv, dim); a the scalar scale or 1."""
        pre = q[:, :, None, :] + k[:, None, :, :]
        if self.scale is not None:
            pre *= self.scale.value
        return np.tanh(pre)

    def _scores_backward(self, g, q, k, t):
        """Input and weight gradients of the tanh scores given g = dL/dscores."""
        w = self._score_weight()
        self.concat_score_weight.accumulate_grad(np.sum(g * t.sum(-1)))
        dpre = g[..., None] * w * (1.0 - t * t)
        a = 1.0
        if self.scale is not None:
            a = self.scale.value
            self.scale.accumulate_grad(np.sum(dpre * (q[:, :, None, :] + k[:, None, :, :])))
        return a * dpre.sum(axis=2), a * dpre.sum(axis=1)

    def backward(self, dy, cache, need_input_grad=True):
        q, k, v, probs, keep, rate, extra, q_mask, n_inputs, key_is_value = cache
        if isinstance(dy, (list, tuple)):
            if np.any(dy[1]):
                raise NotImplementedError(
                    f"{type(self).__name__}: gradients through the returned attention scores are not "
                    "supported, got a nonzero gradient for them"
                )
            dy = dy[0]
        if q_mask is not None:
            dy = dy * q_mask[:, :, None]
        dy = np.ascontiguousarray(dy)
        if self.score_mode == "dot":
            dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
            _attention.attention_backward(
                extra[:, None],
                k[:, None],
                v[:, None],
                probs,
                keep,
                rate,
                dy[:, None],
                1.0,
                dq[:, None],
                dk[:, None],
                dv[:, None],
                config.kernel_threads(),
            )
            if self.scale is not None:
                self.scale.accumulate_grad(np.sum(q * dq))
                dq *= self.scale.value
        else:
            p = probs[:, 0]
            dv = np.matmul(np.swapaxes(_dropped(p, keep, rate), 1, 2), dy)
            dp = _dropped(np.matmul(dy, np.swapaxes(v, 1, 2)), keep, rate)
            g = p * (dp - (dp * p).sum(-1, keepdims=True))
            dq, dk = self._scores_backward(g, q, k, extra)
        if not need_input_grad:
            return [None] * n_inputs
        if n_inputs == 2:
            return [dq, dv + dk]
        return [dq, dv, dk]

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention, as Keras 3's ``AdditiveAttention``.

    ``scores = sum(scale * tanh(query_i + key_j), -1)``, ``scale`` a trainable
    vector ``(dim,)`` (glorot uniform) when ``use_scale`` (default True);
    masks, dropout and outputs as ``Attention``. Runs NumPy.
    """

    _score_modes = ("concat",)

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, score_mode="concat", dropout=dropout, **kwargs)

    def build(self, input_shape):
        q, _v, _k = self._validate(input_shape)
        self.scale = (
            self.add_weight(name="scale", shape=(q[-1],), initializer="glorot_uniform") if self.use_scale else None
        )
        self.concat_score_weight = None
        self._rng = config.make_rng(self.seed)

    def _score_weight(self):
        return 1.0 if self.scale is None else self.scale.value

    def _tanh_terms(self, q, k):
        return np.tanh(q[:, :, None, :] + k[:, None, :, :])

    def _scores_backward(self, g, q, k, t):
        if self.scale is not None:
            self.scale.accumulate_grad(np.einsum("bij,bijd->d", g, t))
        dpre = g[..., None] * self._score_weight() * (1.0 - t * t)
        return dpre.sum(axis=2), dpre.sum(axis=1)

    def get_config(self):
        config_ = super().get_config()
        del config_["score_mode"]
        return config_


def _described(value):
    return f"{type(value).__name__} {getattr(value, 'shape', value)!r}"


def _dropped(p, keep, rate):
    """Inverted dropout of the weights p (B, Tq, Tv) with a keep mask (B, 1, Tq, Tv) or none."""
    if keep.shape[0] == 0:
        return p
    return p * (keep[:, 0] * p.dtype.type(1.0 / (1.0 - rate)))


def _masked_softmax(scores, v_mask, causal):
    """Keras' masked softmax in place on scores (B, Tq, Tv): masked keys get 1e9 subtracted."""
    tq, tv = scores.shape[1:]
    masked = np.zeros((1, tq, tv), bool)
    if v_mask is not None:
        masked = masked | ~v_mask[:, None, :]
    if causal:
        masked = masked | ~np.tri(tq, tv, dtype=bool)[None]
    scores -= scores.dtype.type(1e9) * masked
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
