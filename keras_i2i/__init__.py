"""keras-i2i: unpaired image-to-image translation in Keras 3."""

__version__ = "0.1.0"
