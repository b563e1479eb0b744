"""Random augmentation layers: identity at inference, TF's sampling geometry in training."""

import numpy as np
import pytest
from scipy import ndimage

import ranvier as rv

L = rv.layers
_SCIPY_MODES = {"constant": "grid-constant", "reflect": "reflect", "nearest": "nearest"}


def _images(shape=(3, 6, 6, 2), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    "layer",
    [
        L.RandomFlip(seed=1),
        L.RandomRotation(0.3, seed=1),
        L.RandomZoom(0.3, seed=1),
        L.RandomTranslation(0.3, 0.3, seed=1),
        L.RandomContrast(0.5, seed=1),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_identity_at_inference_random_in_training_repeatable_by_seed(layer):
    x = _images().astype("float32")
    np.testing.assert_array_equal(layer(x, training=False), x)
    # Called with no training flag the layer augments: its call's default is True, as in Keras 3.
    out = layer(x)
    assert not np.array_equal(out, x)
    again = type(layer).from_config(layer.get_config())
    np.testing.assert_array_equal(again(x, training=True), out)


def test_training_resolves_as_in_keras_explicit_then_enclosing_call_then_default():
    x = _images().astype("float32")
    model = rv.Sequential([rv.layers.Input(x.shape[1:]), L.RandomFlip(seed=2), rv.layers.Dropout(0.9, seed=2)])
    flip_only = L.RandomFlip(seed=2)(x)
    # No flag anywhere: each layer takes its own default (RandomFlip True, Dropout False).
    np.testing.assert_array_equal(model(x), flip_only)
    np.testing.assert_array_equal(model(x, training=False), x)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)

    class Outer(rv.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.flip = L.RandomFlip(seed=2)

        def call(self, inputs, training=False):
            return self.flip(inputs)

    # A traced layer's call passes its flag to the layers it calls without one.
    np.testing.assert_array_equal(Outer()(x), x)
    np.testing.assert_array_equal(Outer()(x, training=True), flip_only)


def test_random_flip_flips_whole_images():
    x = _images((16, 3, 4, 1))
    out = L.RandomFlip("horizontal", seed=3, dtype="float64")(x, training=True)
    flipped = [np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_quarter_turn_rotation_is_rot90():
    x = _images((2, 5, 5, 3))
    out = L.RandomRotation((0.25, 0.25), fill_mode="constant", dtype="float64")(x, training=True)
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(1, 2)), atol=1e-12)


@pytest.mark.parametrize("fill_mode", ["constant", "reflect", "nearest"])
def test_rotation_samples_like_scipy_map_coordinates(fill_mode):
    x = _images((2, 7, 6, 2))
    angle = 0.1 * 2 * np.pi
    layer = L.RandomRotation((0.1, 0.1), fill_mode=fill_mode, fill_value=0.7, dtype="float64")
    out = layer(x, training=True)
    h, w = 7, 6
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    cos, sin = np.cos(angle), np.sin(angle)
    src_x = cos * xs - sin * ys + ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2
    src_y = sin * xs + cos * ys + ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2
    for b in range(2):
        for c in range(2):
            ref = ndimage.map_coordinates(
                x[b, :, :, c], [src_y, src_x], order=1, mode=_SCIPY_MODES[fill_mode], cval=0.7
            )
            np.testing.assert_allclose(out[b, :, :, c], ref, atol=1e-12)


def test_translation_by_whole_pixels_shifts_and_fills():
    x = _images((2, 4, 5, 1))
    out = L.RandomTranslation((0.5, 0.5), (-0.2, -0.2), fill_mode="constant", fill_value=-3.0, dtype="float64")(
        x, training=True
    )
    expected = np.full_like(x, -3.0)
    expected[:, 2:, :4] = x[:, :2, 1:]  # down by 2 rows, left by 1 column
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_zoom_zero_is_identity_and_zoom_out_matches_scipy():
    x = _images((2, 6, 8, 1))
    np.testing.assert_allclose(L.RandomZoom((0.0, 0.0), dtype="float64")(x, training=True), x, atol=1e-12)
    out = L.RandomZoom((0.5, 0.5), (0.25, 0.25), fill_mode="reflect", dtype="float64")(x, training=True)
    ys, xs = np.mgrid[0:6, 0:8].astype(float)
    src_y, src_x = 1.5 * ys + 2.5 * (1 - 1.5), 1.25 * xs + 3.5 * (1 - 1.25)
    for b in range(2):
        ref = ndimage.map_coordinates(x[b, :, :, 0], [src_y, src_x], order=1, mode="reflect")
        np.testing.assert_allclose(out[b, :, :, 0], ref, atol=1e-12)


def test_contrast_scales_deviations_from_the_channel_mean():
    x = _images((4, 5, 5, 3))
    out = L.RandomContrast((0.5, 0.5), value_range=(-100, 100), seed=2, dtype="float64")(x, training=True)
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2), keepdims=True), mean, atol=1e-12)
    ratio = (out - mean) / (x - mean)
    factors = ratio.reshape(4, -1)
    np.testing.assert_allclose(factors, factors[:, :1] * np.ones_like(factors), rtol=1e-9)
    assert ((factors >= 0.5) & (factors <= 1.5)).all()
    clipped = L.RandomContrast(0.9, value_range=(0, 1), seed=2, dtype="float64")(x, training=True)
    assert clipped.min() >= 0 and clipped.max() <= 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: L.RandomRotation(0.1, fill_mode="mirror"), "fill_mode must be one of"),
        (lambda: L.RandomZoom(1.5), r"height_factor must be a number or a \(lower, upper\) pair"),
        (lambda: L.RandomTranslation((0.3, 0.1), 0.1), "height_factor must be"),
        (lambda: L.RandomContrast(1.5), "factor must be"),
        (lambda: L.RandomFlip("diagonal"), "mode must be one of"),
        (lambda: L.RandomRotation(0.1, interpolation="bicubic"), "interpolation must be one of"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_augmentation_layers_train_and_predict_inside_models():
    # (Their input gradients are checked by finite differences in test_contract.py.)
    x = _images((8, 6, 6, 1)).astype("float32")
    inputs = L.Input((6, 6, 1))
    h = L.RandomContrast(0.2, value_range=(-10, 10), seed=1)(L.RandomRotation(0.1, seed=1)(inputs))
    model = rv.Sequential(
        [L.Input((6, 6, 1)), L.RandomFlip(seed=0), L.RandomZoom(0.2, seed=0), L.Flatten(), L.Dense(1)]
    )
    model.compile("sgd", "mse")
    before = model.get_weights()[0].copy()
    model.fit(x, np.ones(8), epochs=1, verbose=0)
    assert not np.array_equal(model.get_weights()[0], before)
    assert rv.Model(inputs, h).predict(x).shape == x.shape
