"""Subclassed models, custom train_step, GradientTape over a model, Keras' optimizer.apply."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops

rng = np.random.default_rng(0)
X = rng.standard_normal((48, 6)).astype(np.float32)
Y = rng.integers(0, 3, 48)


@rv.saving.register_keras_serializable(package="test_subclassed")
class Net(rv.Model):
    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = rv.layers.Dense(units, activation="relu")
        self.out = rv.layers.Dense(3)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))


@rv.saving.register_keras_serializable(package="test_subclassed")
class GuideNet(Net):
    """The Keras guide's train_step ("Customizing what happens in fit()")."""

    def train_step(self, data):
        x, y = data
        with rv.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _compiled(cls, seed=7):
    rv.config.set_random_seed(seed)
    model = cls(units=8)
    model.compile(
        optimizer=rv.optimizers.Adam(0.01),
        metrics=["accuracy"],
        loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_a_subclassed_model_builds_on_first_data_and_trains():
    model = _compiled(Net)
    assert not model.built
    with pytest.raises(ValueError, match="not built yet"):
        model.summary()
    history = model.fit(X, Y, epochs=4, batch_size=16, verbose=0)
    assert model.built and [layer.name for layer in model.layers] == [model.hidden.name, model.out.name]
    assert len(model.trainable_variables) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(X[:5]).shape == (5, 3)
    np.testing.assert_array_equal(model(X[:5]), model.predict(X[:5]))


def test_the_keras_guide_train_step_matches_fit_bit_for_bit():
    default, custom = _compiled(Net), _compiled(GuideNet)
    for model in (default, custom):
        model.build((None, 6))
    custom.set_weights(default.get_weights())
    h_default = default.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    h_custom = custom.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    for a, b in zip(default.get_weights(), custom.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert h_default["accuracy"] == h_custom["accuracy"]
    np.testing.assert_allclose(h_default["loss"], h_custom["loss"], rtol=1e-6)


def test_save_and_load_predict_bit_identically(tmp_path):
    model = _compiled(GuideNet)
    model.fit(X, Y, epochs=2, verbose=0)
    model.save(tmp_path / "net.ranvier")
    loaded = rv.load_model(tmp_path / "net.ranvier")
    assert type(loaded) is GuideNet and loaded.units == 8
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # The optimizer state came back too: one more step is the same on both.
    for m in (model, loaded):
        m.fit(X, Y, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gradient_tape_over_a_model_gives_the_fit_gradients(float64):
    model = _compiled(Net)
    x, y = X.astype(np.float64), Y
    model.build((None, 6))
    xp, yp, sw = model._prepare(x, y)
    model._compute_gradients(xp, yp, sw)
    expected = [v.grad.copy() for v in model.trainable_variables]
    with rv.GradientTape() as tape:
        loss = model.compute_loss(y=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_optimizer_apply_takes_all_variables_of_the_compiled_model():
    model = _compiled(Net)
    model.build((None, 6))
    variables = model.trainable_variables
    with pytest.raises(NotImplementedError, match="all 4 trainable variables"):
        model.optimizer.apply([np.zeros(v.shape) for v in variables[:2]], variables[:2])
    with pytest.raises(ValueError, match="must have shape"):
        model.optimizer.apply([np.zeros((1,))] * 4, variables)
    before = model.get_weights()
    model.optimizer.apply([np.ones(v.shape) for v in variables], variables)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_tape_differentiates_plain_ops():
    with rv.GradientTape() as tape:
        x = tape.watch(np.array([1.0, -3.0, 4.0]))
        f = (x[0] + x[1]) * x[2]
    np.testing.assert_allclose(tape.gradient(f, x), [4.0, 4.0, -2.0])
    assert float(ops.convert_to_numpy(f)) == -8.0


def test_a_model_called_on_another_models_output_under_a_tape_passes_gradients_back():
    """``decoder(encoder(x))`` in a custom train_step (VAE, GAN): the encoder trains through
    the decoder. Its gradients equal those of the same two models stacked in one Sequential."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    encoder = rv.Sequential([rv.layers.Input((5,)), rv.layers.Dense(3, activation="tanh")])
    decoder = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(5)])
    with rv.GradientTape() as tape:
        loss = rv.ops.mean(rv.ops.square(decoder(encoder(x)) - x))
    taped = tape.gradient(loss, encoder.trainable_variables + decoder.trainable_variables)

    stacked = rv.Sequential([rv.layers.Input((5,)), encoder, decoder])
    with rv.GradientTape() as tape:
        loss = rv.ops.mean(rv.ops.square(stacked(x) - x))
    expected = tape.gradient(loss, encoder.trainable_variables + decoder.trainable_variables)
    assert np.abs(np.asarray(taped[0])).max() > 0
    for got, want in zip(taped, expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-7)


class _FeedForwardBlock(rv.layers.Layer):
    """Keras' transformer example keeps its feed-forward part as a Sequential in an attribute."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ffn = rv.Sequential([rv.layers.Dense(6, activation="relu"), rv.layers.Dense(4)])
        self.norm = rv.layers.LayerNormalization()

    def call(self, inputs):
        return self.norm(inputs + self.ffn(inputs))


def test_a_model_held_in_a_layer_attribute_is_part_of_the_layer(tmp_path):
    # Its weights were left out: never trained, never saved.
    rv.config.set_random_seed(0)
    inp = rv.layers.Input((3, 4))
    block = _FeedForwardBlock()
    model = rv.Model(inp, block(inp))
    assert len(model.trainable_weights) == 6  # two Dense (kernel, bias) and the norm's gamma, beta
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="mse")
    before = [w.copy() for w in block.ffn.get_weights()]
    rng = np.random.default_rng(1)
    model.fit(rng.standard_normal((16, 3, 4)), rng.standard_normal((16, 3, 4)), epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, block.ffn.get_weights()))
    path = tmp_path / "m.ranvier"
    model.save(path)
    again = rv.saving.load_model(path, custom_objects={"_FeedForwardBlock": _FeedForwardBlock})
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


class _Sampling(rv.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = rv.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = rv.random.normal(shape=rv.ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + rv.ops.exp(0.5 * z_log_var) * eps


class _VAE(rv.Model):
    """keras-io's VAE pattern: models in attributes, train_step(data) with data = x, trackers as metrics."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.tracker = rv.metrics.Mean(name="loss")
        self.seen = []

    @property
    def metrics(self):
        return [self.tracker]

    def train_step(self, data):
        self.seen.append(type(data))
        with rv.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)  # no training flag: traced all the same
            rec = self.decoder(z)
            loss = rv.ops.mean(rv.ops.sum(rv.ops.square(data - rec), axis=1))
            loss = loss + rv.ops.mean(-0.5 * (1 + z_log_var - rv.ops.square(z_mean) - rv.ops.exp(z_log_var)))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    def call(self, x):
        return self.decoder(self.encoder(x)[2])


def test_the_keras_vae_pattern_trains_encoder_and_decoder():
    rv.config.set_random_seed(0)
    L = rv.layers
    inp = L.Input((6,))
    h = L.Dense(8, activation="relu")(inp)
    z_mean, z_log_var = L.Dense(2)(h), L.Dense(2)(h)
    encoder = rv.Model(inp, [z_mean, z_log_var, _Sampling()([z_mean, z_log_var])])
    latent = L.Input((2,))
    decoder = rv.Model(latent, L.Dense(6)(L.Dense(8, activation="relu")(latent)))
    vae = _VAE(encoder, decoder)
    vae.compile(optimizer=rv.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    before = [w.copy() for w in encoder.get_weights()]
    history = vae.fit(x, epochs=5, batch_size=16, verbose=0).history
    assert set(vae.seen) == {np.ndarray}  # fit(x) hands train_step x itself, as Keras
    assert len(vae.trainable_weights) == len(encoder.trainable_weights) + len(decoder.trainable_weights) == 10
    assert history["loss"][-1] < history["loss"][0]
    # The sampling layer's inputs got their gradient: both encoder heads trained.
    assert all(not np.array_equal(a, b) for a, b in zip(before, encoder.get_weights()))


def _mlp(seed):
    rv.config.set_random_seed(seed)
    return rv.Sequential([rv.layers.Input((5,)), rv.layers.Dense(4, activation="tanh"), rv.layers.Dense(2)])


@pytest.mark.parametrize("make", [lambda: rv.optimizers.Adam(0.01, weight_decay=0.1), lambda: rv.optimizers.SGD(0.1)])
def test_an_optimizer_on_its_own_variables_updates_as_a_compiled_one(make):
    """A GAN's optimizers update variables of models they were never compiled with."""
    x, y = np.random.default_rng(0).standard_normal((8, 5)), np.random.default_rng(1).standard_normal((8, 2))
    compiled, alone = _mlp(3), _mlp(3)
    compiled.compile(optimizer=make(), loss="mse")
    optimizer = make()
    for step in range(3):
        for model, opt in ((compiled, compiled.optimizer), (alone, optimizer)):
            with rv.GradientTape() as tape:
                loss = rv.ops.mean(rv.ops.square(model(x) - y))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
        if step == 1:  # weights set between steps are what the next step updates
            for model in (compiled, alone):
                model.set_weights([w * 0.5 for w in model.get_weights()])
    for a, b in zip(compiled.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert optimizer.iterations == 3
    with pytest.raises(NotImplementedError, match="all 4 variables of its first call, got 2"):
        optimizer.apply([np.zeros(v.shape) for v in alone.trainable_weights[:2]], alone.trainable_weights[:2])
    with pytest.raises(ValueError, match="listed twice"):
        make().apply([np.zeros((5, 4))] * 2, [alone.trainable_weights[0]] * 2)
    with pytest.raises(TypeError, match="must be Variables, got ndarray"):
        make().apply([np.zeros(3)], [np.zeros(3)])


class _GAN(rv.Model):
    """keras-io's GAN: no call; compile takes two optimizers; train_step updates each model alone."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
        self.seed_generator = rv.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn
        self.d_loss_tracker, self.g_loss_tracker = rv.metrics.Mean(name="d_loss"), rv.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real):
        n = rv.ops.shape(real)[0]
        fake = self.generator(rv.random.normal((n, self.latent_dim), seed=self.seed_generator))
        both = rv.ops.concatenate([fake, real], axis=0)
        labels = rv.ops.concatenate([rv.ops.ones((n, 1)), rv.ops.zeros((n, 1))], axis=0)
        with rv.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(both))
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
        with rv.GradientTape() as tape:
            z = rv.random.normal((n, self.latent_dim), seed=self.seed_generator)
            g_loss = self.loss_fn(rv.ops.zeros((n, 1)), self.discriminator(self.generator(z)))
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_the_keras_gan_pattern_trains_each_model_with_its_optimizer():
    rv.config.set_random_seed(0)
    L = rv.layers
    discriminator = rv.Sequential([L.Input((6,)), L.Dense(8, activation="relu"), L.Dense(1)])
    generator = rv.Sequential([L.Input((3,)), L.Dense(8, activation="relu"), L.Dense(6)])
    gan = _GAN(discriminator, generator, 3)
    gan.compile(rv.optimizers.Adam(1e-3), rv.optimizers.Adam(1e-3), rv.losses.BinaryCrossentropy(from_logits=True))
    d0, g0 = discriminator.get_weights(), generator.get_weights()
    real = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    history = gan.fit(real, epochs=2, batch_size=16, verbose=0).history
    assert sorted(history) == ["d_loss", "g_loss"] and len(history["d_loss"]) == 2
    assert gan.d_optimizer.iterations == gan.g_optimizer.iterations == 8
    for before, model in ((d0, discriminator), (g0, generator)):
        assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(NotImplementedError, match="validation needs a model with a graph"):
        gan.fit(real, validation_split=0.2, verbose=0)


def test_fit_on_a_model_with_only_a_train_step_checks_its_arrays():
    gan = _GAN(
        rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(1)]),
        rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(6)]),
        3,
    )
    gan.compile(rv.optimizers.Adam(), rv.optimizers.Adam(), rv.losses.BinaryCrossentropy(from_logits=True))
    with pytest.raises(
        TypeError, match="fit: x must be numeric arrays with a batch axis, got dtype <U1, shape \\(4,\\)"
    ):
        gan.fit(np.array(list("abcd")), verbose=0)
    with pytest.raises(ValueError, match="one non-zero number of samples, got \\[3, 4\\]"):
        gan.fit(np.ones((4, 6)), np.ones((3, 1)), verbose=0)
    with pytest.raises(ValueError, match="one non-zero number of samples, got \\[0\\]"):
        gan.fit(np.ones((0, 6)), verbose=0)
