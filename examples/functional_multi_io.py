"""The functional API beyond a stack of layers: several inputs and outputs, shared layers, skips.

(a) The Keras guide's ticket classifier: a ticket's title and body (token
    ids) and its tags (a binary vector) go in; its priority (sigmoid, binary
    crossentropy) and the department to route it to (softmax, sparse
    categorical crossentropy) come out. One ``compile`` takes a loss per
    output (a dict keyed by output name) and ``loss_weights``; ``fit`` takes
    dicts keyed by ``Input`` and output name. The data is synthetic (priority
    follows the tags, the department the words of the title), so the losses
    visibly fall; the script prints each output's loss per epoch.
(b) A residual CNN on scikit-learn's 8x8 digits: conv + batch-norm blocks
    whose input is added back to their output with ``layers.add`` (He et
    al.'s skip connections), then global average pooling and a softmax. A
    fixed stratified 25% test split; about 99% test accuracy after 10 epochs
    (a few seconds), about 98% after --quick's 3.

Usage::

    pip install scikit-learn
    python examples/functional_multi_io.py [--epochs 10] [--seed 0] [--quick]
"""

import argparse
import time

import numpy as np

import ranvier as rv

L = rv.layers

# (a) sizes: small enough to train in seconds, the guide's shape otherwise.
NUM_WORDS, NUM_TAGS, NUM_DEPARTMENTS = 1000, 12, 4
TITLE_LEN, BODY_LEN = 10, 40
# (b) epochs: the full run (>= 97% test accuracy, tests/api/models/test_multi_io.py) and --quick.
CNN_EPOCHS, CNN_QUICK_EPOCHS = 10, 3


def ticket_model():
    """Title + body + tags in; ``priority`` (n, 1) and ``department`` (n, 4) out."""
    title = L.Input((TITLE_LEN,), dtype="int64", name="title")
    body = L.Input((BODY_LEN,), dtype="int64", name="body")
    tags = L.Input((NUM_TAGS,), name="tags")
    title_features = L.LSTM(32)(L.Embedding(NUM_WORDS, 32)(title))
    body_features = L.GlobalAveragePooling1D()(L.Embedding(NUM_WORDS, 32)(body))
    features = L.concatenate([title_features, body_features, tags])
    priority = L.Dense(1, activation="sigmoid", name="priority")(features)
    department = L.Dense(NUM_DEPARTMENTS, activation="softmax", name="department")(features)
    return rv.Model(inputs=[title, body, tags], outputs=[priority, department])


def ticket_data(n, seed=0):
    """Synthetic tickets: priority is 1 when tag 0 or 1 is set; the department is set by which quarter
    of the vocabulary the title's first words come from."""
    rng = np.random.default_rng(seed)
    department = rng.integers(0, NUM_DEPARTMENTS, n)
    quarter = NUM_WORDS // NUM_DEPARTMENTS
    title = rng.integers(1, NUM_WORDS, (n, TITLE_LEN))
    title[:, :3] = department[:, None] * quarter + rng.integers(0, quarter, (n, 3))
    body = rng.integers(1, NUM_WORDS, (n, BODY_LEN))
    tags = (rng.random((n, NUM_TAGS)) < 0.2).astype(np.float32)
    priority = np.maximum(tags[:, 0], tags[:, 1])[:, None]
    return {"title": title, "body": body, "tags": tags}, {"priority": priority, "department": department}


def train_tickets(epochs, seed=0):
    """Fit the ticket model; returns its history (``loss``, ``priority_loss``, ``department_loss``...)."""
    rv.config.set_random_seed(seed)
    model = ticket_model()
    model.compile(
        optimizer=rv.optimizers.Adam(3e-3),
        loss={"priority": "binary_crossentropy", "department": "sparse_categorical_crossentropy"},
        loss_weights={"priority": 1.0, "department": 0.5},
        metrics={"department": ["accuracy"]},
    )
    x, y = ticket_data(1024, seed)
    return model.fit(x, y, batch_size=32, epochs=epochs, verbose=0).history


def load_digits_split(seed=0):
    """Digits as (n, 8, 8, 1) float32 in [0, 1], split 75/25 with a fixed stratified shuffle."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    return train_test_split(x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)


def conv_bn(x, filters, activation="relu"):
    """A 3x3 convolution (no bias: the normalization's beta is one), batch normalization, activation."""
    x = L.BatchNormalization(momentum=0.9)(L.Conv2D(filters, 3, padding="same", use_bias=False)(x))
    return x if activation is None else L.Activation(activation)(x)


def residual_block(x, filters):
    """Two conv + batch-norm layers whose sum with the block's input goes through a ReLU."""
    h = conv_bn(conv_bn(x, filters), filters, activation=None)
    return L.Activation("relu")(L.add([x, h]))


def residual_cnn(seed=0):
    """(n, 8, 8, 1) digits to 10 class probabilities: a stem, two residual blocks (one after a pooling)."""
    rv.config.set_random_seed(seed)
    inputs = L.Input((8, 8, 1), name="image")
    x = conv_bn(inputs, 16)  # 8x8x16
    x = residual_block(x, 16)
    x = L.MaxPooling2D(2)(x)  # 4x4x16
    x = residual_block(x, 16)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return rv.Model(inputs, outputs, name="residual_cnn")


def train_residual_cnn(epochs, seed=0):
    """Fit the residual CNN on the digits split; returns (test accuracy, seconds)."""
    x_train, x_test, y_train, y_test = load_digits_split(seed)
    model = residual_cnn(seed)
    # Cosine decay to zero: a large step early, a settled model at the end (test accuracy at the
    # last epoch, not the best one).
    steps = epochs * -(-len(x_train) // 32)
    model.compile(
        optimizer=rv.optimizers.Adam(rv.optimizers.schedules.CosineDecay(1e-2, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return float(np.mean(model.predict(x_test).argmax(axis=1) == y_test)), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help=f"residual CNN epochs (default {CNN_EPOCHS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer epochs (smoke test)")
    args = parser.parse_args(argv)
    ticket_epochs = 3 if args.quick else 8
    cnn_epochs = args.epochs or (CNN_QUICK_EPOCHS if args.quick else CNN_EPOCHS)

    history = train_tickets(ticket_epochs, args.seed)
    print(f"(a) ticket classifier, {ticket_epochs} epochs (history keys {sorted(history)}):")
    for key in ("loss", "priority_loss", "department_loss"):
        values = history[key]
        print(
            f"    {key}: {' -> '.join(f'{v:.4f}' for v in values)} "
            f"({'falls' if values[-1] < values[0] else 'does NOT fall'})"
        )
    print(f"    department accuracy: {history['department_accuracy'][-1]:.4f}")

    accuracy, seconds = train_residual_cnn(cnn_epochs, args.seed)
    print(f"(b) residual CNN on digits, {cnn_epochs} epochs in {seconds:.1f} s")
    print(f"residual CNN test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
