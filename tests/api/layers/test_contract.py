"""Every layer of ``rv.layers`` (and the docs' custom layer) passes ``ranvier.testing.check_layer``.

A layer class exported by ``rv.layers`` without an entry in ``CASES`` fails
``test_every_layer_has_a_case``: a new layer cannot skip the contract. An
entry that leaves a check out says why.
"""

import pathlib
import re

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.testing import check_layer
from ranvier.testing._check_layer import CHECKS

L = rv.layers
_IDS = np.array([[1, 2, 3, 4], [5, 6, 7, 0]])


def case(init=None, shape=(2, 3), skip=None, **options):
    """A ``check_layer`` call: ``skip`` maps each check left out to the reason.

    ``init`` is the constructor arguments, or a function returning them (layers
    given as arguments are made when the test runs, not at collection, where
    they would take the default names other tests expect).
    """
    return {"init": init or {}, "shape": shape, "skip": skip or {}, "options": options}


@rv.saving.register_keras_serializable(package="test_contract")
def _scaled_tanh(x, scale=1.0):
    return ops.tanh(x) * scale


_SAVE_MULTI = {
    "save": "a model with several inputs cannot predict yet (issue 14); test_merging.py saves "
    "and loads each merge layer in a one-input model with two branches"
}

# Inputs of the preprocessing layers' cases.
_IMAGE = (2, 4, 5, 2)
_TEXT = np.array([["the cat sat"], ["a dog, the cat!"]], dtype=object)
_WORDS = np.array([["a", "b", "z"], ["c", "c", "a"]], dtype=object)
_RANDOM_SIZE = {
    "symbolic": "the output size is random: None in the symbolic shape, a number in the eager one "
    "(test_augment_extra.py checks the symbolic shape)",
    "threads": "the check shapes dy on a first call whose size draw differs from the replayed ones; the "
    "layer runs NumPy only (test_augment_extra.py checks a seeded layer repeats its outputs)",
}
_NO_GRADIENT = {"gradient": "integer or string inputs and integer outputs: no gradient to check"}

