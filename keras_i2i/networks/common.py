"""Building blocks shared by the generators and discriminators."""

from __future__ import annotations

import keras

from keras_i2i.layers import InstanceNormalization

NORMS = ("instance", "batch", "none")


def conv_init(gain: float = 0.02) -> keras.initializers.Initializer:
    """N(0, gain) weights, as ``init_type='normal'`` in the CycleGAN reference."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=gain)


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"Unknown norm {norm!r}. Known norms: {', '.join(NORMS)}")


def norm_layer(norm: str, name: str, gain: float = 0.02):
    """The normalization layer for ``norm``, or ``None`` for ``"none"``.

    Batch norm uses torch's defaults (momentum 0.1 there is 0.9 here, eps 1e-5) and
    a N(1, gain) scale, as the reference initializes it.
    """
    check_norm(norm)
    if norm == "instance":
        return InstanceNormalization(name=name)
    if norm == "batch":
        return keras.layers.BatchNormalization(
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(1.0, gain),
            name=name,
        )
    return None


def uses_bias(norm: str) -> bool:
    """Convolutions before instance norm keep their bias; before batch norm (or none) not,
    matching the reference's ``use_bias = norm_layer == InstanceNorm2d``."""
    return norm == "instance"


def apply_norm(x, norm: str, name: str, gain: float = 0.02):
    layer = norm_layer(norm, name, gain)
    return x if layer is None else layer(x)
