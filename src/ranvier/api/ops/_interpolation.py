"""Resizing as a linear map: one interpolation matrix per axis (the Resizing layer, ``ops.image.resize``).

An image resized is ``Mh @ image @ Mw.T`` per channel (``separable``), each
row of ``Mh`` / ``Mw`` holding TF's interpolation weights of one output
row / column, so the gradient is the transposed map ``Mh.T @ dy @ Mw``.
"""

import numpy as np

__all__ = ["axis_matrix", "separable", "resize_matrices"]


def axis_matrix(in_size, out_size, interpolation, start=0, length=None):
    """``(out_size, in_size)`` weights resizing ``[start, start + length)`` of an axis to ``out_size`` (TF's kernel).

    Half-pixel centres, no antialiasing: ``tf.image.resize`` (Keras' Resizing on TensorFlow).
    """
    length = in_size if length is None else length
    scale = length / out_size
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if interpolation == "nearest":
        src = np.minimum(np.floor((rows + 0.5) * scale).astype(np.int64), length - 1)
        m[rows, start + src] = 1.0
        return m
    src = (rows + 0.5) * scale - 0.5
    floor = np.floor(src)
    lerp = src - floor
    lo = np.clip(floor, 0, length - 1).astype(np.int64)
    hi = np.clip(np.ceil(src), 0, length - 1).astype(np.int64)
    np.add.at(m, (rows, start + lo), 1.0 - lerp)
    np.add.at(m, (rows, start + hi), lerp)
    return m


def separable(x, mh, mw):
    """``mh @ x[b, :, :, c] @ mw.T`` for every image and channel."""
    b, h, w, c = x.shape
    t = np.matmul(mh, x.reshape(b, h, w * c)).reshape(b * mh.shape[0], w, c)
    return np.matmul(mw, t).reshape(b, mh.shape[0], mw.shape[0], c)


def resize_matrices(h, w, height, width, interpolation, crop_to_aspect_ratio, dtype):
    """The two axis matrices of resizing an ``h x w`` image to ``height x width`` (Keras' centred crop first)."""
    top, left, crop_h, crop_w = 0, 0, h, w
    if crop_to_aspect_ratio:
        crop_h = min(h, int(float(w * height) / width))
        crop_w = min(w, int(float(h * width) / height))
        top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    mh = axis_matrix(h, height, interpolation, top, crop_h)
    mw = axis_matrix(w, width, interpolation, left, crop_w)
    return mh.astype(dtype), mw.astype(dtype)
