"""Registries of network builders: ``GENERATORS.get("resnet_9blocks")(ngf=64, ...)``."""

from keras_i2i.registry import Registry

GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
