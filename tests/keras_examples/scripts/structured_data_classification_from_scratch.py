# Adapted from keras-io examples/structured_data/structured_data_classification_from_scratch.py
# https://github.com/keras-team/keras-io/blob/master/examples/structured_data/structured_data_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, a synthetic table with the
# heart-disease CSV's columns and value sets (no network, no pandas here: a dict of NumPy
# columns), NumPy arrays where the original builds tf.data datasets, fewer epochs, no plot.
"""
Title: Structured data classification from scratch
Author: [fchollet](https://twitter.com/fchollet)
Description: Binary classification of structured data including numerical and categorical features.
Made backend-agnostic by: [Humbulani Ndou](https://github.com/Humbulani1234)
"""

import numpy as np  # ranvier: was `import pandas as pd`
import ranvier as keras  # ranvier: was `import keras`
from ranvier import layers  # ranvier: was `from keras import layers`

"""
## Preparing the data
"""

# ranvier: 303 synthetic rows with the CSV's columns, dtypes and value sets
_rng = np.random.default_rng(0)  # ranvier
_n = 303  # ranvier
dataframe = {  # ranvier: was pd.read_csv(file_url)
    "age": _rng.integers(29, 78, _n),
    "sex": _rng.integers(0, 2, _n),
    "cp": _rng.integers(0, 5, _n),
    "trestbps": _rng.integers(94, 201, _n),
    "chol": _rng.integers(126, 565, _n),
    "fbs": _rng.integers(0, 2, _n),
    "restecg": _rng.integers(0, 3, _n),
    "thalach": _rng.integers(71, 203, _n),
    "exang": _rng.integers(0, 2, _n),
    "oldpeak": np.round(_rng.uniform(0, 6.2, _n), 1),
    "slope": _rng.integers(1, 4, _n),
    "ca": _rng.integers(0, 4, _n),
    "thal": _rng.choice(["fixed", "normal", "reversible"], _n).astype(object),
}
dataframe["target"] = ((dataframe["age"] > 55) ^ (dataframe["exang"] == 1)).astype(np.int64)  # ranvier

_val = _rng.permutation(_n)[: int(0.2 * _n)]  # ranvier: was dataframe.sample(frac=0.2, random_state=1337)
val_dataframe = {k: v[_val] for k, v in dataframe.items()}  # ranvier
train_dataframe = {k: np.delete(v, _val) for k, v in dataframe.items()}  # ranvier: was dataframe.drop(...)

print(
    f"Using {len(train_dataframe['age'])} samples for training "  # ranvier: len of a column
    f"and {len(val_dataframe['age'])} for validation"  # ranvier
)


"""
## Define dataset metadata
"""

COLUMN_NAMES = [
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
    "target",
]
# Target feature name.
TARGET_FEATURE_NAME = "target"
# Numeric feature names.
NUMERIC_FEATURE_NAMES = ["age", "trestbps", "thalach", "oldpeak", "slope", "chol"]

CATEGORICAL_FEATURES_WITH_VOCABULARY = {
    feature_name: sorted(
        [
            # Integer categorcal must be int and string must be str
            value if dataframe[feature_name].dtype == "int64" else str(value)
            for value in list(np.unique(dataframe[feature_name]))  # ranvier: was dataframe[...].unique()
        ]
    )
    for feature_name in COLUMN_NAMES
    if feature_name not in list(NUMERIC_FEATURE_NAMES + [TARGET_FEATURE_NAME])
}
# All features names.
FEATURE_NAMES = NUMERIC_FEATURE_NAMES + list(
    CATEGORICAL_FEATURES_WITH_VOCABULARY.keys()
)


"""
## Feature preprocessing with Keras layers
"""


def encode_categorical(features, target):
    for feature_name in features:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            lookup_class = (
                layers.StringLookup
                if features[feature_name].dtype == object  # ranvier: was == "string" (tf's dtype)
                else layers.IntegerLookup
            )
            vocabulary = CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name]
            # Create a lookup to convert a string values to an integer indices.
            # Since we are not using a mask token nor expecting any out of vocabulary
            # (oov) token, we set mask_token to None and  num_oov_indices to 0.
            index = lookup_class(
                vocabulary=vocabulary,
                mask_token=None,
                num_oov_indices=0,
                output_mode="binary",
            )
            # Convert the string input values into integer indices.
            value_index = index(features[feature_name])
            features[feature_name] = value_index

        else:
            pass

    # Change features from OrderedDict to Dict to match Inputs as they are Dict.
    return dict(features), target


