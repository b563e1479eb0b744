"""Resizing and CenterCrop against a per-pixel reference of TF's resize, and PyTorch."""

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def _tf_resize_reference(image, out_h, out_w, interpolation):
    """tf.image.resize (half-pixel centres, antialias False), one output pixel at a time."""
    h, w, c = image.shape
    out = np.zeros((out_h, out_w, c))
    sy, sx = h / out_h, w / out_w
    for i in range(out_h):
        for j in range(out_w):
            if interpolation == "nearest":
                out[i, j] = image[min(int(np.floor((i + 0.5) * sy)), h - 1), min(int(np.floor((j + 0.5) * sx)), w - 1)]
                continue
            y, x = (i + 0.5) * sy - 0.5, (j + 0.5) * sx - 0.5
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            dy, dx = y - y0, x - x0
            ylo, yhi = max(y0, 0), min(int(np.ceil(y)), h - 1)
            xlo, xhi = max(x0, 0), min(int(np.ceil(x)), w - 1)
            top = image[ylo, xlo] * (1 - dx) + image[ylo, xhi] * dx
            bottom = image[yhi, xlo] * (1 - dx) + image[yhi, xhi] * dx
            out[i, j] = top * (1 - dy) + bottom * dy
    return out


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("size", [(3, 7), (8, 2), (5, 6)])
def test_resizing_matches_tf_semantics(interpolation, size):
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 3))
    out = L.Resizing(*size, interpolation=interpolation, dtype="float64")(x)
    expected = np.stack([_tf_resize_reference(img, *size, interpolation) for img in x])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_resizing_crop_to_aspect_ratio_resizes_the_centred_window():
    x = np.random.default_rng(1).standard_normal((2, 6, 9, 2))
    out = L.Resizing(4, 4, crop_to_aspect_ratio=True, dtype="float64")(x)
    window = x[:, :, 1:7]  # the 6 x 6 window centred in 9 columns (Keras: int((9 - 6) / 2) = 1)
    expected = np.stack([_tf_resize_reference(img, 4, 4, "bilinear") for img in window])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode, torch_mode", [("bilinear", "bilinear"), ("nearest", "nearest-exact")])
def test_resizing_matches_pytorch_interpolate(mode, torch_mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 7, 5, 3)).astype("float32")
    out = L.Resizing(4, 9, interpolation=mode)(x)
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(x).permute(0, 3, 1, 2), size=(4, 9), mode=torch_mode, **kwargs
    )
    np.testing.assert_allclose(out, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-6)


def test_center_crop_slices_the_centre_and_resizes_small_images():
    x = np.random.default_rng(3).standard_normal((2, 7, 6, 1))
    np.testing.assert_array_equal(L.CenterCrop(3, 4, dtype="float64")(x), x[:, 2:5, 1:5])
    small = L.CenterCrop(8, 4, dtype="float64")(x)  # taller than the image: smart_resize
    np.testing.assert_allclose(small, L.Resizing(8, 4, crop_to_aspect_ratio=True, dtype="float64")(x), rtol=1e-12)


def test_resizing_gradient_is_the_transposed_map():
    # <resize(x), dy> == <x, backward(dy)> for every x, dy: backward is the adjoint.
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((2, 3, 7, 2))
    layer = L.Resizing(3, 7, dtype="float64")
    out, cache = layer.call(x)
    np.testing.assert_allclose(np.sum(out * dy), np.sum(x * layer.backward(dy, cache)), rtol=1e-12)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (L.Resizing, {"height": 0, "width": 2}, "height must be an integer >= 1, got 0"),
        (L.Resizing, {"height": 2, "width": 2, "interpolation": "bicubic"}, "interpolation must be one of"),
        (L.Resizing, {"height": 2, "width": 2, "antialias": True}, "antialias is not supported"),
        (
            L.CenterCrop,
            {"height": 2, "width": 2, "data_format": "channels_first"},
            "only data_format=.channels_last. is supported",
        ),
    ],
)
def test_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_non_image_input_is_refused():
    with pytest.raises(ValueError, match=r"images of shape \(batch, height, width, channels\), got shape \(2, 3\)"):
        L.Resizing(2, 2)(np.zeros((2, 3), "float32"))
