"""The mobile ResNet generator of GAN Compression (a distilled student), and block
activations of ResNet-family generators for feature distillation."""

from __future__ import annotations

import re
from typing import Optional, Sequence

import keras
from keras import layers

from keras_i2i.layers import Crop2D, ReflectionPadding2D
from keras_i2i.networks.common import apply_norm, check_norm, conv_init, uses_bias

#: The layer that ends residual block ``i`` in the ResNet generators of this package.
BLOCK_OUTPUT = re.compile(r"^block(\d+)_add$")


def mobile_resnet_generator(
    ngf: int = 16,
    n_blocks: int = 9,
    norm: str = "instance",
    dropout: bool = False,
    channels: int = 3,
    out_channels: int = 3,
    n_downsampling: int = 2,
    padding: str = "slices",
    init_gain: float = 0.02,
    input_shape=(None, None, 3),
    name: str = "mobile_resnet_generator",
) -> keras.Model:
    """Mobile ResNet generator: the CycleGAN ResNet generator with each residual block's
    3x3 convolutions made depthwise-separable (GAN Compression's ``MobileResnetGenerator``).

    c7s1-ngf, ``n_downsampling`` stride-2 3x3 convolutions, ``n_blocks`` mobile residual
    blocks (twice: reflection pad 1, depthwise 3x3, norm, pointwise 1x1, norm; ReLU
    between the two, the input added at the end), transposed-convolution upsamplings,
    c7s1-3 with tanh. Only operators that LiteRT's XNNPACK and GPU delegates run:
    4-D tensors, ``CONV_2D``, ``DEPTHWISE_CONV_2D``, ``TRANSPOSE_CONV``, and reflection
    padding from slices (``padding="slices"``, no ``MIRROR_PAD``). Input height and width
    must be multiples of ``2**n_downsampling``. Block ``i`` ends in the layer
    ``block{i}_add``, as in :func:`~keras_i2i.networks.resnet.resnet_generator`
    (:func:`with_block_outputs`).

    Args:
        ngf: filters of the first convolution (the blocks have ``ngf * 2**n_downsampling``).
        n_blocks: mobile residual blocks.
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        dropout: dropout 0.5 inside each block.
        n_downsampling: stride-2 downsamplings (and as many 2x upsamplings).
        padding: reflection padding implementation (see ``ReflectionPadding2D``).

    Reference:
        Li et al., "GAN Compression: Efficient Architectures for Interactive Conditional
        GANs", CVPR 2020. https://arxiv.org/abs/2003.08936
    """
    check_norm(norm)
    bias = uses_bias(norm)
    init = conv_init(init_gain)
    inputs = keras.Input(shape=(input_shape[0], input_shape[1], channels), name="image")
    x = ReflectionPadding2D(3, implementation=padding, name="stem_pad")(inputs)
    x = layers.Conv2D(ngf, 7, use_bias=bias, kernel_initializer=init, name="stem_conv")(x)
    x = apply_norm(x, norm, "stem_norm", init_gain)
    x = layers.ReLU(name="stem_relu")(x)

    for i in range(n_downsampling):
        x = layers.ZeroPadding2D(1, name=f"down{i}_pad")(x)
        x = layers.Conv2D(ngf * 2 ** (i + 1), 3, strides=2, use_bias=bias, kernel_initializer=init,
                          name=f"down{i}_conv")(x)
        x = apply_norm(x, norm, f"down{i}_norm", init_gain)
        x = layers.ReLU(name=f"down{i}_relu")(x)

    filters = ngf * 2**n_downsampling
    for i in range(n_blocks):
        y = x
        for j in (1, 2):
            y = ReflectionPadding2D(1, implementation=padding, name=f"block{i}_pad{j}")(y)
            y = layers.DepthwiseConv2D(3, use_bias=bias, depthwise_initializer=init, name=f"block{i}_dw{j}")(y)
            y = apply_norm(y, norm, f"block{i}_dw{j}_norm", init_gain)
            y = layers.Conv2D(filters, 1, use_bias=bias, kernel_initializer=init, name=f"block{i}_pw{j}")(y)
            y = apply_norm(y, norm, f"block{i}_norm{j}", init_gain)
            if j == 1:
                y = layers.ReLU(name=f"block{i}_relu")(y)
                if dropout:
                    y = layers.Dropout(0.5, name=f"block{i}_dropout")(y)
        x = layers.Add(name=f"block{i}_add")([x, y])

    for i in range(n_downsampling):
        x = layers.Conv2DTranspose(ngf * 2 ** (n_downsampling - i - 1), 3, strides=2, padding="valid", use_bias=bias,
                                   kernel_initializer=init, name=f"up{i}_deconv")(x)
        x = Crop2D(((1, 0), (1, 0)), name=f"up{i}_crop")(x)
        x = apply_norm(x, norm, f"up{i}_norm", init_gain)
        x = layers.ReLU(name=f"up{i}_relu")(x)

    x = ReflectionPadding2D(3, implementation=padding, name="head_pad")(x)
    x = layers.Conv2D(out_channels, 7, kernel_initializer=init, name="head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def mobile_resnet_macs(ngf: int, n_blocks: int, height: int, width: Optional[int] = None, channels: int = 3,
                       n_downsampling: int = 2) -> int:
    """The MACs of :func:`mobile_resnet_generator` on a ``height`` x ``width`` image, on the
    convention of :mod:`keras_i2i.macs` (closed form; the counted graph agrees, tested)."""
    width = height if width is None else width
    pixels = height * width
    total = pixels * 49 * channels * ngf * 2  # stem and head (7x7)
    for i in range(n_downsampling):  # a stride-2 3x3 convolution down, a transposed one back up at each scale
        small, c_in, c_out = pixels // 4 ** (i + 1), ngf * 2**i, ngf * 2 ** (i + 1)
        total += (1 + 4) * small * 9 * c_in * c_out  # the transposed one over its 2x-upsampled input
    dim, small = ngf * 2**n_downsampling, pixels // 4**n_downsampling
    total += n_blocks * 2 * small * (9 * dim + dim * dim)
    return total


def block_outputs(generator: keras.Model) -> list:
    """The outputs of ``generator``'s residual blocks in order (layers ``block{i}_add``);
    empty when it has none at its top level (another architecture)."""
    found = []
    for layer in generator.layers:
        m = BLOCK_OUTPUT.match(layer.name)
        if m:
            found.append((int(m.group(1)), layer.output))
    return [output for _, output in sorted(found, key=lambda item: item[0])]


def spread(count: int, total: int) -> list[int]:
    """``count`` indices in ``range(total)`` spread evenly, the last one included
    (``spread(3, 9)`` is ``[2, 5, 8]``)."""
    count = min(count, total)
    return [round((k + 1) * total / count) - 1 for k in range(count)]


def with_block_outputs(generator: keras.Model, taps: Sequence[int]) -> Optional[keras.Model]:
    """A model of the same layers (the same weights and graph: nothing is copied or
    changed) that returns ``[image, block activation for each index in taps]``; None
    when ``generator`` exposes no residual blocks (:func:`block_outputs`)."""
    blocks = block_outputs(generator)
    if not blocks or not taps:
        return None
    return keras.Model(generator.inputs, [generator.outputs[0], *(blocks[i] for i in taps)],
                       name=f"{generator.name}_features")


__all__ = ["block_outputs", "mobile_resnet_generator", "mobile_resnet_macs", "spread", "with_block_outputs"]
