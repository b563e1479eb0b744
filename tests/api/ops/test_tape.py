"""GradientTape semantics: the lecture's graphs, Variables, nesting, threads, no Tensor leaks."""

import threading

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.variables import Variable

ops = rv.ops


def test_lecture_sum_times_z():
    # f(x, y, z) = (x + y) * z at x = 1, y = -3, z = 4: d = -2, f = -8, df/dx = df/dy = 4, df/dz = -2.
    with rv.GradientTape() as tape:
        x, y, z = tape.watch([np.array(1.0), np.array(-3.0), np.array(4.0)])
        d = x + y
        f = d * z
    assert float(d) == -2.0 and float(f) == -8.0
    assert [float(g) for g in tape.gradient(f, [x, y, z])] == [4.0, 4.0, -2.0]


def test_lecture_sigmoid_neuron():
    # f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) at w = (2, -3, -3), x = (-1, -2).
    with rv.GradientTape() as tape:
        w, x = tape.watch([np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])])
        f = 1 / (1 + ops.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))
    dw, dx = tape.gradient(f, [w, x])
    assert float(f) == pytest.approx(0.73, abs=5e-3)
    np.testing.assert_allclose(dw, [-0.20, -0.39, 0.20], atol=5e-3)
    np.testing.assert_allclose(dx, [0.39, -0.59], atol=5e-3)


def test_plain_arrays_give_plain_arrays():
    x = np.arange(6.0).reshape(2, 3)
    results = [
        ops.exp(x),
        ops.add(x, 1),
        ops.matmul(x, x.T),
        ops.sum(x, axis=0),
        ops.relu(x),
        ops.softmax(x),
        ops.reshape(x, (3, 2)),
        ops.concatenate([x, x]),
        ops.greater(x, 1.0),
        ops.argmax(x, axis=1),
        ops.stop_gradient(x),
        ops.convert_to_tensor(x),
    ]
    results += ops.split(x, 3, axis=1)
    with rv.GradientTape():  # an active tape records nothing for constants
        results += [ops.exp(x), x @ np.ones((3, 1))]
    assert all(type(r) is np.ndarray for r in results)


def test_variables_outside_a_tape_give_plain_arrays():
    w = Variable("w", np.ones((3, 2)))
    x = np.ones((4, 3))
    for r in (x @ w, w + 1.0, 2.0 * w, np.ones(2) * w, ops.matmul(x, w), -w, w[0], w.T, abs(w)):
        assert type(r) is np.ndarray
    np.testing.assert_array_equal(np.asarray(w), w.value)
    assert hash(w) == object.__hash__(w)


def test_tensors_outside_a_tape_stay_tensors_without_nodes():
    with rv.GradientTape() as tape:
        x = tape.watch(np.ones(3))
    y = ops.exp(x) * 2.0
    assert isinstance(y, ops.Tensor) and y.traced
    assert tape._nodes == []
    assert not ops.argmax(x).traced and not (x > 0).traced


def test_variable_gradients_and_hook():
    kernel = Variable("kernel", np.arange(6.0).reshape(3, 2) / 10)
    bias = Variable("bias", np.array([0.5, -0.5]))
    frozen = Variable("frozen", np.ones(2), trainable=False)
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    with rv.GradientTape(persistent=True) as tape:
        y = ops.relu(x @ kernel + bias) * frozen
        loss = ops.sum(y * y) + ops.sum(kernel * kernel)  # the kernel is used twice
    z = x @ kernel.value + bias.value
    dy = 2 * np.maximum(z, 0)
    dk, db = tape.gradient(loss, [kernel, bias])
    np.testing.assert_allclose(dk, x.T @ dy + 2 * kernel.value)
    np.testing.assert_allclose(db, dy.sum(0))
    assert tape.gradient(loss, frozen) is None  # non-trainable: a constant
    assert {v.name for v in tape.watched_variables()} == {"kernel", "bias"}
    seen = {}
    tape.backward([loss], [np.array(1.0)], variable_grad=lambda v, g: seen.setdefault(v.name, []).append(g))
    assert sorted(seen) == ["bias", "kernel"] and all(len(g) == 1 for g in seen.values())
    np.testing.assert_allclose(seen["kernel"][0], dk)
    assert seen["kernel"][0].flags.c_contiguous and seen["kernel"][0].dtype == np.float64


def test_executor_entry_traces_a_call():
    """What the executor does for a layer without backward: trace call, then backward with dy."""
    kernel = Variable("kernel", np.full((3, 2), 0.5, np.float32))
    x = np.ones((4, 3), np.float32)
    tape = rv.GradientTape()
    with tape:
        xt = tape.watch(x)
        out = ops.tanh(xt @ kernel)
    grads = {}
    dy = np.ones((4, 2), np.float32)
    (dx,) = tape.backward([out], [dy], sources=[xt], variable_grad=lambda v, g: grads.__setitem__(v.name, g))
    local = dy * (1 - np.tanh(x @ kernel.value) ** 2)
    np.testing.assert_allclose(dx, local @ kernel.value.T, rtol=1e-6)
    np.testing.assert_allclose(grads["kernel"], x.T @ local, rtol=1e-6)
    assert dx.dtype == np.float32 and grads["kernel"].dtype == np.float32
    assert tape._nodes == []  # a non-persistent tape frees its recording


