"""Serializable Keras layers used by the networks (all registered under package ``keras_i2i``)."""

from keras_i2i.layers.blur import Blur2D
from keras_i2i.layers.gradient_reversal import GradientReversal
from keras_i2i.layers.normalization import InstanceNormalization
from keras_i2i.layers.padding import Crop2D, ReflectionPadding2D

__all__ = ["Blur2D", "Crop2D", "GradientReversal", "InstanceNormalization", "ReflectionPadding2D"]
