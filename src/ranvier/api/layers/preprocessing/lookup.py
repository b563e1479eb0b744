"""Vocabulary layers: StringLookup, IntegerLookup and TextVectorization.

A vocabulary is kept as a list in the layer config (``vocabulary``, and
``idf_weights`` for ``tf_idf``), adapted ones too: it saves and loads with
the model's ``config.json``, whose size the loader bounds like every other
member. Keras keeps adapted vocabularies in ``assets/`` instead.

Index layout (Keras'): in ``"int"`` mode, the mask token (if any) is 0, the
``num_oov_indices`` OOV buckets follow, then the vocabulary; in the other
modes the mask token is left out (its occurrences are dropped). ``adapt``
orders tokens by count, descending, ties by token, descending (Keras sorts
``np.lexsort((tokens, counts))[::-1]``).
"""

import collections
import re

import numpy as np

from ... import config
from ..._errors import UnsupportedArgument
from ._base import (
    DataLayer,
    adapt_batches,
    as_text_array,
    categorical_shape,
    check_choice,
    check_positive_int,
    encode_categorical,
    output_mode_alias,
)
from .encoding import stable_hash

__all__ = ["StringLookup", "IntegerLookup", "TextVectorization"]

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
# Keras' DEFAULT_STRIP_REGEX.
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


