"""Character-level LSTM language model.

1. Learns the lecture's "hello" example exactly: from h, e, l, l it predicts
   e, l, l, o (one-hot inputs, an LSTM over the sequence, softmax per step).
2. Trains on real text that ships with Python (the docstrings of a few
   standard-library modules), printing loss and perplexity per epoch, then
   samples new text at a few temperatures.

Run: python examples/char_lm.py  (about a minute on 2 cores; --epochs N for longer)
"""

import argparse
import inspect
import math
import time

import numpy as np

import ranvier as rv


def hello():
    chars = sorted(set("helo"))
    index = {c: i for i, c in enumerate(chars)}
    x = np.eye(len(chars), dtype=np.float32)[[index[c] for c in "hell"]][None]
    y = np.array([[index[c] for c in "ello"]])
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [
            rv.Input((4, len(chars))),
            rv.layers.LSTM(16, return_sequences=True),
            rv.layers.Dense(len(chars), activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=60, verbose=0)
    predicted = "".join(chars[i] for i in model.predict(x)[0].argmax(-1))
    print(f"hello: input 'hell' -> predicted {predicted!r} (target 'ello')")
    assert predicted == "ello", predicted


def corpus():
    """Docstrings of standard-library modules: real English text, no download."""
    import argparse as a
    import collections
    import functools
    import json
    import textwrap
    import unittest

    docs = [
        inspect.getdoc(obj) or ""
        for m in (textwrap, json, collections, functools, unittest, a)
        for obj in [m] + [v for _, v in sorted(vars(m).items()) if inspect.isclass(v) or inspect.isfunction(v)]
    ]
    text = " ".join(" ".join(d.split()) for d in docs if d)
    return text


def sample(model, seed, index, chars, length, temperature, window, rng):
    ids = [index[c] for c in seed]
    for _ in range(length):
        p = model.predict(np.array([ids[-window:]]))[0, -1].astype(np.float64)
        logits = np.log(np.maximum(p, 1e-12)) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return "".join(chars[i] for i in ids)


def language_model(epochs, max_chars, window=40):
    text = corpus()[:max_chars]
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text])
    starts = np.arange(0, len(ids) - window - 1, window)
    x = np.stack([ids[s : s + window] for s in starts])
    y = np.stack([ids[s + 1 : s + window + 1] for s in starts])
    print(f"\ncorpus: {len(text)} characters of stdlib docstrings, {len(chars)} distinct, {len(x)} windows of {window}")
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [
            rv.Input((None,), dtype="int64"),
            rv.layers.Embedding(len(chars), 32),
            rv.layers.LSTM(128, return_sequences=True),
            rv.layers.Dense(len(chars), activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(0.01, clipnorm=5.0), loss="sparse_categorical_crossentropy")
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        loss = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history["loss"][-1]
        print(f"epoch {epoch}: loss {loss:.3f}  perplexity {math.exp(loss):.2f}  ({time.perf_counter() - t0:.1f} s)")
    rng = np.random.default_rng(0)
    for temperature in (0.5, 1.0):
        print(f"\nsample at temperature {temperature}:")
        print(sample(model, "The ", index, chars, 200, temperature, window, rng))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--max-chars", type=int, default=40000)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3000 characters (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.max_chars = 1, 3000
    hello()
    language_model(args.epochs, args.max_chars)


if __name__ == "__main__":
    main()
