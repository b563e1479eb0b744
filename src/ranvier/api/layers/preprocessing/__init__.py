"""Preprocessing layers (Keras 3 names and arguments): numerical, image, augmentation, lookup, encoding."""

from .augment import RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .augment_extra import RandomBrightness, RandomCrop, RandomHeight, RandomWidth
from .encoding import CategoryEncoding, Hashing
from .image import CenterCrop, Resizing
from .lookup import IntegerLookup, StringLookup, TextVectorization
from .numerical import Discretization, Normalization, Rescaling

__all__ = [
    "Rescaling",
    "Normalization",
    "Discretization",
    "CenterCrop",
    "Resizing",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "TextVectorization",
    "StringLookup",
    "IntegerLookup",
    "CategoryEncoding",
    "Hashing",
    # layers2
    "RandomCrop",
    "RandomBrightness",
    "RandomHeight",
    "RandomWidth",
]
