"""Save models with the pre-registry code as backward-compatibility fixtures (tests/api/test_saving.py).

Ran once at commit dd1ef89 (before the serialization registry):
``PYTHONPATH=src python tests/api/data/make_fixtures.py tests/api/data``. Do not re-run it with newer
code: the point of the files is that they were written by the old code.
"""

import os
import sys

import numpy as np

import ranvier as rv

out = sys.argv[1]


class Scale(rv.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=False):
        return x * self.factor, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def probe(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def save(model, name, x):
    model.save(os.path.join(out, f"{name}.ranvier"))
    np.savez(os.path.join(out, f"{name}.expected.npz"), x=x, y=model.predict(x, verbose=0))


rng = np.random.default_rng(0)
rv.config.set_random_seed(0)
x = rng.standard_normal((64, 6)).astype(np.float32)
y = rng.integers(0, 3, 64)
m = rv.Sequential(
    [
        rv.layers.Input((6,)),
        rv.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
        rv.layers.BatchNormalization(),
        rv.layers.Dropout(0.2, seed=3),
        rv.layers.Dense(3, activation="softmax"),
    ],
    name="mlp",
)
m.compile(
    optimizer=rv.optimizers.Adam(1e-2),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy", rv.metrics.SparseTopKCategoricalAccuracy(k=2)],
)
m.fit(x, y, epochs=2, batch_size=16, verbose=0)
m.save(os.path.join(out, "sequential_mlp.ranvier"))
# One more step, taken here, must match one taken on the reloaded model: that checks that the
# optimizer state (Adam moments, step count) came back. (The old code saved this file but could
# not load it: compile choked on the serialized metric object.)
before = m.predict(x[:8], verbose=0)
m.layers[2]._rng = None  # the dropout masks restart from seed=3, as in a freshly loaded model
m.train_on_batch(x[:16], y[:16])
np.savez(
    os.path.join(out, "sequential_mlp.expected.npz"),
    x=x[:8],
    y=before,
    x_train=x[:16],
    y_train=y[:16],
    y_after_step=m.predict(x[:8], verbose=0),
)

inp = rv.layers.Input((6,))
shared = rv.layers.Dense(5, activation="tanh", name="shared")
a = rv.layers.Dense(4, activation="relu", name="branch_a")(shared(inp))
b = rv.layers.Dense(4, activation="elu", name="branch_b", kernel_initializer="he_normal")(inp)
b = shared(rv.layers.Dense(6, name="to_shared")(b))
f = rv.Model(inp, [a, b], name="two_branch")
f_x = x[:8]
f.save(os.path.join(out, "functional_shared.ranvier"))
# predict gives the first output; the second is recomputed from the layers, eagerly
y1 = f.get_layer("shared")(f.get_layer("to_shared")(f.get_layer("branch_b")(f_x)))
np.savez(os.path.join(out, "functional_shared.expected.npz"), x=f_x, y=f.predict(f_x, verbose=0), y1=y1)

seq = rng.standard_normal((4, 5, 3)).astype(np.float32)
lstm = rv.Sequential(
    [
        rv.layers.Input((5, 3)),
        rv.layers.LSTM(4, return_sequences=True),
        rv.layers.LSTM(3),
        rv.layers.Dense(
            2,
            kernel_constraint="max_norm",
            activation=rv.activations.get({"class_name": "relu", "config": {"max_value": 6.0}}),
        ),
    ],
    name="lstm",
)
schedule = rv.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
lstm.compile(optimizer=rv.optimizers.SGD(schedule), loss=rv.losses.Huber(delta=0.5), metrics=["mae"])
lstm.fit(seq, rng.standard_normal((4, 2)).astype(np.float32), epochs=2, verbose=0)
save(lstm, "lstm", seq)

wrap = rv.Sequential(
    [
        rv.layers.Input((5, 3)),
        rv.layers.Bidirectional(rv.layers.GRU(3, return_sequences=True)),
        rv.layers.TimeDistributed(rv.layers.Dense(2, activation="sigmoid")),
    ],
    name="wrapped",
)
save(wrap, "wrappers", seq)

custom = rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(4), Scale(3.0, name="scale")], name="custom")
custom.compile(optimizer=rv.optimizers.SGD(0.1, momentum=0.9), loss="mae")
custom.fit(x, rng.standard_normal((64, 4)).astype(np.float32), epochs=1, verbose=0)
save(custom, "custom_layer", x[:8])
