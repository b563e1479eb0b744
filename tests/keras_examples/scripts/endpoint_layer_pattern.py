# Adapted from keras-io examples/keras_recipes/endpoint_layer_pattern.py
# https://github.com/keras-team/keras-io/blob/master/examples/keras_recipes/endpoint_layer_pattern.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports (the original is a tf.keras
# script: tf.nn.softmax becomes ops.softmax), and `add_metric`, which Keras 3 removed, is gone.
"""
Title: Endpoint layer pattern
Author: [fchollet](https://twitter.com/fchollet)
Description: Demonstration of the "endpoint layer" pattern (layer that handles loss management).
"""

"""
## Setup
"""

import numpy as np

import ranvier as keras  # ranvier: was `from tensorflow import keras`
from ranvier import ops  # ranvier: was `import tensorflow as tf`

keras.utils.set_random_seed(0)  # ranvier: reproducible data and weights for the test

"""
## Usage of endpoint layers in the Functional API
"""


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super(LogisticEndpoint, self).__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, logits, targets=None, sample_weight=None):
        if targets is not None:
            # Compute the training-time loss value and add it
            # to the layer using `self.add_loss()`.
            loss = self.loss_fn(targets, logits, sample_weight)
            self.add_loss(loss)
            # ranvier: `self.add_metric(...)` removed (Keras 3 has no add_metric)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.softmax(logits)  # ranvier: was tf.nn.softmax(logits)


inputs = keras.Input((764,), name="inputs")
logits = keras.layers.Dense(1)(inputs)
targets = keras.Input((1,), name="targets")
sample_weight = keras.Input((1,), name="sample_weight")
preds = LogisticEndpoint()(logits, targets, sample_weight)
model = keras.Model([inputs, targets, sample_weight], preds)

data = {
    "inputs": np.random.random((1000, 764)),
    "targets": np.random.random((1000, 1)),
    "sample_weight": np.random.random((1000, 1)),
}

model.compile(keras.optimizers.Adam(1e-3))
model.fit(data, epochs=2)

"""
## Exporting an inference-only model
"""

inputs = keras.Input((764,), name="inputs")
logits = keras.layers.Dense(1)(inputs)
preds = LogisticEndpoint()(logits, targets=None, sample_weight=None)
inference_model = keras.Model(inputs, preds)

inference_model.set_weights(model.get_weights())

preds = inference_model.predict(np.random.random((1000, 764)))

"""
## Usage of loss endpoint layers in subclassed models
"""


class LogReg(keras.Model):
    def __init__(self):
        super(LogReg, self).__init__()
        self.dense = keras.layers.Dense(1)
        self.logistic_endpoint = LogisticEndpoint()

    def call(self, inputs):
        # Note that all inputs should be in the first argument
        # since we want to be able to call `model.fit(inputs)`.
        logits = self.dense(inputs["inputs"])
        preds = self.logistic_endpoint(
            logits=logits,
            targets=inputs["targets"],
            sample_weight=inputs["sample_weight"],
        )
        return preds


model = LogReg()
data = {
    "inputs": np.random.random((1000, 764)),
    "targets": np.random.random((1000, 1)),
    "sample_weight": np.random.random((1000, 1)),
}

model.compile(keras.optimizers.Adam(1e-3))
history = model.fit(data, epochs=2)
losses = history.history["loss"]  # ranvier: print that it trained
print(f"subclassed endpoint model: loss {losses[0]:.4f} -> {losses[1]:.4f}, trained: {losses[1] < losses[0]}")
