# Adapted from keras-io examples/vision/autoencoder.py
# https://github.com/keras-team/keras-io/blob/master/examples/vision/autoencoder.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic data of the
# dataset's shapes and dtypes (this machine has no network), smaller sizes and epochs, and
# no plots (matplotlib is not installed here).
"""
Title: Convolutional Autoencoder For Image Denoising
Author: Santiago L. Valdarrama
Description: How to train an autoencoder that can be used for denoising images.
"""

import numpy as np

from ranvier.models import Model  # ranvier: was tensorflow.keras.models
from ranvier.layers import Conv2D, MaxPooling2D, Input, UpSampling2D  # ranvier: was tensorflow.keras.layers


def preprocess(dataset):
    """
    Normalizes the supplied dataset and reshapes it into the appropriate format.
    """

    dataset = dataset.astype("float32") / 255.0
    dataset = np.reshape(dataset, (len(dataset), 28, 28, 1))
    return dataset


def noise(dataset):
    """
    Adds random noise to each image in the supplied dataset.
    """

    noise_factor = 0.4
    noisy_dataset = dataset + noise_factor * np.random.normal(
        loc=0.0, scale=1.0, size=dataset.shape
    )

    return np.clip(noisy_dataset, 0.0, 1.0)


"""
## Prepare de data
"""

# We only need images from the dataset. We will never use the target values so
# we aren't going to load them.
# ranvier: synthetic uint8 images of MNIST's shape, 256 + 64 samples
_rng = np.random.default_rng(0)  # ranvier
train_dataset, test_dataset = (  # ranvier
    _rng.integers(0, 256, (256, 28, 28), dtype=np.uint8),
    _rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
)

# Normalize and reshape the data
train_dataset = preprocess(train_dataset)
test_dataset = preprocess(test_dataset)

# Create a copy of the datasets with added noise
noisy_train_dataset = noise(train_dataset)
noisy_test_dataset = noise(test_dataset)

# ranvier: display(train_dataset, noisy_train_dataset) removed (no matplotlib)

"""
## Build the autoencoder
"""

input = Input(shape=(28, 28, 1))

# Encoder
x = Conv2D(32, (3, 3), activation="relu", padding="same")(input)
x = MaxPooling2D((2, 2), padding="same")(x)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = MaxPooling2D((2, 2), padding="same")(x)

# Decoder
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

# Autoencoder
autoencoder = Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
autoencoder.summary()

autoencoder.fit(
    x=train_dataset,
    y=train_dataset,
    epochs=1,  # ranvier: was 50
    batch_size=128,
    shuffle=True,
    validation_data=(test_dataset, test_dataset),
)

predictions = autoencoder.predict(test_dataset)
# ranvier: display(test_dataset, predictions) removed (no matplotlib)

autoencoder.fit(
    x=noisy_train_dataset,
    y=train_dataset,
    epochs=1,  # ranvier: was 100
    batch_size=128,
    shuffle=True,
    validation_data=(noisy_test_dataset, test_dataset),
)

predictions = autoencoder.predict(noisy_test_dataset)
# ranvier: display(noisy_test_dataset, predictions) removed (no matplotlib)
print("predictions:", predictions.shape, predictions.dtype)  # ranvier: a line of output to check
