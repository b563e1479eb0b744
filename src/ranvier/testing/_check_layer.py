"""check_layer: the contract every layer keeps, run on one layer class.

Five checks, each on fresh instances built from the same arguments:

- ``"config"``: ``get_config()`` survives JSON and ``from_config`` rebuilds a
  layer with the same config that, given the same weights, computes the same
  outputs;
- ``"symbolic"``: calling the layer on an ``Input`` gives the shape an eager
  call gives (batch dimension None);
- ``"gradient"``: float64 input and weight gradients match central
  differences (``check_gradients``);
- ``"save"``: a model holding the layer predicts the same after
  ``save_model`` / ``load_model``;
- ``"threads"``: one thread and two give bit-identical outputs and gradients
  (under ``config.enable_determinism``, as training needs for that).

Random layers (Dropout, noise, recurrent dropout) replay their generator at
every call of one check, so their gradient is checked with a fixed mask, in
training mode.
"""

import contextlib
import copy
import json
import os
import tempfile

import numpy as np

from ..api.layers import _tracing
from ._gradcheck import _forward, check_gradients

__all__ = ["check_layer", "CHECKS"]

#: The checks ``check_layer`` runs by default, in order.
CHECKS = ("config", "symbolic", "gradient", "save", "threads")


def check_layer(
    layer_cls,
    init_kwargs=None,
    input_shape=(2, 3),
    input_dtype=None,
    input_data=None,
    *,
    checks=CHECKS,
    training=True,
    check_input_gradient=True,
    tol=1e-6,
    max_checks=None,
    seed=0,
    custom_objects=None,
):
    """Run the layer contract on ``layer_cls``; raise ``AssertionError`` naming the check that fails.

    Parameters
    ----------
    layer_cls : type
        A ``ranvier.layers.Layer`` subclass.
    init_kwargs : dict, optional
        Constructor arguments; deep-copied for every instance (a wrapped layer
        is never shared between instances).
    input_shape : tuple of int, or list of them, default (2, 3)
        Shape of the test input, batch dimension first; a list of shapes for a
        layer taking a list of inputs (merge layers).
    input_dtype : str, optional
        Dtype of the inputs: the compute dtype (``config.floatx()``, float64 for
        the gradient check) when omitted, or an integer dtype for token ids.
    input_data : ndarray, optional
        The test input (e.g. valid token ids); default standard normal draws.
    checks : iterable of str, default ``CHECKS``
        Which of "config", "symbolic", "gradient", "save", "threads" to run.
    training : bool, default True
        Mode of the gradient and thread checks (the others compare inference outputs).
    check_input_gradient : bool, default True
        Also check the input gradient (integer inputs never are).
    tol : float, default 1e-6
        Largest relative error of the gradient check.
    max_checks : int, optional
        Entries checked per array in the gradient check (all by default).
    seed : int, default 0
    custom_objects : dict, optional
        For ``load_model``; ``{layer_cls.__name__: layer_cls}`` is always included.

    Examples
    --------
    >>> from ranvier.testing import check_layer
    >>> check_layer(rv.layers.Dense, {"units": 3}, input_shape=(2, 4))
    """
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"check_layer: checks must be among {CHECKS}, got {sorted(unknown)}")
    shape = [tuple(s) for s in input_shape] if isinstance(input_shape, list) else tuple(input_shape)
    case = _Case(layer_cls, init_kwargs or {}, shape, input_dtype, input_data, training, seed)
    runs = {
        "config": lambda: _check_config(case),
        "symbolic": lambda: _check_symbolic(case),
        "gradient": lambda: _check_gradient(case, check_input_gradient, tol, max_checks),
        "save": lambda: _check_save(case, {layer_cls.__name__: layer_cls, **(custom_objects or {})}),
        "threads": lambda: _check_threads(case),
    }
    for name in CHECKS:
        if name in checks:
            try:
                runs[name]()
            except AssertionError as exc:
                raise AssertionError(f"check_layer({layer_cls.__name__}) {name}: {exc}") from None


class _Case:
    """One layer class, its arguments and the test input."""

    def __init__(self, layer_cls, init_kwargs, input_shape, input_dtype, input_data, training, seed):
        self.layer_cls, self.init_kwargs, self.training = layer_cls, init_kwargs, training
        self.rng = np.random.default_rng(seed)
        # Token ids and strings are never cast to floats nor differentiated.
        self.int_input = input_dtype is not None and np.dtype(input_dtype).kind in "iubO"
        self.multi = isinstance(input_shape, list)
        if input_data is not None:
            data = [np.asarray(d) for d in input_data] if self.multi else np.asarray(input_data)
        elif self.multi:
            data = [self.rng.standard_normal(s) for s in input_shape]
        else:
            data = self.rng.standard_normal(input_shape)
        self.data, self.input_dtype = data, input_dtype

    def make(self):
        return self.layer_cls(**copy.deepcopy(self.init_kwargs))

    def input(self, float_dtype):
        """The test input(s) in ``float_dtype`` (or in the integer input dtype)."""
        dtype = self.input_dtype if self.int_input else float_dtype
        if self.multi:
            return [np.ascontiguousarray(d, dtype=dtype) for d in self.data]
        return np.ascontiguousarray(self.data, dtype=dtype)

    def inputs(self, x):
        """``Input`` tensors matching the array(s) ``x``."""
        from ..api.layers import Input

        tensors = [Input(shape=a.shape[1:], dtype=a.dtype.name) for a in _flat(x)]
        return tensors if self.multi else tensors[0]

    def built(self, x):
        """A fresh instance, built and called once on ``x``."""
        layer = self.make()
        layer(x)
        return layer