#: One entry per layer class of ``rv.layers``, by class name (aliases such as ``MaxPool2D`` share their class').
CASES = {
    "Layer": case(
        skip={
            c: "the abstract base: call and backward raise NotImplementedError (the custom layer "
            "below checks the protocol)"
            for c in CHECKS
        }
    ),
    "InputLayer": case(
        {"shape": (3,)},
        skip={
            "symbolic": "an InputLayer starts a graph: it is never called on a KerasTensor",
            "save": "a model's inputs are InputLayers already: a second one cannot be added",
            "gradient": "the identity, with no weights",
        },
    ),
    "Dense": case({"units": 3, "activation": "tanh", "kernel_regularizer": "l2"}, (2, 4)),
    "Flatten": case({}, (2, 3, 2)),
    "Reshape": case({"target_shape": (3, 2)}, (2, 6)),
    "Identity": case(),
    "Lambda": case({"function": _scaled_tanh, "arguments": {"scale": 0.5}}),
    "Activation": case({"activation": "gelu"}),
    "ReLU": case({"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}),
    "LeakyReLU": case(),
    "ELU": case(),
    "Softmax": case({"axis": 1}, (2, 3, 4)),
    "PReLU": case({"alpha_initializer": "glorot_uniform", "shared_axes": [1]}, (2, 3, 4)),
    "Maxout": case({"units": 3, "pieces": 2}, (2, 4)),
    "Conv1D": case({"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 7, 3)),
    "Conv2D": case(
        {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}, (2, 6, 6, 2)
    ),
    "DepthwiseConv2D": case({"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 5, 5, 2)),
    "SeparableConv2D": case({"filters": 3, "kernel_size": 3, "activation": "tanh"}, (2, 5, 5, 2)),
    "MaxPooling1D": case({"pool_size": 2}, (2, 6, 3)),
    "MaxPooling2D": case({"pool_size": 2, "strides": 1, "padding": "same"}, (2, 4, 4, 2)),
    "AveragePooling1D": case({"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 3)),
    "AveragePooling2D": case({}, (2, 4, 4, 2)),
    "GlobalMaxPooling1D": case({}, (2, 5, 3)),
    "GlobalMaxPooling2D": case({"keepdims": True}, (2, 3, 3, 2)),
    "GlobalAveragePooling1D": case({}, (2, 5, 3)),
    "GlobalAveragePooling2D": case({}, (2, 3, 3, 2)),
    "ZeroPadding1D": case({"padding": (1, 2)}, (2, 4, 3)),
    "ZeroPadding2D": case({}, (2, 3, 3, 2)),
    "Cropping1D": case({"cropping": (1, 2)}, (2, 5, 3)),
    "Cropping2D": case({"cropping": ((1, 0), (0, 1))}, (2, 4, 4, 2)),
    "UpSampling1D": case({}, (2, 3, 2)),
    "UpSampling2D": case({"interpolation": "bilinear"}, (2, 3, 3, 2)),
    "Embedding": case({"input_dim": 10, "output_dim": 3}, _IDS.shape, input_dtype="int64", input_data=_IDS),
    "SimpleRNN": case({"units": 3, "return_sequences": True, "go_backwards": True}, (2, 4, 3)),
    "LSTM": case({"units": 3, "dropout": 0.2, "recurrent_dropout": 0.2, "seed": 1}, (2, 4, 3)),
    "GRU": case({"units": 3, "return_state": True, "return_sequences": True}, (2, 4, 3)),
    "Bidirectional": case(lambda: {"layer": L.LSTM(3, return_sequences=True)}, (2, 4, 3)),
    # rnn
    "RNN": case(lambda: {"cell": L.LSTMCell(3, dropout=0.2, seed=1), "return_sequences": True}, (2, 4, 3)),
    **{
        name: case(
            skip={
                c: "a cell's call takes (inputs, states): test_rnn_cells.py checks it called directly, "
                "and check_layer runs on RNN(cell)"
                for c in CHECKS
            }
        )
        for name in ("SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells")
    },
    "TimeDistributed": case(lambda: {"layer": L.Dense(3)}, (2, 4, 5)),
    "RepeatVector": case({"n": 3}, (2, 4)),
    # Standard normal input has no all-zero timestep: at one, the mask would jump as the
    # gradient check perturbs it (no derivative there).
    "Masking": case({"mask_value": 0.0}, (2, 4, 3)),
    "BatchNormalization": case({"momentum": 0.9}, (4, 3)),
    "LayerNormalization": case({"axis": [-2, -1]}, (2, 3, 4)),
    "Dropout": case({"rate": 0.3, "seed": 1}, (2, 5)),
    "SpatialDropout1D": case({"rate": 0.3, "seed": 1}, (2, 4, 3)),
    "SpatialDropout2D": case({"rate": 0.3, "seed": 1}, (2, 3, 3, 2)),
    "SpatialDropout3D": case({"rate": 0.3, "seed": 1}, (2, 2, 2, 2, 2)),
    "GaussianNoise": case({"stddev": 0.5, "seed": 1}),
    "GaussianDropout": case({"rate": 0.3, "seed": 1}),
    "AlphaDropout": case({"rate": 0.3, "seed": 1}),
    "ActivityRegularization": case({"l1": 0.01}),
    # Merge layers: a list of inputs (broadcasting where Keras allows it). A model with several
    # inputs cannot predict yet (issue 14), so their save/load is checked in test_merging.py
    # through a one-input model with two branches.
    "Add": case({}, [(2, 3, 4), (2, 1, 4), (2, 3, 4)], skip=_SAVE_MULTI),
    "Subtract": case({}, [(2, 3), (2, 3)], skip=_SAVE_MULTI),
    "Multiply": case({}, [(2, 3), (2, 3)], skip=_SAVE_MULTI),
    "Average": case({}, [(2, 3), (2, 3), (2, 3)], skip=_SAVE_MULTI),
    "Maximum": case({}, [(2, 3), (2, 3)], skip=_SAVE_MULTI),
    "Minimum": case({}, [(2, 3), (2, 3)], skip=_SAVE_MULTI),
    "Concatenate": case({"axis": 1}, [(2, 3, 2), (2, 1, 2)], skip=_SAVE_MULTI),
    "Dot": case({"axes": 1, "normalize": True}, [(2, 4), (2, 4)], skip=_SAVE_MULTI),
    "Conv1DTranspose": case({"filters": 3, "kernel_size": 3, "strides": 2, "activation": "tanh"}, (2, 5, 2)),
    "Conv2DTranspose": case(
        {"filters": 2, "kernel_size": (3, 2), "strides": 2, "padding": "same", "output_padding": 1}, (2, 3, 4, 3)
    ),
    "DepthwiseConv1D": case({"kernel_size": 3, "depth_multiplier": 2, "padding": "same", "strides": 2}, (2, 7, 3)),
    "SeparableConv1D": case({"filters": 3, "kernel_size": 2, "dilation_rate": 2, "activation": "tanh"}, (2, 6, 2)),
    "Rescaling": case({"scale": 0.5, "offset": 1.0}),
    "Normalization": case({"mean": [0.5, -1.0, 2.0], "variance": [4.0, 1.0, 0.25]}),
    "Discretization": case({"bin_boundaries": [-0.5, 0.0, 0.5], "output_mode": "one_hot"}, skip=_NO_GRADIENT),
    "CenterCrop": case({"height": 2, "width": 3}, _IMAGE),
    "Resizing": case({"height": 3, "width": 7}, _IMAGE),
    "RandomFlip": case({"seed": 1}, _IMAGE),
    "RandomRotation": case({"factor": 0.2, "seed": 1, "fill_mode": "constant", "fill_value": 0.5}, _IMAGE),
    "RandomZoom": case({"height_factor": (-0.3, 0.3), "width_factor": 0.2, "seed": 1}, _IMAGE),
    "RandomTranslation": case({"height_factor": 0.3, "width_factor": 0.3, "seed": 1, "fill_mode": "wrap"}, _IMAGE),
    "RandomContrast": case({"factor": 0.5, "value_range": (-10, 10), "seed": 1}, _IMAGE),
    "TextVectorization": case(
        {"vocabulary": ["the", "cat", "sat"], "output_sequence_length": 4},
        _TEXT.shape,
        skip=_NO_GRADIENT,
        input_dtype="object",
        input_data=_TEXT,
    ),
    "StringLookup": case(
        {"vocabulary": ["a", "b", "c"], "output_mode": "count"},
        _WORDS.shape,
        skip=_NO_GRADIENT,
        input_dtype="object",
        input_data=_WORDS,
    ),
    "IntegerLookup": case(
        {"vocabulary": [3, 5, 7]}, _IDS.shape, skip=_NO_GRADIENT, input_dtype="int64", input_data=_IDS
    ),
    "CategoryEncoding": case({"num_tokens": 8}, _IDS.shape, skip=_NO_GRADIENT, input_dtype="int64", input_data=_IDS),
    "Hashing": case(
        {"num_bins": 5, "salt": 7}, _WORDS.shape, skip=_NO_GRADIENT, input_dtype="object", input_data=_WORDS
    ),
    "Conv3D": case(
        {"filters": 2, "kernel_size": (3, 2, 2), "strides": (2, 1, 1), "padding": "same", "activation": "tanh"},
        (2, 5, 4, 3, 2),
    ),
    "MaxPooling3D": case({"pool_size": 2, "strides": 1, "padding": "same"}, (2, 3, 3, 4, 2)),
    "AveragePooling3D": case({"pool_size": (3, 2, 2), "strides": 2, "padding": "same"}, (2, 5, 4, 3, 2)),
    "GlobalMaxPooling3D": case({"keepdims": True}, (2, 2, 3, 2, 2)),
    "GlobalAveragePooling3D": case({}, (2, 2, 3, 2, 2)),
    "ZeroPadding3D": case({"padding": ((1, 0), (0, 2), 1)}, (2, 2, 2, 2, 2)),
    "Cropping3D": case({"cropping": ((1, 0), (0, 1), 1)}, (2, 3, 3, 4, 2)),
    "UpSampling3D": case({"size": (2, 1, 3)}, (2, 2, 2, 2, 2)),
    "Permute": case({"dims": (3, 1, 2)}, (2, 3, 4, 2)),
    "GroupNormalization": case({"groups": 2, "gamma_initializer": "glorot_uniform"}, (2, 3, 4)),
    "UnitNormalization": case({"axis": [1, 2]}, (2, 3, 4)),
    "MultiHeadAttention": case(
        {"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": 5},
        [(2, 4, 3), (2, 5, 2), (2, 5, 4)],
        skip=_SAVE_MULTI,
    ),
    "Attention": case({"use_scale": True}, [(2, 4, 3), (2, 5, 2), (2, 5, 3)], skip=_SAVE_MULTI),
    "AdditiveAttention": case({}, [(2, 4, 3), (2, 5, 3)], skip=_SAVE_MULTI),
    # layers2
    "EinsumDense": case(
        {
            "equation": "abc,cde->abde",
            "output_shape": (3, 2, 4),
            "bias_axes": "de",
            "activation": "tanh",
            "bias_initializer": "random_normal",
        },
        (2, 3, 5),
    ),
    "RMSNormalization": case({"axis": [-2, -1]}, (2, 3, 4)),
    "Conv3DTranspose": case(
        {"filters": 2, "kernel_size": (3, 2, 2), "strides": (2, 1, 2), "padding": "same", "activation": "tanh"},
        (2, 3, 3, 2, 2),
    ),
    "Wrapper": case(
        skip={c: "the abstract base of wrappers: no call (SpectralNormalization checks it)" for c in CHECKS}
    ),
    # The gradient at training=True would move: every training call assigns kernel / sigma to the kernel.
    # test_wrapper.py checks the training call against a NumPy transcription of Keras' power iteration.
    "SpectralNormalization": case(lambda: {"layer": L.Dense(3, activation="tanh")}, (2, 4), training=False),
    "RandomCrop": case({"height": 3, "width": 2, "seed": 1}, _IMAGE),
    "RandomBrightness": case({"factor": 0.3, "value_range": (-1, 1), "seed": 1}, _IMAGE),
    "RandomHeight": case({"factor": (0.2, 0.6), "seed": 1}, _IMAGE, skip=_RANDOM_SIZE),
    "RandomWidth": case({"factor": 0.5, "interpolation": "nearest", "seed": 1}, _IMAGE, skip=_RANDOM_SIZE),
}


def _layer_classes():
    """Layer classes exported by ``rv.layers``, by class name (an alias yields its class once)."""
    classes = {}
    for name in L.__all__:
        obj = getattr(L, name)
        if isinstance(obj, type) and issubclass(obj, L.Layer):
            classes[obj.__name__] = obj
    return classes


def _run(cls, entry):
    checks = [c for c in CHECKS if c not in entry["skip"]]
    init = entry["init"]() if callable(entry["init"]) else entry["init"]
    if checks:
        check_layer(cls, init, entry["shape"], checks=checks, **entry["options"])


def test_every_layer_has_a_case():
    missing = sorted(set(_layer_classes()) - set(CASES))
    assert not missing, f"layers without a check_layer case in CASES: {missing}"
    assert not set(CASES) - set(_layer_classes()), "CASES names classes rv.layers does not export"


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name):
    _run(_layer_classes()[name], CASES[name])


def _docs_layer():
    """``SimpleDense``, run from the code block of docs/custom_layers.md, and its line count (blank lines too)."""
    text = (pathlib.Path(__file__).parents[3] / "docs" / "custom_layers.md").read_text()
    source = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(source, "docs/custom_layers.md", "exec"), namespace)
    return namespace["SimpleDense"], len(source[source.index("class SimpleDense") :].rstrip().splitlines())


def test_the_documented_custom_layer_passes_the_contract_in_at_most_40_lines():
    cls, lines = _docs_layer()
    assert lines <= 40, f"the docs' SimpleDense takes {lines} lines"
    check_layer(
        cls,
        {"units": 3, "activation": "tanh", "kernel_regularizer": "l2", "bias_constraint": "non_neg"},
        input_shape=(4, 5),
    )


def test_the_documented_custom_layer_accumulates_the_gradients_of_a_shared_instance():
    cls, _ = _docs_layer()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
    rv.config.set_floatx("float64")
    try:
        shared = cls(4, activation="tanh")
        inputs = L.Input((4,))
        model = rv.Model(inputs, L.Dense(2, activation="softmax")(shared(shared(inputs))))
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        rv.testing.check_gradients(model, x, y)  # the two calls' gradients add up
    finally:
        rv.config.set_floatx("float32")
    assert type(shared.kernel_initializer).__name__ == "GlorotUniform"
