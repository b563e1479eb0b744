# Adapted from keras-io examples/timeseries/timeseries_anomaly_detection.py
# https://github.com/keras-team/keras-io/blob/master/examples/timeseries/timeseries_anomaly_detection.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic series instead of the
# NAB CSV files (no network, no pandas here: NumPy arrays of the same values' shape), smaller
# sizes and epochs, and no plots (matplotlib is not installed here).
"""
Title: Timeseries anomaly detection using an Autoencoder
Author: [pavithrasv](https://github.com/pavithrasv)
Description: Detect anomalies in a timeseries using an Autoencoder.
"""

import numpy as np
import ranvier as keras  # ranvier: was `from tensorflow import keras`
from ranvier import layers  # ranvier: was `from tensorflow.keras import layers`

"""
## Load the data
"""

# ranvier: a daily cycle with small noise (train) and the same with a jump up (test), 3 days
# of one value every 5 minutes, shaped like the CSVs' `value` column (n, 1)
_t = np.arange(288 * 3)  # ranvier
_rng = np.random.default_rng(0)  # ranvier
df_small_noise = (20 + 10 * np.sin(2 * np.pi * _t / 288) + _rng.normal(0, 0.5, _t.size))[:, None]  # ranvier
df_daily_jumpsup = df_small_noise + 40.0 * ((_t > 400) & (_t < 440))[:, None]  # ranvier

"""
## Prepare training data
"""

# Normalize and save the mean and std we get,
# for normalizing test data.
training_mean = df_small_noise.mean()
training_std = df_small_noise.std()
df_training_value = (df_small_noise - training_mean) / training_std
print("Number of training samples:", len(df_training_value))

"""
### Create sequences
"""

TIME_STEPS = 288


# Generated training sequences for use in the model.
def create_sequences(values, time_steps=TIME_STEPS):
    output = []
    for i in range(len(values) - time_steps + 1):
        output.append(values[i : (i + time_steps)])
    return np.stack(output)


x_train = create_sequences(df_training_value)  # ranvier: was df_training_value.values
print("Training input shape: ", x_train.shape)

"""
## Build a model
"""

model = keras.Sequential(
    [
        layers.Input(shape=(x_train.shape[1], x_train.shape[2])),
        layers.Conv1D(
            filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
        ),
        layers.Dropout(rate=0.2),
        layers.Conv1D(
            filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
        ),
        layers.Conv1DTranspose(
            filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
        ),
        layers.Dropout(rate=0.2),
        layers.Conv1DTranspose(
            filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
        ),
        layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
model.summary()

"""
## Train the model
"""

history = model.fit(
    x_train,
    x_train,
    epochs=3,  # ranvier: was 50
    batch_size=128,
    validation_split=0.1,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min")
    ],
)

"""
## Detecting anomalies
"""

# Get train MAE loss.
x_train_pred = model.predict(x_train)
train_mae_loss = np.mean(np.abs(x_train_pred - x_train), axis=1)

# Get reconstruction loss threshold.
threshold = np.max(train_mae_loss)
print("Reconstruction error threshold: ", threshold)

"""
### Prepare test data
"""

df_test_value = (df_daily_jumpsup - training_mean) / training_std

# Create sequences from test values.
x_test = create_sequences(df_test_value)  # ranvier: was df_test_value.values
print("Test input shape: ", x_test.shape)

# Get test MAE loss.
x_test_pred = model.predict(x_test)
test_mae_loss = np.mean(np.abs(x_test_pred - x_test), axis=1)
test_mae_loss = test_mae_loss.reshape((-1))

# Detect all the samples which are anomalies.
anomalies = test_mae_loss > threshold
print("Number of anomaly samples: ", np.sum(anomalies))
print("Indices of anomaly samples: ", np.where(anomalies))

# data i is an anomaly if samples [(i - timesteps + 1) to (i)] are anomalies
anomalous_data_indices = []
for data_idx in range(TIME_STEPS - 1, len(df_test_value) - TIME_STEPS + 1):
    if np.all(anomalies[data_idx - TIME_STEPS + 1 : data_idx]):
        anomalous_data_indices.append(data_idx)
print("Anomalous data points:", len(anomalous_data_indices))  # ranvier: replaces the plot
