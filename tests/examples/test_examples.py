"""Smoke runs of every script in examples/, each in its own process with ``--quick``.

Every example must accept ``--quick`` (a few seconds of work) and exit 0. An
example whose file does not exist yet is skipped, as is one that needs
scikit-learn or matplotlib when they are not installed. For the course-topic
examples the output is also checked for what the script claims to show.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The examples the docs promise (docs/index.md), present or not, plus whatever else is there.
_PROMISED = [
    "perceptron.py",
    "mlp_digits.py",
    "gradient_check.py",
    "optimizers.py",
    "keras_compat.py",
    "weight_decay.py",
    "lenet_digits.py",
    "char_lm.py",
    "sentiment.py",
    "computational_graph.py",
    "functional_multi_io.py",
]
_NAMES = sorted(set(_PROMISED) | {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")})

# What a script needs beyond ranvier: importable name -> how it shows in the source.
_OPTIONAL = {
    "sklearn": re.compile(r"^\s*(from|import)\s+sklearn\b", re.M),
    "matplotlib": re.compile(r"^\s*(from|import)\s+matplotlib\b", re.M),
}

_TIMEOUT = 300


def _source(name):
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"examples/{name} does not exist yet")
    return path.read_text(encoding="utf-8")


def _run_quick(name, tmp_path):
    source = _source(name)
    for module, pattern in _OPTIONAL.items():
        if pattern.search(source):
            pytest.importorskip(module, reason=f"examples/{name} needs {module}")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )
    if "unrecognized arguments: --quick" in proc.stderr:
        pytest.fail(
            f"examples/{name} does not accept --quick (every example must: a few seconds of work for these smoke runs)"
        )
    assert proc.returncode == 0, (
        f"examples/{name} --quick exited with {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    assert proc.stdout.strip(), f"examples/{name} printed nothing"
    return proc.stdout


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return float(match.group(1))


@pytest.mark.parametrize("name", _NAMES)
def test_example_has_a_main_guard(name):
    # Importing an example (docs tools, test collection) must not train anything.
    assert 'if __name__ == "__main__":' in _source(name)


# -- what the course-topic examples claim, read from their output -----------------------------


def _check_perceptron(out):
    assert _number(r"separable data .*training accuracy ([\d.]+)", out) == 1.0
    assert _number(r"XOR, perceptron: .*best ([\d.]+)", out) <= 0.75
    assert _number(r"XOR, MLP .*accuracy ([\d.]+)", out) == 1.0


def _check_mlp_digits(out):
    assert "identical predictions: True" in out
    accuracy = _number(r"test accuracy: ([\d.]+)", out)
    assert accuracy > 0.8  # 3 epochs; the full run's >= 97% is tests/api/test_digits.py
    assert _number(r"reloaded test accuracy ([\d.]+)", out) == accuracy


def _check_gradient_check(out):
    for label in ("1. MLP", "2a. ScaledTanh", "2c. model with ScaledTanh"):
        assert re.search(rf"^{re.escape(label)}.*: passed", out, re.M), out
    for label in ("2b. BrokenScaledTanh", "2d. model with BrokenScaledTanh"):
        assert re.search(rf"^{re.escape(label)}.*: FAILED", out, re.M), out
    assert re.search(r"^caught: broken_scaled_tanh\S*/scale$", out, re.M), out


def _check_optimizers(out):
    for name in (
        "SGD",
        "SGD + momentum",
        "Nesterov",
        "Adagrad",
        "RMSprop",
        "Adadelta",
        "Adam ",
        "AdamW",
        "L-BFGS",
        "conjugate gradient",
    ):
        loss = _number(rf"(?m)^{re.escape(name)}.*?(?:epochs|iter)\s+([\d.]+)", out)
        assert loss < 0.69, f"{name}: training loss {loss} is no better than chance (ln 2)"
    assert _number(r"cosine decay to 0 .*final learning rate ([\d.e-]+)", out) == 0.0


def _check_keras_compat(out):
    assert "history keys: ['accuracy', 'loss', 'val_accuracy', 'val_loss']" in out
    assert (
        "functional history keys: ['loss', 'sparse_categorical_accuracy', 'val_loss', "
        "'val_sparse_categorical_accuracy']"
    ) in out
    assert _number(r"reloaded: test accuracy ([\d.]+)", out) == _number(r"Sequential: .*test accuracy ([\d.]+)", out)


def _check_computational_graph(out):
    assert "f = -8, df/dx = 4, df/dy = 4, df/dz = -2" in out
    assert "f = 0.73, dw = [-0.2, -0.39, 0.2], dx = [0.39, -0.59]" in out


def _check_functional_multi_io(out):
    for key in ("loss", "priority_loss", "department_loss"):
        match = re.search(rf"^\s+{key}: ([\d.]+(?: -> [\d.]+)+)", out, re.M)
        assert match, f"{key} not found in:\n{out}"
        values = [float(v) for v in match.group(1).split(" -> ")]
        assert values[-1] < values[0], f"{key} does not fall: {values}"
    # --quick's 3 epochs reach about 98%; the full run's >= 97% is tests/api/models/test_multi_io.py.
    assert _number(r"residual CNN test accuracy: ([\d.]+)", out) >= 0.9


def _check_transformer_text(out):
    # --quick's 5 epochs on 1200 reviews reach 1.0 here; chance is 0.5.
    assert _number(r"held-out accuracy on \d+ reviews: ([\d.]+)", out) > 0.8
    assert "reloaded model gives identical predictions: True" in out


_CHECKS = {
    "perceptron.py": _check_perceptron,
    "mlp_digits.py": _check_mlp_digits,
    "gradient_check.py": _check_gradient_check,
    "optimizers.py": _check_optimizers,
    "keras_compat.py": _check_keras_compat,
    "computational_graph.py": _check_computational_graph,
    "functional_multi_io.py": _check_functional_multi_io,
    "transformer_text.py": _check_transformer_text,
}


@pytest.mark.parametrize("name", _NAMES)
def test_example_runs_quick(name, tmp_path):
    out = _run_quick(name, tmp_path)
    if name in _CHECKS:
        _CHECKS[name](out)
