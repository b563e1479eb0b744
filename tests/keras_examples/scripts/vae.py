# Adapted from keras-io examples/generative/vae.py
# https://github.com/keras-team/keras-io/blob/master/examples/generative/vae.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the original is a tf.keras script, so each
# TensorFlow call becomes its Keras 3 equivalent (keras.ops, keras.random, as the Keras 3 version
# of this example reads), synthetic data of MNIST's shapes (no network), fewer samples and epochs,
# and no plots.
"""
Title: Variational AutoEncoder
Author: [fchollet](https://twitter.com/fchollet)
Description: Convolutional Variational AutoEncoder (VAE) trained on MNIST digits.
"""

"""
## Setup
"""

import numpy as np

import ranvier as keras  # ranvier: was `from tensorflow import keras`
from ranvier import layers  # ranvier: was `from tensorflow.keras import layers`
from ranvier import ops  # ranvier: was `import tensorflow as tf`

"""
## Create a sampling layer
"""


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):  # ranvier: Keras 3 seeds the draws with a SeedGenerator
        super().__init__(**kwargs)  # ranvier
        self.seed_generator = keras.random.SeedGenerator(1337)  # ranvier

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]  # ranvier: was tf.shape
        dim = ops.shape(z_mean)[1]  # ranvier: was tf.shape
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)  # ranvier: was tf.keras.backend.random_normal
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon  # ranvier: was tf.exp


"""
## Build the encoder
"""

latent_dim = 2

encoder_inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Flatten()(x)
x = layers.Dense(16, activation="relu")(x)
z_mean = layers.Dense(latent_dim, name="z_mean")(x)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
encoder.summary()

"""
## Build the decoder
"""

latent_inputs = keras.Input(shape=(latent_dim,))
x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
x = layers.Reshape((7, 7, 64))(x)
x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
decoder.summary()

"""
## Define the VAE as a `Model` with a custom `train_step`
"""


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super(VAE, self).__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        with keras.GradientTape() as tape:  # ranvier: was tf.GradientTape
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(  # ranvier: was tf.reduce_mean
                ops.sum(  # ranvier: was tf.reduce_sum
                    keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))  # ranvier: was tf.
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))  # ranvier: was tf.reduce_mean, tf.reduce_sum
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }

    def call(self, x):
        z_mean, z_log_var, z = self.encoder(x)
        return self.decoder(z)


"""
## Train the VAE
"""

# ranvier: synthetic uint8 images of MNIST's shapes (strokes on black), 512 samples
_rng = np.random.default_rng(0)  # ranvier
x_train = (_rng.random((512, 28, 28)) < 0.15).astype("uint8") * 255  # ranvier
mnist_digits = np.expand_dims(x_train, -1).astype("float32") / 255  # ranvier: train only

vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam())
history = vae.fit(mnist_digits, epochs=3, batch_size=128)  # ranvier: 3 epochs, was 30

# ranvier: the plots are left out; the latent means and a decoded grid point instead
z_mean, _, _ = vae.encoder.predict(mnist_digits[:100])
x_decoded = vae.decoder.predict(np.array([[0.5, -0.5]]))
losses = history.history["loss"]
print(f"latent means {z_mean.shape}, decoded {x_decoded.shape}, loss {losses[0]:.1f} -> {losses[-1]:.1f}")
