"""PatchGAN discriminators (the CycleGAN/pix2pix reference's ``NLayerDiscriminator``)."""

from __future__ import annotations

import keras
from keras import layers

from keras_i2i.networks.common import apply_norm, check_norm, conv_init, uses_bias
from keras_i2i.networks.registry import DISCRIMINATORS, input_sides


@DISCRIMINATORS.register("patchgan")
# n_layers halvings, then two stride-1 4x4 convolutions (padding 1) that each take a row: a 3x3 map at least.
@input_sides(1, minimum=lambda n_layers=3, **_: 3 * 2**n_layers)
def patch_discriminator(
    ndf: int = 64,
    n_layers: int = 3,
    norm: str = "instance",
    channels: int = 3,
    init_gain: float = 0.02,
    input_shape=(None, None, 3),
    name: str = "patch_discriminator",
    **_ignored,
) -> keras.Model:
    """PatchGAN: classifies overlapping patches as real or fake (raw logits).

    4x4 convolutions with padding 1: ``n_layers`` stride-2 layers (filters ndf,
    2ndf, ... capped at 8ndf), one stride-1 layer, then a 1-channel stride-1 layer.
    No norm after the first layer; LeakyReLU 0.2. With ``n_layers=3`` the receptive
    field is 70x70 and a 256x256 input gives a 30x30 map.

    Args:
        ndf: filters of the first layer.
        n_layers: stride-2 layers (3 is the 70x70 PatchGAN).
        norm: ``"instance"``, ``"batch"`` or ``"none"``.

    Reference:
        Isola et al., "Image-to-Image Translation with Conditional Adversarial
        Networks", CVPR 2017.
    """
    check_norm(norm)
    bias = uses_bias(norm)
    init = conv_init(init_gain)
    inputs = keras.Input(shape=(input_shape[0], input_shape[1], channels), name="image")

    def conv(x, filters, stride, i, use_bias):
        x = layers.ZeroPadding2D(1, name=f"conv{i}_pad")(x)
        return layers.Conv2D(filters, 4, strides=stride, use_bias=use_bias, kernel_initializer=init, name=f"conv{i}")(x)

    x = conv(inputs, ndf, 2, 0, True)
    x = layers.LeakyReLU(0.2, name="conv0_lrelu")(x)
    mult = 1
    for i in range(1, n_layers + 1):
        mult = min(2**i, 8)
        x = conv(x, ndf * mult, 2 if i < n_layers else 1, i, bias)
        x = apply_norm(x, norm, f"conv{i}_norm", init_gain)
        x = layers.LeakyReLU(0.2, name=f"conv{i}_lrelu")(x)
    x = conv(x, 1, 1, n_layers + 1, True)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


@DISCRIMINATORS.register("pixel")
def pixel_discriminator(
    ndf: int = 64,
    norm: str = "instance",
    channels: int = 3,
    init_gain: float = 0.02,
    input_shape=(None, None, 3),
    name: str = "pixel_discriminator",
    **_ignored,
) -> keras.Model:
    """1x1 PatchGAN (``PixelDiscriminator``): classifies every pixel on its own."""
    check_norm(norm)
    bias = uses_bias(norm)
    init = conv_init(init_gain)
    inputs = keras.Input(shape=(input_shape[0], input_shape[1], channels), name="image")
    x = layers.Conv2D(ndf, 1, kernel_initializer=init, name="conv0")(inputs)
    x = layers.LeakyReLU(0.2, name="conv0_lrelu")(x)
    x = layers.Conv2D(ndf * 2, 1, use_bias=bias, kernel_initializer=init, name="conv1")(x)
    x = apply_norm(x, norm, "conv1_norm", init_gain)
    x = layers.LeakyReLU(0.2, name="conv1_lrelu")(x)
    x = layers.Conv2D(1, 1, use_bias=bias, kernel_initializer=init, name="conv2")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
