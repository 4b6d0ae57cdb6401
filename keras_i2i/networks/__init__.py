"""Generators and discriminators as functional ``keras.Model`` builders (no losses)."""

from keras_i2i.networks import patchgan, resnet, unet, xgan  # noqa: F401  (register builders)
from keras_i2i.networks.patchgan import patch_discriminator, pixel_discriminator
from keras_i2i.networks.registry import DISCRIMINATORS, GENERATORS
from keras_i2i.networks.resnet import resnet_generator
from keras_i2i.networks.unet import unet_generator

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "patch_discriminator",
    "pixel_discriminator",
    "resnet_generator",
    "unet_generator",
]
