"""Sentiment classification with a small transformer encoder (Keras' text-classification example).

The corpus is examples/sentiment.py's (short reviews with negations, built here, no
download). The model follows the Keras example "Text classification with Transformer":
token + position embeddings as a custom layer written with ``ranvier.ops``, one
encoder block (multi-head self-attention, residuals, LayerNormalization, a ReLU
feed-forward), mean pooling and a sigmoid output. Reports the held-out accuracy,
a few predictions, and checks that the saved model reloads.

Run: python examples/transformer_text.py
"""

import argparse
import pathlib
import sys
import tempfile

import numpy as np

import ranvier as rv
from ranvier import ops

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from sentiment import encode, make_review  # the same corpus

L = rv.layers


@rv.saving.register_keras_serializable(package="transformer_text")
class TokenAndPositionEmbedding(L.Layer):
    """Token embedding plus a learned vector per position (Keras' example layer, as written there)."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = L.Embedding(vocab_size, embed_dim)
        self.pos_emb = L.Embedding(maxlen, embed_dim)

    def call(self, x):
        positions = self.pos_emb(ops.arange(start=0, stop=ops.shape(x)[-1], step=1))
        return self.token_emb(x) + positions

    def get_config(self):
        return {
            **super().get_config(),
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


@rv.saving.register_keras_serializable(package="transformer_text")
class TransformerBlock(L.Layer):
    """Post-norm encoder block: self-attention and a feed-forward network, each with a residual."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
        self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn_in = L.Dense(ff_dim, activation="relu")
        self.ffn_out = L.Dense(embed_dim)
        self.norm1 = L.LayerNormalization(epsilon=1e-6)
        self.norm2 = L.LayerNormalization(epsilon=1e-6)
        self.drop1 = L.Dropout(rate)
        self.drop2 = L.Dropout(rate)

    def call(self, inputs, training=False):
        attn = self.drop1(self.att(inputs, inputs), training=training)
        out1 = self.norm1(inputs + attn)
        ffn = self.drop2(self.ffn_out(self.ffn_in(out1)), training=training)
        return self.norm2(out1 + ffn)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "rate": self.rate,
        }


def build_model(maxlen, vocab_size, embed_dim=32, num_heads=2, ff_dim=32):
    inputs = L.Input((maxlen,), dtype="int64")
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dropout(0.1)(x)
    x = L.Dense(20, activation="relu")(x)
    outputs = L.Dense(1, activation="sigmoid")(x)
    return rv.Model(inputs, outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--reviews", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="5 epochs on 1200 reviews (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.reviews = 5, 1200
    rng = np.random.default_rng(0)
    data = [make_review(rng) for _ in range(args.reviews)]
    texts, labels = [t for t, _ in data], np.array([y for _, y in data], np.float32)
    vocab = {w: i + 2 for i, w in enumerate(sorted({w for t in texts for w in t.split()}))}
    maxlen = max(len(t.split()) for t in texts)
    x = encode(texts, vocab, maxlen)
    n_train = int(0.8 * len(data))

    rv.config.set_random_seed(0)
    model = build_model(maxlen, len(vocab) + 2)
    model.compile(optimizer=rv.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:n_train], labels[:n_train], batch_size=32, epochs=args.epochs, verbose=2, validation_split=0.1)
    _, acc = model.evaluate(x[n_train:], labels[n_train:], verbose=0)
    print(f"held-out accuracy on {len(x) - n_train} reviews: {acc:.3f}")
    for text in ["the film was not boring", "honestly the story was dull", "this movie was brilliant"]:
        p = float(model.predict(encode([text], vocab, maxlen), verbose=0)[0, 0])
        print(f"  {text!r}: {'positive' if p > 0.5 else 'negative'} ({p:.2f})")
    # The custom layers are registered, so the saved model loads by name.
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "transformer_text.keras"
        model.save(path)
        loaded = rv.saving.load_model(path)
    same = np.array_equal(loaded.predict(x[n_train:], verbose=0), model.predict(x[n_train:], verbose=0))
    print(f"reloaded model gives identical predictions: {same}")


if __name__ == "__main__":
    main()
