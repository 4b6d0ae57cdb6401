"""Unpaired image folders to ``tf.data``, bundled data and standard dataset downloads."""

from keras_i2i.data.images import DataError, ImageFolder, read_image

__all__ = ["DataError", "ImageFolder", "read_image"]
