# Adapted from keras-io examples/keras_recipes/antirectifier.py
# https://github.com/keras-team/keras-io/blob/master/examples/keras_recipes/antirectifier.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic data of MNIST's
# shapes and dtypes (this machine has no network), fewer samples and epochs.
"""
Title: Simple custom layer example: Antirectifier
Author: [fchollet](https://twitter.com/fchollet)
Description: Demonstration of custom layer creation.
"""

"""
## Setup
"""

import numpy as np  # ranvier: for the synthetic data
import ranvier as keras  # ranvier: was `import keras`
from ranvier import layers  # ranvier: was `from keras import layers`
from ranvier import ops  # ranvier: was `from keras import ops`

"""
## The Antirectifier layer
"""


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        # Implement get_config to enable serialization. This is optional.
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


"""
## Let's test-drive it on MNIST
"""

# Training parameters
batch_size = 128
num_classes = 10
epochs = 2  # ranvier: was 20

# The data, split between train and test sets
# ranvier: synthetic uint8 images and labels of MNIST's shapes, 600 + 100 samples
_rng = np.random.default_rng(0)  # ranvier
(x_train, y_train), (x_test, y_test) = (  # ranvier: was keras.datasets.mnist.load_data()
    (_rng.integers(0, 256, (600, 28, 28), dtype=np.uint8), _rng.integers(0, 10, 600, dtype=np.uint8)),
    (_rng.integers(0, 256, (100, 28, 28), dtype=np.uint8), _rng.integers(0, 10, 100, dtype=np.uint8)),
)

x_train = x_train.reshape(-1, 784)
x_test = x_test.reshape(-1, 784)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Build the model
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(256),
        Antirectifier(),
        layers.Dense(256),
        Antirectifier(),
        layers.Dropout(0.5),
        layers.Dense(10),
    ]
)

# Compile the model
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train the model
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.15)

# Test the model
model.evaluate(x_test, y_test)