def _floatx():
    from ..api import config

    return config.floatx()


def _flat(values):
    return list(values) if isinstance(values, (list, tuple)) else [values]


def _assert_equal(actual, expected, what):
    actual, expected = _flat(actual), _flat(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a is None or e is None:
            assert a is None and e is None, f"{what}[{i}]: one is None"
            continue
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{what}[{i}]: shape {a.shape}, expected {e.shape}"
        assert np.array_equal(a, e), f"{what}[{i}]: max difference {np.max(np.abs(a - e)):.3g}"


def _json(config):
    return json.loads(json.dumps(config))


def _sublayers(layer):
    yield layer
    for sub in layer._sublayers():
        yield from _sublayers(sub)


@contextlib.contextmanager
def _replayed_randomness(layer):
    """Within the block every ``layer.call`` draws the same random numbers (same dropout mask)."""
    generators = [
        (sub._rng, sub._rng.bit_generator.state)
        for sub in _sublayers(layer)
        if isinstance(getattr(sub, "_rng", None), np.random.Generator)
    ]
    call = layer.call

    def replaying_call(*args, **kwargs):
        for generator, state in generators:
            generator.bit_generator.state = state
        return call(*args, **kwargs)

    layer.call = replaying_call
    try:
        yield
    finally:
        del layer.call


def _check_config(case):
    x = case.input(_floatx())
    layer = case.built(x)
    config = layer.get_config()
    try:
        as_json = _json(config)
    except TypeError as exc:
        raise AssertionError(f"get_config() is not JSON-able ({exc})") from None
    clone = type(layer).from_config(copy.deepcopy(as_json))
    assert _json(clone.get_config()) == as_json, (
        f"from_config(get_config()).get_config() differs: {_json(clone.get_config())} != {as_json}"
    )
    clone(x)
    try:
        clone.set_weights(layer.get_weights())
    except ValueError as exc:
        raise AssertionError(f"the original's weights do not fit the rebuilt layer ({exc})") from None
    _assert_equal(_forward(clone, x, False)[0], _forward(layer, x, False)[0], "outputs after from_config")


def _check_symbolic(case):
    x = case.input(_floatx())
    eager = _flat(case.built(x)(x))
    symbolic = _flat(case.make()(case.inputs(x)))
    expected = [(None,) + tuple(e.shape[1:]) for e in eager]
    got = [tuple(t.shape) for t in symbolic]
    assert got == expected, f"symbolic output shape {got}, eager {expected}"


def _check_gradient(case, check_input_gradient, tol, max_checks):
    from ..api import config

    previous = config.floatx()
    config.set_floatx("float64")
    try:
        x = case.input("float64")
        layer = case.make()
        shapes = [(None,) + a.shape[1:] for a in _flat(x)]
        layer._build_once(shapes if case.multi else shapes[0])
        with _replayed_randomness(layer):
            check_gradients(
                layer,
                x,
                training=case.training,
                check_inputs=check_input_gradient and not case.int_input,
                tol=tol,
                max_checks=max_checks,
                seed=0,
            )
    finally:
        config.set_floatx(previous)


def _check_save(case, custom_objects):
    from ..api.models import Model, load_model, save_model

    x = case.input(_floatx())
    inputs = case.inputs(x)
    model = Model(inputs, _flat(case.make()(inputs))[0])
    expected = model.predict(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.ranvier")
        save_model(model, path)
        loaded = load_model(path, custom_objects=custom_objects)
    _assert_equal(loaded.predict(x), expected, "predictions after load_model")


def _check_threads(case):
    from ..api import config
    from ..api._threading import compute_scope

    # A batch of 64 at least: kernels split small inputs less, or not at all.
    xs = [np.ascontiguousarray(np.resize(a, (max(64, len(a)),) + a.shape[1:])) for a in _flat(case.input(_floatx()))]
    if not case.int_input:
        xs = [case.rng.standard_normal(a.shape).astype(a.dtype) for a in xs]
    x = xs if case.multi else xs[0]
    layer = case.built(x)
    outputs = _flat(_forward(layer, x, case.training)[0])
    dy = [case.rng.standard_normal(o.shape).astype(o.dtype) for o in outputs]
    results = []
    threads, deterministic = config.get_num_threads(), config.is_deterministic()
    generator_state, legacy_state = config.rng().bit_generator.state, np.random.get_state()
    config.enable_determinism()
    try:
        with _replayed_randomness(layer):
            for n in (1, 2):
                config.set_num_threads(n)
                with compute_scope():
                    out, cache = _forward(layer, x, case.training, record=True)
                    for v in layer.trainable_weights:
                        v._fresh = True
                    if layer._traced:
                        dx = _tracing.backpropagate(cache, dy)
                    else:
                        dx = layer.backward(
                            dy if isinstance(out, (list, tuple)) else dy[0], cache, need_input_grad=not case.int_input
                        )
                results.append((_copies(out), _copies(dx), [v.grad.copy() for v in layer.trainable_weights]))
    finally:
        config.set_num_threads(threads)
        if not deterministic:
            config.disable_determinism()
        config.rng().bit_generator.state = generator_state
        np.random.set_state(legacy_state)
    (out1, dx1, g1), (out2, dx2, g2) = results
    _assert_equal(out2, out1, "outputs with 2 threads vs 1")
    _assert_equal(dx2, dx1, "input gradients with 2 threads vs 1")
    _assert_equal(g2, g1, "weight gradients with 2 threads vs 1")


def _copies(values):
    return [None if v is None else np.array(v, copy=True) for v in _flat(values)]