class _Vocabulary:
    """Token <-> index maps with Keras' special tokens, and adapt's counting."""

    def __init__(self, owner, max_tokens, num_oov_indices, mask_token, oov_token, output_mode, pad_to_max_tokens):
        self.owner = owner
        self.max_tokens = check_positive_int(max_tokens, "max_tokens", owner, allow_none=True)
        self.num_oov = check_positive_int(num_oov_indices, "num_oov_indices", owner, minimum=0)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.output_mode = check_choice(output_mode_alias(output_mode), "output_mode", _MODES, owner)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.tokens, self.idf = [], None
        self._reset_counts()

    def _reset_counts(self):
        self.counts, self.doc_counts, self.n_docs = collections.Counter(), collections.Counter(), 0

    @property
    def start(self):
        """Index of the first vocabulary token."""
        return self.num_oov + (self.mask_token is not None and self.output_mode == "int")

    def set(self, tokens, idf_weights=None):
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"{self.owner}: vocabulary must not repeat a token, got {tokens!r}")
        special = [t for t in (self.mask_token, self.oov_token) if t is not None and t in tokens]
        if special:
            raise ValueError(f"{self.owner}: vocabulary must not hold the mask or OOV token, got {special[0]!r}")
        if self.max_tokens is not None and len(tokens) + self.start > self.max_tokens:
            raise ValueError(
                f"{self.owner}: vocabulary plus special tokens must fit max_tokens={self.max_tokens}, "
                f"got {len(tokens)} tokens"
            )
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(
                    f"{self.owner}: output_mode='tf_idf' needs idf_weights with a given vocabulary, got None"
                )
            idf = np.asarray(idf_weights, np.float64).reshape(-1)
            if len(idf) != len(tokens):
                raise ValueError(
                    f"{self.owner}: idf_weights must have one weight per token ({len(tokens)}), got {len(idf)}"
                )
            self.idf = np.concatenate([np.full(self.start, idf.mean() if len(idf) else 0.0), idf])
        elif idf_weights is not None:
            raise ValueError(f"{self.owner}: idf_weights is only for output_mode='tf_idf', got {self.output_mode!r}")
        self.tokens = tokens
        self.index = {t: i + self.start for i, t in enumerate(tokens)}

    def count(self, documents):
        """Add one batch of documents (rows of tokens) to adapt's counts."""
        for doc in documents:
            doc = [t for t in doc if t != self.mask_token and t != self.oov_token]
            self.counts.update(doc)
            self.doc_counts.update(set(doc))
            self.n_docs += 1

    def finish_adapt(self):
        items = sorted(self.counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens is not None:
            items = items[: max(self.max_tokens - self.start, 0)]
        tokens = [t for t, _ in items]
        idf = None
        if self.output_mode == "tf_idf":
            idf = [float(np.log(1.0 + self.n_docs / (1.0 + self.doc_counts[t]))) for t in tokens]
        self._reset_counts()
        self.set(tokens, idf)

    def depth(self):
        n = self.start + len(self.tokens)
        return self.max_tokens if self.pad_to_max_tokens and self.max_tokens is not None else n

    def lookup(self, tokens):
        """Indices of ``tokens`` (any shape); -1 for a mask token outside ``"int"`` mode."""
        flat = tokens.reshape(-1)
        out = np.empty(flat.shape, np.int64)
        mask_index = 0 if self.output_mode == "int" else -1
        for i, t in enumerate(flat.tolist()):
            j = self.index.get(t)
            if j is not None:
                out[i] = j
            elif self.mask_token is not None and t == self.mask_token:
                out[i] = mask_index
            elif self.num_oov == 0:
                raise ValueError(f"{self.owner}: a token outside the vocabulary with num_oov_indices=0, got {t!r}")
            else:
                out[i] = self.start - self.num_oov + self._oov_bucket(t)
        return out.reshape(tokens.shape)

    def _oov_bucket(self, token):
        if self.num_oov == 1:
            return 0
        if isinstance(token, str):
            return int(stable_hash([token])[0] % np.uint64(self.num_oov))
        return int(token) % self.num_oov

    def encode(self, indices):
        out = encode_categorical(
            indices, self.output_mode, self.depth(), config.floatx(), self._padded_idf(), self.owner
        )
        return out

    def _padded_idf(self):
        if self.idf is None:
            return None
        return np.concatenate([self.idf, np.zeros(self.depth() - len(self.idf))])

    def vocabulary(self, include_special_tokens=True):
        if not include_special_tokens:
            return list(self.tokens)
        head = [self.mask_token] if self.mask_token is not None and self.output_mode == "int" else []
        return head + [self.oov_token] * self.num_oov + list(self.tokens)

    def invert(self, indices, dtype):
        vocab = self.vocabulary()
        out = np.empty(indices.shape, dtype)
        flat, res = indices.reshape(-1), out.reshape(-1)
        for i, j in enumerate(flat.tolist()):
            res[i] = vocab[j] if 0 <= j < len(vocab) else self.oov_token
        return out


class _IndexLookup(DataLayer):
    """StringLookup and IntegerLookup: one :class:`_Vocabulary` and Keras' arguments."""

    def __init__(
        self,
        max_tokens,
        num_oov_indices,
        mask_token,
        oov_token,
        vocabulary,
        idf_weights,
        invert,
        output_mode,
        pad_to_max_tokens,
        sparse,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if sparse:
            raise UnsupportedArgument(f"{owner}: sparse outputs are not supported, got sparse={sparse!r}")
        self.invert = bool(invert)
        if self.invert and output_mode != "int":
            raise ValueError(f"{owner}: invert=True needs output_mode='int', got {output_mode!r}")
        self._vocab = _Vocabulary(
            owner, max_tokens, num_oov_indices, mask_token, oov_token, output_mode, pad_to_max_tokens
        )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    output_mode = property(lambda self: self._vocab.output_mode)

    @property
    def _output_dtype(self):
        return np.dtype(self._inverted_dtype).name if self.invert else super()._output_dtype

    def _tokens(self, values):
        raise NotImplementedError

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (tokens without the special ones; ``idf_weights`` for ``tf_idf``)."""
        self._vocab.set(self._tokens(np.asarray(list(vocabulary))).reshape(-1).tolist(), idf_weights)

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index (with the mask and OOV tokens unless ``include_special_tokens=False``)."""
        return self._vocab.vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return len(self._vocab.vocabulary())

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from ``data``: the most frequent tokens first (each row is one document for tf_idf)."""
        for batch in adapt_batches(data, batch_size, steps, type(self).__name__):
            tokens = self._tokens(batch)
            self._vocab.count(tokens.reshape(len(tokens), -1).tolist() if tokens.ndim else [[tokens.item()]])
        self._vocab.finish_adapt()

    def compute_output_shape(self, input_shape):
        return categorical_shape(input_shape, self.output_mode, self._vocab.depth())

    def call(self, inputs, training=False):
        if self.invert:
            return self._vocab.invert(np.asarray(inputs, np.int64), self._inverted_dtype), None
        return self._vocab.encode(self._vocab.lookup(self._tokens(inputs))), None

    def get_config(self):
        v = self._vocab
        return {
            **super().get_config(),
            "max_tokens": v.max_tokens,
            "num_oov_indices": v.num_oov,
            "mask_token": v.mask_token,
            "oov_token": v.oov_token,
            "vocabulary": list(v.tokens),
            "idf_weights": None if v.idf is None else v.idf[v.start :].tolist(),
            "invert": self.invert,
            "output_mode": v.output_mode,
            "pad_to_max_tokens": v.pad_to_max_tokens,
            "sparse": False,
        }


class StringLookup(_IndexLookup):
    """Map strings to integer indices through a vocabulary (given, or learnt by :meth:`adapt`).

    Parameters
    ----------
    max_tokens : int, optional
        Largest vocabulary size, special tokens included.
    num_oov_indices : int, default 1
        Buckets of out-of-vocabulary tokens (several: a stable BLAKE2b hash
        picks one, not Keras' FarmHash). 0: an unknown token raises ValueError.
    mask_token : str, optional
        Index 0 in ``"int"`` mode.
    oov_token : str, default "[UNK]"
        What ``invert`` gives for an OOV index.
    vocabulary : list of str, optional
    idf_weights : list of float, optional
        One per vocabulary token, for ``output_mode="tf_idf"``.
    invert : bool, default False
        Map indices back to strings.
    output_mode : {"int", "one_hot", "multi_hot", "count", "tf_idf"}, default "int"
    pad_to_max_tokens : bool, default False
        Encodings get ``max_tokens`` entries whatever the vocabulary's size.
    encoding : str, default "utf-8"
        Bytes inputs are decoded as UTF-8 (the only encoding supported).

    Notes
    -----
    Input ``(batch, ...)`` strings (object or ``str`` arrays; a model input
    ``Input(shape, dtype="string")``); output int64 indices of the same shape,
    or float encodings (see ``CategoryEncoding``). The vocabulary is saved in
    the layer config.
    """

    _accepts_text = True
    _inverted_dtype = object

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        **kwargs,
    ):
        if encoding not in ("utf-8", "utf8", "UTF-8"):
            raise ValueError(f"StringLookup: encoding must be 'utf-8', got {encoding!r}")
        super().__init__(
            max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert, output_mode,
            pad_to_max_tokens, sparse, **kwargs,
        )  # fmt: skip

    def _tokens(self, values):
        if self.invert:
            return as_text_array(values, "StringLookup: vocabulary")
        return as_text_array(values, f"Layer {self.name!r}: input")

    def get_config(self):
        return {**super().get_config(), "encoding": "utf-8"}


class IntegerLookup(_IndexLookup):
    """Map integer values to contiguous indices through a vocabulary (given, or learnt by :meth:`adapt`).

    Parameters are :class:`StringLookup`'s, with integer tokens: ``mask_token``
    default None, ``oov_token`` default -1, ``vocabulary_dtype`` "int64" (the
    only one). Several OOV buckets take ``value % num_oov_indices``.

    Notes
    -----
    Input ``(batch, ...)`` integers; output int64 indices or float encodings.
    """

    _inverted_dtype = np.int64

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        **kwargs,
    ):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int64', got {vocabulary_dtype!r}")
        for arg, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"IntegerLookup: {arg} must be an integer or None, got {value!r}")
        super().__init__(
            max_tokens, num_oov_indices, None if mask_token is None else int(mask_token), int(oov_token), vocabulary,
            idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs,
        )  # fmt: skip

    def _tokens(self, values):
        arr = np.asarray(values)
        if arr.dtype.kind not in "iub" and not (arr.dtype.kind == "f" and np.array_equal(arr, np.round(arr))):
            raise ValueError(f"IntegerLookup: tokens must be integers, got an array of dtype {arr.dtype}")
        return arr.astype(np.int64)

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": "int64"}


class TextVectorization(DataLayer):
    """Turn strings into token indices or bag-of-words vectors: standardize, split, n-grams, look up.

    Parameters
    ----------
    max_tokens : int, optional
        Largest vocabulary, the padding and OOV tokens included.
    standardize : {"lower_and_strip_punctuation", "lower", "strip_punctuation", None}
        Callables are not supported (they would not save).
    split : {"whitespace", "character", None}
    ngrams : int or tuple of int, optional
        ``n`` makes 1- to n-grams; a tuple the listed widths (joined with a space).
    output_mode : {"int", "multi_hot", "count", "tf_idf"}, default "int"
    output_sequence_length : int, optional
        ``"int"`` mode: pad with 0 or truncate every row to this length
        (default: the longest row of the batch).
    pad_to_max_tokens : bool, default False
    vocabulary : list of str, optional
    idf_weights : list of float, optional

    Notes
    -----
    Input ``(batch,)`` or ``(batch, 1)`` strings; output int64
    ``(batch, output_sequence_length)``, or float ``(batch, depth)``. Index 0 is
    the padding token ``""``, 1 the OOV token ``"[UNK]"`` (``"int"`` mode).
    The vocabulary is saved in the layer config.
    """

    _accepts_text = True

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if sparse or ragged:
            raise UnsupportedArgument(
                f"TextVectorization: sparse and ragged outputs are not supported, got sparse={sparse!r}, "
                f"ragged={ragged!r}"
            )
        if encoding not in ("utf-8", "utf8", "UTF-8"):
            raise ValueError(f"TextVectorization: encoding must be 'utf-8', got {encoding!r}")
        self.standardize = standardize
        if standardize is not None:
            check_choice(
                standardize,
                "standardize",
                ("lower_and_strip_punctuation", "lower", "strip_punctuation"),
                "TextVectorization",
            )
        self.split = (
            split if split is None else check_choice(split, "split", ("whitespace", "character"), "TextVectorization")
        )
        if ngrams is None:
            self._ngrams = None
        elif isinstance(ngrams, (int, np.integer)) and not isinstance(ngrams, bool):
            self._ngrams = tuple(range(1, check_positive_int(ngrams, "ngrams", "TextVectorization") + 1))
        elif isinstance(ngrams, (tuple, list)) and ngrams and all(isinstance(n, int) and n >= 1 for n in ngrams):
            self._ngrams = tuple(ngrams)
        else:
            raise ValueError(
                f"TextVectorization: ngrams must be None, an integer or a tuple of integers >= 1, got {ngrams!r}"
            )
        self.ngrams = ngrams if not isinstance(ngrams, list) else tuple(ngrams)
        if output_mode == "one_hot":
            raise ValueError(
                "TextVectorization: output_mode must be 'int', 'multi_hot', 'count' or 'tf_idf', got 'one_hot'"
            )
        self.output_sequence_length = check_positive_int(
            output_sequence_length, "output_sequence_length", "TextVectorization", allow_none=True
        )
        if self.output_sequence_length is not None and output_mode != "int":
            raise ValueError(
                f"TextVectorization: output_sequence_length is only for output_mode='int', got {output_mode!r}"
            )
        self._vocab = _Vocabulary("TextVectorization", max_tokens, 1, "", "[UNK]", output_mode, pad_to_max_tokens)
        if vocabulary is not None:
            self._vocab.set(list(as_text_array(vocabulary, "TextVectorization: vocabulary")), idf_weights)

    output_mode = property(lambda self: self._vocab.output_mode)

    def _documents(self, inputs):
        """Each input string as its list of tokens (n-grams included)."""
        arr = as_text_array(inputs, f"Layer {self.name!r}: input")
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(
                f"TextVectorization: inputs must be of shape (batch,) or (batch, 1), got shape {arr.shape}"
            )
        return [self._tokenize(s) for s in arr.tolist()]

    def _tokenize(self, text):
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        if self.split is None:
            tokens = [text]
        elif self.split == "whitespace":
            tokens = text.split()
        else:
            tokens = list(text)
        if self._ngrams is None:
            return tokens
        return [" ".join(tokens[i : i + n]) for n in self._ngrams for i in range(len(tokens) - n + 1)]

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from the strings of ``data`` (each string one document)."""
        for batch in adapt_batches(data, batch_size, steps, "TextVectorization"):
            self._vocab.count(self._documents(batch))
        self._vocab.finish_adapt()

    def get_vocabulary(self, include_special_tokens=True):
        return self._vocab.vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return len(self._vocab.vocabulary())

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._vocab.set(list(as_text_array(vocabulary, "TextVectorization: vocabulary")), idf_weights)

    def _check_input_shape(self, shape):
        # (batch,) and (batch, 1) alike, whichever the layer saw first (adapt, an eager call, an Input).
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None))):
            raise ValueError(
                f"TextVectorization {self.name!r}: input shape must be (batch,) or (batch, 1), got {tuple(shape)!r}"
            )

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self._vocab.depth())

    def call(self, inputs, training=False):
        docs = self._documents(inputs)
        if self.output_mode != "int":
            width = max((len(d) for d in docs), default=0)
            rows = np.full((len(docs), width), -1, np.int64)
            for i, d in enumerate(docs):
                rows[i, : len(d)] = self._vocab.lookup(np.array(d, dtype=object))
            return self._vocab.encode(rows), None
        length = self.output_sequence_length or max((len(d) for d in docs), default=0)
        out = np.zeros((len(docs), length), np.int64)
        for i, d in enumerate(docs):
            d = d[:length]
            out[i, : len(d)] = self._vocab.lookup(np.array(d, dtype=object))
        return out, None

    def get_config(self):
        v = self._vocab
        return {
            **super().get_config(),
            "max_tokens": v.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
            "output_mode": v.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": v.pad_to_max_tokens,
            "vocabulary": list(v.tokens),
            "idf_weights": None if v.idf is None else v.idf[v.start :].tolist(),
            "sparse": False,
            "ragged": False,
            "encoding": "utf-8",
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
