"""U-Net generator (the CycleGAN/pix2pix reference's ``UnetGenerator``)."""

from __future__ import annotations

import keras
from keras import layers

from keras_i2i.networks.common import apply_norm, check_norm, conv_init, uses_bias
from keras_i2i.networks.registry import GENERATORS, input_sides


def unet_generator(
    num_downs: int = 8,
    ngf: int = 64,
    norm: str = "instance",
    dropout: bool = False,
    channels: int = 3,
    out_channels: int = 3,
    init_gain: float = 0.02,
    input_shape=(None, None, 3),
    name: str = "unet_generator",
    **_ignored,
) -> keras.Model:
    """U-Net with ``num_downs`` 4x4 stride-2 downsamplings and skip connections.

    Built like the reference: filters ngf, 2ngf, 4ngf, then 8ngf for the remaining
    levels; LeakyReLU(0.2) before each down convolution but the first, ReLU before
    each transposed convolution, no norm on the outermost down and innermost down
    convolution, tanh output. The reference applies its LeakyReLU in place, so the
    skip connections of the inner levels carry the activated tensors; so do ours,
    which makes imported PyTorch weights compute the same function.
    ``num_downs=8`` takes 256x256 inputs (``unet_256``), 7 takes 128x128. Input
    sides must be multiples of ``2**num_downs``.

    Args:
        num_downs: downsamplings; the bottleneck is 1x1 at the matching size.
        ngf: filters of the outermost convolution.
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        dropout: dropout 0.5 in the 8ngf levels between the innermost and the
            4ngf level, as the reference.

    Reference:
        Ronneberger et al., "U-Net", MICCAI 2015; Isola et al., "Image-to-Image
        Translation with Conditional Adversarial Networks", CVPR 2017.
    """
    if num_downs < 5:
        raise ValueError(f"num_downs must be at least 5, got {num_downs}")
    check_norm(norm)
    bias = uses_bias(norm)
    init = conv_init(init_gain)
    # (outer_nc, inner_nc) per level from the outside in; level 0 is outermost.
    levels = [(out_channels, ngf), (ngf, ngf * 2), (ngf * 2, ngf * 4), (ngf * 4, ngf * 8)]
    levels += [(ngf * 8, ngf * 8)] * (num_downs - 4)

    def down(x, i):
        outer, inner = levels[i]
        innermost = i == num_downs - 1
        x = layers.Conv2D(inner, 4, strides=2, padding="same", use_bias=bias, kernel_initializer=init, name=f"down{i}_conv")(x)
        if 0 < i and not innermost:
            x = apply_norm(x, norm, f"down{i}_norm", init_gain)
        return x

    def up(x, i):
        outer, inner = levels[i]
        x = layers.ReLU(name=f"up{i}_relu")(x)
        x = layers.Conv2DTranspose(
            outer, 4, strides=2, padding="same", use_bias=bias or i == 0, kernel_initializer=init, name=f"up{i}_deconv"
        )(x)
        if i == 0:
            return layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
        x = apply_norm(x, norm, f"up{i}_norm", init_gain)
        if dropout and 4 <= i < num_downs - 1:
            x = layers.Dropout(0.5, name=f"up{i}_dropout")(x)
        return x

    inputs = keras.Input(shape=(input_shape[0], input_shape[1], channels), name="image")
    skips = []
    x = inputs
    for i in range(num_downs):
        if i > 0:
            # The reference applies this LeakyReLU in place, so its skip connection
            # carries the activated tensor too; we do the same to compute its function.
            x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        skips.append(x)
        x = down(x, i)
    for i in reversed(range(num_downs)):
        x = up(x, i)
        if i > 0:
            x = layers.Concatenate(name=f"skip{i}")([skips[i], x])
    return keras.Model(inputs, x, name=name)


@GENERATORS.register("unet_256")
@input_sides(256)  # the bottleneck is 1x1 at 256x256
def unet_256(**kwargs) -> keras.Model:
    return unet_generator(num_downs=8, **kwargs)


@GENERATORS.register("unet_128")
@input_sides(128)  # the bottleneck is 1x1 at 128x128
def unet_128(**kwargs) -> keras.Model:
    return unet_generator(num_downs=7, **kwargs)
