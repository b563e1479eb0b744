"""Keras arguments ranvier does not implement raise NotImplementedError naming them (and stay ValueErrors)."""

import pytest

import ranvier as rv

L = rv.layers


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: L.Conv2DTranspose(4, 3, data_format="channels_first"), "data_format"),
        (lambda: L.Conv2D(4, 3, data_format="channels_first"), "data_format"),
        (lambda: L.DepthwiseConv2D(3, data_format="channels_first"), "data_format"),
        (lambda: L.MaxPooling2D(data_format="channels_first"), "data_format"),
        (lambda: L.GlobalAveragePooling2D(data_format="channels_first"), "data_format"),
        (lambda: L.Flatten(data_format="channels_first"), "data_format"),
        (lambda: L.ZeroPadding2D(data_format="channels_first"), "data_format"),
        (lambda: L.UpSampling2D(data_format="channels_first"), "data_format"),
        (lambda: L.InputLayer(shape=(3,), sparse=True), "sparse"),
        (lambda: L.LSTM(3, stateful=True), "stateful"),
        (lambda: L.GRU(3, reset_after=False), "reset_after"),
        (lambda: L.LayerNormalization(rms_scaling=True), "rms_scaling"),
    ],
)
def test_unsupported_keras_arguments_raise_not_implemented(make, argument):
    with pytest.raises(NotImplementedError, match=argument) as info:
        make()
    assert isinstance(info.value, ValueError)  # what these raised before
