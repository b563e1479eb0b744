"""Sentiment classification of short texts with Embedding + LSTM.

The labelled corpus is built here (no download): short reviews composed from
positive and negative phrases, with negations ("not good" is negative), so a
bag of words is not enough and word order matters. Texts have different
lengths, padded with 0 and masked (``rv.layers.Embedding(mask_zero=True)``). Reports the
accuracy on held-out texts, and a few predictions.

Run: python examples/sentiment.py
"""

import argparse

import numpy as np

import ranvier as rv

POSITIVE = ["good", "great", "wonderful", "excellent", "fun", "moving", "brilliant", "delightful"]
NEGATIVE = ["bad", "boring", "awful", "terrible", "dull", "weak", "painful", "clumsy"]
SUBJECTS = ["the film", "this movie", "the plot", "the acting", "the ending", "the music", "the story"]
FILLERS = ["really", "quite", "honestly", "overall", "i think", "to me", "frankly"]


def make_review(rng):
    """A review and its label: the sentiment word, flipped by 'not'."""
    positive = rng.random() < 0.5
    negated = rng.random() < 0.35
    word = rng.choice(POSITIVE if positive != negated else NEGATIVE)
    parts = [str(rng.choice(SUBJECTS)), "was"]
    if rng.random() < 0.5:
        parts.insert(0, str(rng.choice(FILLERS)))
    parts += ["not", str(word)] if negated else [str(word)]
    if rng.random() < 0.4:
        parts += ["and", str(rng.choice(FILLERS))]
    return " ".join(parts), int(positive)


def encode(texts, vocab, length):
    x = np.zeros((len(texts), length), np.int64)
    for i, t in enumerate(texts):
        ids = [vocab.get(w, 1) for w in t.split()][:length]  # 1 = unknown word, 0 = padding
        x[i, : len(ids)] = ids
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--reviews", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 600 reviews (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.reviews = 1, 600
    rng = np.random.default_rng(0)
    data = [make_review(rng) for _ in range(args.reviews)]
    texts, labels = [t for t, _ in data], np.array([y for _, y in data])
    words = sorted({w for t in texts for w in t.split()})
    vocab = {w: i + 2 for i, w in enumerate(words)}
    length = max(len(t.split()) for t in texts)
    x = encode(texts, vocab, length)
    n_train = int(0.8 * len(data))
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [
            rv.Input((None,), dtype="int64"),
            rv.layers.Embedding(len(vocab) + 2, 16, mask_zero=True),
            rv.layers.LSTM(32),
            rv.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(
        x[:n_train],
        labels[:n_train].astype(np.float32),
        batch_size=32,
        epochs=args.epochs,
        verbose=2,
        validation_split=0.1,
    )
    loss, acc = model.evaluate(x[n_train:], labels[n_train:].astype(np.float32), verbose=0)
    print(f"held-out accuracy on {len(x) - n_train} reviews: {acc:.3f}")
    for text in [
        "the film was not boring",
        "honestly the story was dull",
        "the music was not good and quite",
        "this movie was brilliant",
    ]:
        p = float(model.predict(encode([text], vocab, length))[0, 0])
        print(f"  {text!r}: {'positive' if p > 0.5 else 'negative'} ({p:.2f})")


if __name__ == "__main__":
    main()
