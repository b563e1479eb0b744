"""Keras example scripts (keras-io, Apache 2.0) run with ranvier in place of Keras.

Each script in ``scripts/`` is a keras-io example with only the lines marked
``# ranvier: ...`` changed: the imports, synthetic data of the original
dataset's shapes and dtypes (no network), smaller sizes and epochs, and no
plots. Each runs in its own process, in a scratch directory (some write
checkpoints), and must exit 0 and print what the script reports at its end.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ranvier

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
_SRC = str(Path(ranvier.__file__).resolve().parents[1])
_TIMEOUT = 120
_NEEDS_MHA = pytest.mark.skipif(
    not hasattr(ranvier.layers, "MultiHeadAttention"), reason="needs MultiHeadAttention (attn branch)"
)

# script -> a line fragment its last steps print (or several)
SCRIPTS = {
    "mnist_convnet.py": "Test accuracy:",
    "autoencoder.py": "predictions: (64, 28, 28, 1) float32",
    "timeseries_anomaly_detection.py": "Anomalous data points:",
    "addition_rnn.py": "Iteration 2",
    "bidirectional_lstm_imdb.py": "Epoch 2/2",
    "timeseries_classification_from_scratch.py": "Test accuracy",
    "text_classification_from_scratch.py": "Epoch 3/3",
    # Called directly, RandomFlip/RandomRotation augment (their call's training defaults to True).
    "image_classification_from_scratch.py": ("changed: True", "% dog."),
    "imbalanced_classification.py": "val_tp",
    "structured_data_classification_from_scratch.py": "probability of having a heart disease",
    "text_classification_with_transformer.py": "Epoch 2/2",
    "timeseries_classification_transformer.py": "sparse_categorical_accuracy",
    "antirectifier.py": "sparse_categorical_accuracy:",
    # Positional tensors to a traced layer, compile(loss=None), a loss object on the tape.
    "endpoint_layer_pattern.py": "trained: True",
    # Models held in attributes, keras.random, a model called under a tape without training=True.
    "vae.py": "latent means (100, 2), decoded (1, 28, 28, 1)",
}
_MARKS = {
    "text_classification_with_transformer.py": [_NEEDS_MHA],
    "timeseries_classification_transformer.py": [_NEEDS_MHA],
}


def test_every_script_here_is_listed():
    found = {p.name for p in SCRIPTS_DIR.glob("*.py")}
    assert found == set(SCRIPTS)


@pytest.mark.parametrize("script", [pytest.param(s, marks=_MARKS.get(s, [])) for s in SCRIPTS])
def test_keras_example_runs(script, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS_DIR / script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )
    assert proc.returncode == 0, f"{script} exited with {proc.returncode}\nstderr:\n{proc.stderr[-3000:]}"
    expected = SCRIPTS[script]
    for fragment in expected if isinstance(expected, tuple) else (expected,):
        assert fragment in proc.stdout, f"{script} did not print {fragment!r}:\n{proc.stdout[-3000:]}"
