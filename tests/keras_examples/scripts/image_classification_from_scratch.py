# Adapted from keras-io examples/vision/image_classification_from_scratch.py
# https://github.com/keras-team/keras-io/blob/master/examples/vision/image_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic images instead of
# the Cats vs Dogs JPEG files (no network here), NumPy arrays where the original builds tf.data
# datasets (ranvier has no TensorFlow), smaller images and fewer samples and epochs, no plots
# (no matplotlib here).
"""
Title: Image classification from scratch
Author: [fchollet](https://twitter.com/fchollet)
Description: Training an image classifier from scratch on the Kaggle Cats vs Dogs dataset.
"""

import numpy as np  # ranvier: was `import tensorflow as tf`
import ranvier as keras  # ranvier: was `from tensorflow import keras`
from ranvier import layers  # ranvier: was `from tensorflow.keras import layers`

"""
## Generate a `Dataset`
"""

image_size = (32, 32)  # ranvier: was (180, 180)
batch_size = 32  # ranvier: was 128

# ranvier: synthetic float32 images in [0, 255] and 0/1 labels, as image_dataset_from_directory
# yields them: 64 for training, 16 for validation (the original's 80% / 20% split)
_rng = np.random.default_rng(0)  # ranvier
train_x, val_x = (_rng.uniform(0, 255, (n,) + image_size + (3,)).astype("float32") for n in (64, 16))  # ranvier
train_y, val_y = _rng.integers(0, 2, 64), _rng.integers(0, 2, 16)  # ranvier

"""
## Using image data augmentation
"""

data_augmentation = keras.Sequential(
    [
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
    ]
)

augmented_images = data_augmentation(train_x[:9])  # ranvier: the original plots these (no matplotlib)
print("augmented:", augmented_images.shape, "changed:", bool(np.any(augmented_images != train_x[:9])))  # ranvier

"""
## Build a model
"""


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(64, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [128, 256, 512, 728]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(
            previous_block_activation
        )
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(1024, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        activation = "sigmoid"
        units = 1
    else:
        activation = "softmax"
        units = num_classes

    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(units, activation=activation)(x)
    return keras.Model(inputs, outputs)


model = make_model(input_shape=image_size + (3,), num_classes=2)
# ranvier: keras.utils.plot_model(model, show_shapes=True) removed (needs pydot and graphviz)

# Apply `data_augmentation` to the training images.
train_x = data_augmentation(train_x)  # ranvier: was train_ds.map(lambda img, label: (data_augmentation(img), label))

"""
## Train the model
"""

epochs = 2  # ranvier: was 25

callbacks = [
    keras.callbacks.ModelCheckpoint("save_at_{epoch}.keras"),
]
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="binary_crossentropy",
    metrics=["accuracy"],
    jit_compile=True,
)
model.fit(
    train_x,  # ranvier: was train_ds
    train_y,  # ranvier
    batch_size=batch_size,  # ranvier: the dataset's batch size
    epochs=epochs,
    callbacks=callbacks,
    validation_data=(val_x, val_y),  # ranvier: was val_ds
)

"""
## Run inference on new data
"""

img_array = _rng.uniform(0, 255, image_size + (3,)).astype("float32")  # ranvier: was load_img + img_to_array
img_array = np.expand_dims(img_array, 0)  # Create batch axis  # ranvier: was tf.expand_dims

predictions = model.predict(img_array)
score = float(predictions[0][0])  # ranvier: was predictions[0] (NumPy 2 refuses a 1-element array in :.2f)
print(f"This image is {100 * (1 - score):.2f}% cat and {100 * score:.2f}% dog.")