def test_backward_gives_zeros_for_unused_sources():
    tape = rv.GradientTape()
    with tape:
        a, b = tape.watch([np.ones(2), np.ones(3)])
        out = a * 2.0
    da, db = tape.backward([out], [np.ones(2)], sources=[a, b])
    np.testing.assert_array_equal(da, [2.0, 2.0])
    np.testing.assert_array_equal(db, np.zeros(3))


def test_unconnected_and_output_gradients():
    with rv.GradientTape(persistent=True) as tape:
        a, b = tape.watch([np.array([1.0, 2.0]), np.array(3.0)])
        y = a * a
    assert tape.gradient(y, b) is None
    assert tape.gradient(y, b, unconnected_gradients="zero") == 0.0
    np.testing.assert_array_equal(tape.gradient(y, a), [2.0, 4.0])  # non-scalar target: summed
    np.testing.assert_array_equal(tape.gradient(y, a, output_gradients=np.array([1.0, -1.0])), [2.0, -4.0])
    np.testing.assert_array_equal(tape.gradient(y, {"a": a})["a"], [2.0, 4.0])


def test_non_persistent_tape_computes_once():
    with rv.GradientTape() as tape:
        x = tape.watch(np.array(2.0))
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_nested_tapes_both_record():
    with rv.GradientTape() as outer:
        x = outer.watch(np.array(3.0))
        with rv.GradientTape() as inner:
            y = x * x
        z = y * 2.0
    assert float(inner.gradient(y, x)) == 6.0
    assert float(outer.gradient(z, x)) == 12.0


def test_stop_recording_and_stop_gradient():
    with rv.GradientTape(persistent=True) as tape:
        x = tape.watch(np.array(2.0))
        with tape.stop_recording():
            hidden = x * x
        y = x * ops.stop_gradient(x * x) + hidden
    assert float(tape.gradient(y, x)) == 4.0  # only the first factor's path
    assert tape.gradient(hidden, x) is None


def test_watch_and_source_errors():
    tape = rv.GradientTape()
    with tape:
        with pytest.raises(TypeError, match="float"):
            tape.watch(np.arange(3))
        x = np.ones(2)
        tape.watch(x)
        y = ops.sum(x * 2.0)
    with pytest.raises(TypeError, match="x = tape.watch"):
        tape.gradient(y, x)


def test_tapes_are_per_thread():
    barrier = threading.Barrier(4)
    results, errors = {}, []

    def work(i):
        try:
            w = Variable(f"w{i}", np.full(3, float(i + 1)))
            for _ in range(50):
                with rv.GradientTape() as tape:
                    barrier.wait(timeout=10) if _ == 0 else None
                    loss = ops.sum(w * w * (i + 1))
                g = tape.gradient(loss, w)
                assert len(tape._nodes) == 0
            results[i] = g
            # Another thread's tape never sees this thread's ops.
            assert ops.exp(np.ones(2)).__class__ is np.ndarray
        except Exception as err:  # noqa: BLE001 - any failure in a thread is reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        np.testing.assert_allclose(results[i], 2 * (i + 1) * np.full(3, float(i + 1)))


def test_tensor_behaves_as_an_array():
    with rv.GradientTape() as tape:
        x = tape.watch(np.arange(6.0).reshape(2, 3))
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float64 and len(x) == 2
        np.testing.assert_array_equal(np.asarray(x), x.value)
        y = np.ones((2, 3)) * x  # ndarray operators defer to the Tensor
        z = np.ones(3) @ x.T
        rows = list(x)
    assert isinstance(y, ops.Tensor) and isinstance(z, ops.Tensor) and len(rows) == 2
    assert "Tensor(" in repr(x)
    with pytest.raises(TypeError):
        np.exp(x)  # ufuncs defer: use ops.exp


def test_float32_stays_float32():
    with rv.GradientTape() as tape:
        x = tape.watch(np.ones((2, 3), np.float32))
        y = ops.sum(ops.sigmoid(x * 2.0) @ np.ones((3, 2), np.float32))
    assert y.dtype == np.float32
    assert tape.gradient(y, x).dtype == np.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ops.matmul(np.ones((2, 3)), np.ones((4, 2))), r"ops.matmul: .*\(2, 3\) and \(4, 2\)"),
        (lambda: ops.matmul(ops.GradientTape().watch(np.ones((2, 3))), np.ones((4, 2))), "ops.matmul"),
        (lambda: ops.exp(np.array(["a"])), "ops.exp: x must be numeric"),
        (lambda: ops.one_hot(np.array([0.5]), 3), "ops.one_hot: x must hold integer labels"),
        (lambda: ops.conv(np.ones((1, 2, 2, 2, 1)), np.ones((1, 1, 1, 1, 1))), "ops.conv: 1-D and 2-D"),
        (lambda: ops.sum(np.ones((2, 2)), axis=3), "ops.sum: axis 3 is out of range"),
        (lambda: ops.binary_crossentropy(np.ones(2), np.ones(3)), "ops.binary_crossentropy: target and output"),
        (lambda: ops.cast(np.ones(2), "nope"), "ops.cast: dtype"),
    ],
)
def test_errors_name_the_op(call, match):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=match):
        call()