def encode_numerical_feature(feature, name, dataset):
    # Create a Normalization layer for our feature
    normalizer = layers.Normalization()
    # Prepare a Dataset that only yields our feature
    feature_ds = dataset[0][name]  # ranvier: was dataset.map(lambda x, y: x[name])
    feature_ds = np.expand_dims(feature_ds, -1).astype("float32")  # ranvier: was a map with tf.expand_dims
    # Learn the statistics of the data
    normalizer.adapt(feature_ds)
    # Normalize the input feature
    encoded_feature = normalizer(feature)
    return encoded_feature


def dataframe_to_dataset(dataframe):
    dataframe = dict(dataframe)  # ranvier: was dataframe.copy()
    labels = dataframe.pop("target")
    return encode_categorical(dataframe, labels)  # ranvier: was a shuffled tf.data dataset of the same


train_ds = dataframe_to_dataset(train_dataframe)
val_ds = dataframe_to_dataset(val_dataframe)

print("Input:", {k: v[0] for k, v in train_ds[0].items()})  # ranvier: was a loop over train_ds.take(1)
print("Target:", train_ds[1][0])  # ranvier


"""
## Build a model
"""


def create_model_inputs():
    inputs = {}

    # This a helper function for creating categorical features
    def create_input_helper(feature_name):
        num_categories = len(CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name])
        inputs[feature_name] = layers.Input(
            name=feature_name, shape=(num_categories,), dtype="int64"
        )
        return inputs

    for feature_name in FEATURE_NAMES:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            # Categorical features
            create_input_helper(feature_name)
        else:
            # Make them float32, they are Real numbers
            feature_input = layers.Input(name=feature_name, shape=(1,), dtype="float32")
            # Process the Inputs here
            inputs[feature_name] = encode_numerical_feature(
                feature_input, feature_name, train_ds
            )
    return inputs


# This Layer defines the logic of the Model to perform the classification
class Classifier(keras.layers.Layer):

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense_1 = layers.Dense(32, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.dense_2 = layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        all_features = layers.concatenate(list(inputs.values()))
        x = self.dense_1(all_features)
        x = self.dropout(x)
        output = self.dense_2(x)
        return output

    # Surpress build warnings
    def build(self, input_shape):
        self.built = True


# Create the Classifier model
def create_model():
    all_inputs = create_model_inputs()
    output = Classifier()(all_inputs)
    model = keras.Model(all_inputs, output)
    return model


model = create_model()
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

# ranvier: keras.utils.plot_model(model, show_shapes=True, rankdir="LR") removed (needs pydot)

"""
## Train the model
"""

model.fit(*train_ds, batch_size=32, epochs=5, validation_data=val_ds)  # ranvier: was train_ds, epochs=50

"""
## Inference on new data
"""

sample = {
    "age": 60,
    "sex": 1,
    "cp": 1,
    "trestbps": 145,
    "chol": 233,
    "fbs": 1,
    "restecg": 2,
    "thalach": 150,
    "exang": 0,
    "oldpeak": 2.3,
    "slope": 3,
    "ca": 0,
    "thal": "fixed",
}


def get_cat_encoding(cat, cat_value):
    # Create a list of zeros with the same length as categories
    encoding = [0] * len(cat)
    # Find the index of category_value in categories and set the corresponding position to 1
    if cat_value in cat:
        encoding[cat.index(cat_value)] = 1
    return encoding


for name, value in sample.items():
    if name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
        sample.update(
            {
                name: get_cat_encoding(
                    CATEGORICAL_FEATURES_WITH_VOCABULARY[name], sample[name]
                )
            }
        )
# Convert inputs to tensors
input_dict = {name: keras.ops.convert_to_tensor([value]) for name, value in sample.items()}  # ranvier: was tf.
predictions = model.predict(input_dict)

print(
    f"This particular patient had a {100 * predictions[0][0]:.1f} "
    "percent probability of having a heart disease, "
    "as evaluated by our model."
)
