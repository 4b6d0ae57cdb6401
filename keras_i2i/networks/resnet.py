"""ResNet generator of CycleGAN (Johnson et al. style, as in the CycleGAN reference)."""

from __future__ import annotations

import keras
from keras import layers

from keras_i2i.layers import Blur2D, Crop2D, ReflectionPadding2D
from keras_i2i.networks.common import apply_norm, check_norm, conv_init, uses_bias
from keras_i2i.networks.registry import GENERATORS, input_sides


def resnet_generator(
    n_blocks: int = 9,
    ngf: int = 64,
    norm: str = "instance",
    dropout: bool = False,
    channels: int = 3,
    out_channels: int = 3,
    n_downsampling: int = 2,
    padding: str = "slices",
    antialias: bool = False,
    init_gain: float = 0.02,
    input_shape=(None, None, 3),
    name: str = "resnet_generator",
) -> keras.Model:
    """ResNet generator: c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual
    blocks, two transposed-convolution upsamplings, c7s1-3 with tanh.

    Layer for layer the reference ``ResnetGenerator`` (reflection padding, instance
    norm without affine parameters, biases, N(0, 0.02) weights): with ``n_blocks=9``,
    ``ngf=64`` it has exactly 11,378,179 parameters. Strided convolutions pad 1 on
    every side and transposed convolutions crop the first row and column, which is
    what ``padding=1, output_padding=1`` means in PyTorch, so imported PyTorch weights
    compute the same function. Input height and width must be multiples of 4.

    Args:
        n_blocks: residual blocks (6 for 128x128, 9 for 256x256 in the paper).
        ngf: filters of the first convolution.
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        dropout: dropout 0.5 inside each residual block.
        padding: reflection padding implementation (see ``ReflectionPadding2D``).
        antialias: CUT's anti-aliased sampling (``cut_resnet``): each downsampling is
            a stride-1 convolution, norm, ReLU, then a reflection-padded 3x3 binomial
            blur with stride 2; each upsampling is a 2x bilinear resize (what CUT's
            replicate-padded [1, 3, 3, 1] transposed filter computes) then a 3x3
            convolution, norm, ReLU.

    Reference:
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
        Adversarial Networks", ICCV 2017; Johnson et al., "Perceptual Losses for
        Real-Time Style Transfer and Super-Resolution", ECCV 2016; Park et al.,
        "Contrastive Learning for Unpaired Image-to-Image Translation", ECCV 2020.
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
        filters = ngf * 2 ** (i + 1)
        x = layers.ZeroPadding2D(1, name=f"down{i}_pad")(x)
        x = layers.Conv2D(filters, 3, strides=1 if antialias else 2, use_bias=bias, kernel_initializer=init,
                          name=f"down{i}_conv")(x)
        x = apply_norm(x, norm, f"down{i}_norm", init_gain)
        x = layers.ReLU(name=f"down{i}_relu")(x)
        if antialias:
            x = ReflectionPadding2D(1, implementation=padding, name=f"down{i}_blur_pad")(x)
            x = Blur2D(3, stride=2, name=f"down{i}_blur")(x)

    filters = ngf * 2**n_downsampling
    for i in range(n_blocks):
        y = ReflectionPadding2D(1, implementation=padding, name=f"block{i}_pad1")(x)
        y = layers.Conv2D(filters, 3, use_bias=bias, kernel_initializer=init, name=f"block{i}_conv1")(y)
        y = apply_norm(y, norm, f"block{i}_norm1", init_gain)
        y = layers.ReLU(name=f"block{i}_relu")(y)
        if dropout:
            y = layers.Dropout(0.5, name=f"block{i}_dropout")(y)
        y = ReflectionPadding2D(1, implementation=padding, name=f"block{i}_pad2")(y)
        y = layers.Conv2D(filters, 3, use_bias=bias, kernel_initializer=init, name=f"block{i}_conv2")(y)
        y = apply_norm(y, norm, f"block{i}_norm2", init_gain)
        x = layers.Add(name=f"block{i}_add")([x, y])

    for i in range(n_downsampling):
        filters = ngf * 2 ** (n_downsampling - i - 1)
        if antialias:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}_upsample")(x)
            x = layers.ZeroPadding2D(1, name=f"up{i}_pad")(x)
            x = layers.Conv2D(filters, 3, use_bias=bias, kernel_initializer=init, name=f"up{i}_conv")(x)
        else:
            x = layers.Conv2DTranspose(
                filters, 3, strides=2, padding="valid", use_bias=bias, kernel_initializer=init, name=f"up{i}_deconv"
            )(x)
            x = Crop2D(((1, 0), (1, 0)), name=f"up{i}_crop")(x)
        x = apply_norm(x, norm, f"up{i}_norm", init_gain)
        x = layers.ReLU(name=f"up{i}_relu")(x)

    x = ReflectionPadding2D(3, implementation=padding, name="head_pad")(x)
    x = layers.Conv2D(out_channels, 7, kernel_initializer=init, name="head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


@GENERATORS.register("resnet_9blocks")
@input_sides(4)  # two stride-2 downsamplings, two 2x upsamplings
def resnet_9blocks(**kwargs) -> keras.Model:
    return resnet_generator(n_blocks=9, **kwargs)


@GENERATORS.register("resnet_6blocks")
@input_sides(4)  # two stride-2 downsamplings, two 2x upsamplings
def resnet_6blocks(**kwargs) -> keras.Model:
    return resnet_generator(n_blocks=6, **kwargs)


@GENERATORS.register("cut_resnet")
@input_sides(4)  # two stride-2 downsamplings, two 2x upsamplings
def cut_resnet(**kwargs) -> keras.Model:
    """CUT / FastCUT's default generator: ResNet-9 with anti-aliased sampling."""
    return resnet_generator(n_blocks=9, antialias=True, **kwargs)
