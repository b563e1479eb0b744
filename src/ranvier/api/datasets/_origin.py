"""Where Keras' data sets are published (the same files, so a Keras cache can be copied over)."""

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
