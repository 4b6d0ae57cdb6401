"""GP-UNIT's stage-I networks: the content encoder, and the auxiliary nets of prior
distillation (style encoder, AdaIN decoder with its mask head, domain classifier).

Every convolution is GP-UNIT's ``Conv2dBlock``: reflection padding, a spectrally normalized
convolution, then an optional normalization and activation. With ``ch = 64``,
``n_down = 5`` at 256 px the content encoder is the official ``ContentEncoder``:

======  =====================================================  ==============
stage   convolutions (3x3, instance norm, LeakyReLU 0.2)        output
======  =====================================================  ==============
1       3 -> ch (stride 1), ch -> ch (stride 2)                 ch x H/2
2       ch -> ch, ch -> 2 ch (stride 2)                         2 ch x H/4
3       2 ch -> 2 ch, 2 ch -> 4 ch (stride 2)                   4 ch x H/8
4       4 ch -> 4 ch, 4 ch -> 8 ch (stride 2)                   8 ch x H/16
5       8 ch -> 8 ch, 8 ch -> 8 ch (stride 2)                   8 ch x H/32
code    8 ch -> 8 ch, 8 ch -> 1 (both stride 1)                 1 x H/32
======  =====================================================  ==============

(channels ``ch * min(2 ** (k - 1), 8)`` at stage ``k``). The official encoder resizes every
input to 256 px first; here the input size is the model's and the code is at
``H / 2 ** n_down`` (8x8 at 256 px with ``n_down = 5``, and at 64 px with ``n_down = 3``).

The decoder follows the official ``Decoder``: a 1x1 block lifts the code to ``8 ch``; three
AdaIN blocks at the code's resolution and one more after a 2x up-sampling are modulated by
the domain's embedding (domain-level style); the mask head reads the block at twice the
code's resolution (16x16 at 256 px); then, after each further 2x up-sampling, an
instance-normalized block is modulated by the image-level style (the mean and standard
deviation of the style encoder's feature map of that resolution), and a last block with tanh
draws the image. All blocks of the decoder use ReLU, as the official ones (their default).

Reference:
    Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior", CVPR 2022.
    https://arxiv.org/abs/2204.03641; official code williamyang1991/GP-UNIT
    (``model/content_encoder.py``).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_i2i.layers import GradientReversal, InstanceNormalization, ReflectionPadding2D
from keras_i2i.layers.spectral_norm import OneHotEmbedding, SNConv2D

#: The width of the domain embedding that drives the decoder's AdaIN blocks (official: 128).
EMBED_DIM = 128


def kaiming_init() -> keras.initializers.Initializer:
    """``torch.nn.init.kaiming_normal_(a=0, mode='fan_in')``, the official ``init_weights``."""
    return keras.initializers.VarianceScaling(2.0, mode="fan_in", distribution="untruncated_normal")


def content_channels(ch: int, stage: int) -> int:
    """Channels of the content encoder's stage ``stage`` (1-based): ``ch * min(2 ** (k-1), 8)``."""
    return ch * min(2 ** (stage - 1), 8)


def check_sizes(image_size: int, n_down: int) -> None:
    """A one-line ``ValueError`` unless ``image_size`` halves ``n_down`` times to a code of
    at least 4x4 (the domain classifier reads it with a stride-2 convolution)."""
    if n_down < 3:
        raise ValueError(f"GP-UNIT needs model.content_down >= 3 (the decoder's image-level style starts two "
                         f"levels above the code), got {n_down}.")
    if image_size % 2**n_down or image_size // 2**n_down < 4:
        raise ValueError(f"GP-UNIT: image size {image_size} must be a multiple of 2**content_down = {2 ** n_down} "
                         f"with a content code of at least 4x4; change data.image_size or model.content_down.")


def conv_block(x, filters: int, kernel_size: int = 3, stride: int = 1, norm: str = "instance",
               activation: str = "lrelu", padding: int | None = None, name: str = "block"):
    """GP-UNIT's ``Conv2dBlock`` (reflection padding, spectral-norm conv, norm, activation)
    on a symbolic tensor; ``padding`` defaults to ``(kernel_size - 1) // 2``. ``norm`` is ``instance`` or ``none`` (AdaIN blocks are built by
    :class:`AdaINBlock`); ``activation`` is ``lrelu`` (0.2), ``relu``, ``tanh`` or ``none``."""
    pad = (kernel_size - 1) // 2 if padding is None else padding
    if pad:
        x = ReflectionPadding2D(pad, name=f"{name}_pad")(x)
    x = SNConv2D(filters, kernel_size, strides=stride, padding="valid", kernel_initializer=kaiming_init(),
                 name=f"{name}_conv")(x)
    if norm == "instance":
        x = InstanceNormalization(name=f"{name}_norm")(x)
    elif norm != "none":
        raise ValueError(f"Unknown norm {norm!r}; known: instance, none")
    return _activation(activation, name)(x) if activation != "none" else x


def _activation(activation: str, name: str):
    if activation == "lrelu":
        return layers.LeakyReLU(0.2, name=f"{name}_lrelu")
    if activation in ("relu", "tanh"):
        return layers.Activation(activation, name=f"{name}_{activation}")
    raise ValueError(f"Unknown activation {activation!r}; known: lrelu, relu, tanh, none")


def build_content_encoder(image_size: int, ch: int = 64, n_down: int = 5, code_channels: int = 1,
                          name: str = "content_encoder") -> keras.Model:
    """GP-UNIT's content encoder (see the module's table).

    Args:
        image_size: side of the square input images.
        ch: width of the first stage (official ``nef`` 64).
        n_down: stride-2 stages; the content code is at ``image_size / 2 ** n_down``
            (official: 5 at 256 px, an 8x8 code).
        code_channels: channels of the content code (official: 1).
        name: the model's name.

    Returns:
        A functional ``keras.Model`` from ``(B, H, W, 3)`` in [-1, 1] to a list of
        ``n_down + 1`` tensors, shallow to deep: the stage outputs (``H/2`` ... ``H/2**n_down``,
        the multi-level content features of stage II) and last the content code
        ``(B, H/2**n_down, H/2**n_down, code_channels)``. The code has been through instance
        norm and LeakyReLU, as in the official code.
    """
    check_sizes(image_size, n_down)
    image = keras.Input((image_size, image_size, 3), name="image")
    x, features, width = image, [], 3
    for stage in range(1, n_down + 1):
        x = conv_block(x, width if stage > 1 else ch, name=f"stage{stage}_a")
        width = content_channels(ch, stage)
        x = conv_block(x, width, stride=2, name=f"stage{stage}_b")
        features.append(x)
    x = conv_block(x, width, name="code_a")
    code = conv_block(x, code_channels, name="code_b")
    return keras.Model(image, [*features, code], name=name)


def image_style(x):
    """The image-level style of a feature map: its per-channel spatial mean and (unbiased,
    as ``torch.std``) standard deviation, each ``(B, 1, 1, C)``."""
    x = ops.cast(x, "float32")
    n = ops.shape(x)[1] * ops.shape(x)[2]
    mean = ops.mean(ops.mean(x, axis=2, keepdims=True), axis=1, keepdims=True)
    d = x - mean
    var = ops.sum(ops.sum(d * d, axis=2, keepdims=True), axis=1, keepdims=True) / ops.cast(n - 1, "float32")
    return mean, ops.sqrt(var)


def build_style_encoder(image_size: int, ch: int = 64, n_down: int = 5, name: str = "style_encoder") -> keras.Model:
    """GP-UNIT's image-level style encoder: stride-2 blocks without normalization
    (LeakyReLU), one per decoder resolution that takes an image-level style.

    The official encoder has six blocks but its decoder reads only the first three (at
    H/2, H/4, H/8 for a code at H/32); the blocks that no loss reaches are left out, so the
    encoder has ``n_down - 2`` blocks.

    Returns:
        A ``keras.Model`` from ``(B, H, W, 3)`` to a list of ``(mean, std)`` pairs flattened
        as ``[mean_1, std_1, mean_2, std_2, ...]`` (block ``k`` at ``H / 2**k``, channels
        ``content_channels(ch, k)``), each ``(B, 1, 1, C)``.
    """
    image = keras.Input((image_size, image_size, 3), name="image")
    x, outputs = image, []
    check_sizes(image_size, n_down)
    for k in range(1, n_down - 1):
        x = conv_block(x, content_channels(ch, k), stride=2, norm="none", name=f"style{k}")
        mean, std = ImageStyle(name=f"style{k}_stats")(x)
        outputs += [mean, std]
    return keras.Model(image, outputs, name=name)


@keras.saving.register_keras_serializable(package="keras_i2i")
class ImageStyle(keras.layers.Layer):
    """:func:`image_style` as a layer: ``(mean, std)`` of an NHWC map, each ``(B, 1, 1, C)``."""

    def call(self, x):
        mean, std = image_style(x)
        return ops.cast(mean, self.compute_dtype), ops.cast(std, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], 1, 1, input_shape[-1])
        return shape, shape


@keras.saving.register_keras_serializable(package="keras_i2i")
class AdaINBlock(keras.layers.Layer):
    """A decoder block modulated by the domain embedding (official ``Conv2dBlock`` with
    ``'adain'``): reflection pad, spectral-norm 3x3 conv, instance norm, then
    ``gamma(y) * x + beta(y)`` with ``(gamma, beta)`` a linear map of the embedding ``y``
    (gamma's bias starts at 1, beta's at 0), then ReLU.

    Args:
        filters: output channels.
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.pad = ReflectionPadding2D(1, name="pad")
        self.conv = SNConv2D(self.filters, 3, padding="valid", kernel_initializer=kaiming_init(), name="conv")
        self.norm = InstanceNormalization(name="norm")
        bias = [1.0] * self.filters + [0.0] * self.filters
        self.style = keras.layers.Dense(2 * self.filters, kernel_initializer=kaiming_init(),
                                        bias_initializer=keras.initializers.Constant(bias), name="style")

    def build(self, input_shape):
        x_shape, y_shape = input_shape
        self.pad.build(x_shape)
        padded = self.pad.compute_output_shape(x_shape)
        self.conv.build(padded)
        self.norm.build(self.conv.compute_output_shape(padded))
        self.style.build(y_shape)

    def call(self, inputs, training=False):
        x, y = inputs
        x = self.norm(self.conv(self.pad(x), training=training))
        gamma, beta = ops.split(self.style(y), 2, axis=-1)
        x = x * gamma[:, None, None, :] + beta[:, None, None, :]
        return ops.relu(x)

    def compute_output_shape(self, input_shape):
        x_shape, _ = input_shape
        return (*x_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="keras_i2i")
class StyleModulation(keras.layers.Layer):
    """``x * std + mean``: the image-level style applied after an instance norm (official
    ``Conv2dBlock.forward`` with ``s = (mean, std)``)."""

    def call(self, inputs):
        x, mean, std = inputs
        return x * ops.cast(std, x.dtype) + ops.cast(mean, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def build_decoder(image_size: int, num_domains: int, ch: int = 64, n_down: int = 5, code_channels: int = 1,
                  name: str = "decoder") -> keras.Model:
    """GP-UNIT's stage-I AdaIN decoder and mask head (see the module).

    Inputs: the (noisy) content code ``(B, S, S, code_channels)`` with ``S = H / 2**n_down``,
    the domain labels ``(B,)`` int, and the style encoder's outputs (as
    :func:`build_style_encoder` returns them).

    Returns:
        A ``keras.Model`` with outputs ``[image (B, H, W, 3) in [-1, 1], mask (B, 2S, 2S, 1)
        in [-1, 1]]``. The official mask head draws 3 channels compared with an RGB mask
        image; here the mask is one channel (its L1 is the same mean).
    """
    check_sizes(image_size, n_down)
    side = image_size // 2**n_down
    n_styled = n_down - 2
    code = keras.Input((side, side, code_channels), name="content_code")
    label = keras.Input((), dtype="int32", name="label")
    styles = []
    for k in range(1, n_styled + 1):
        c = content_channels(ch, k)
        styles.append((keras.Input((1, 1, c), name=f"style{k}_mean"), keras.Input((1, 1, c), name=f"style{k}_std")))
    y = OneHotEmbedding(num_domains, EMBED_DIM, embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0),
                        name="embed")(label)
    top = 8 * ch
    x = conv_block(code, top, kernel_size=1, name="fc")
    for i in range(3):
        x = AdaINBlock(top, name=f"adain{i}")([x, y])
    x = layers.UpSampling2D(2, name="up0")(AdaINBlock(top, name="adain3")([x, y]))
    x = AdaINBlock(top, name="adain4")([x, y])
    mask = conv_block(x, 1, norm="none", activation="tanh", name="to_mask")
    for k in range(n_styled, 0, -1):
        # Up to H / 2**k, then the block styled by the style encoder's map of that size.
        x = layers.UpSampling2D(2, name=f"up_to{k}")(x)
        x = conv_block(x, content_channels(ch, k), norm="instance", activation="none", name=f"styled{k}")
        mean, std = styles[k - 1]
        x = layers.ReLU(name=f"styled{k}_relu")(StyleModulation(name=f"styled{k}_mod")([x, mean, std]))
    x = layers.UpSampling2D(2, name="up_to0")(x)
    out = conv_block(x, 3, norm="none", activation="tanh", name="to_image")
    flat_styles = [t for pair in styles for t in pair]
    return keras.Model([code, label, *flat_styles], [out, mask], name=name)


def build_domain_classifier(image_size: int, num_domains: int, n_down: int = 5, code_channels: int = 1,
                            name: str = "domain_classifier") -> keras.Model:
    """GP-UNIT's domain classifier on the content code behind gradient reversal (official
    ``Classifer`` + ``GradReverse``): a stride-2 block to 32 channels, a block to 64, a
    block to ``num_domains`` whose kernel covers the whole map (4x4 on an 8x8 code), all
    LeakyReLU without normalization, then a linear layer to the logits.

    The gradient reversal layer (scale 1) is the model's first layer, so one backward pass
    trains the classifier to tell the domains apart and the content encoder to hide them.
    """
    check_sizes(image_size, n_down)
    side = image_size // 2**n_down
    code = keras.Input((side, side, code_channels), name="content_code")
    x = GradientReversal(1.0, name="reverse")(code)
    x = conv_block(x, 32, stride=2, norm="none", name="cls1")
    x = conv_block(x, 64, norm="none", name="cls2")
    x = conv_block(x, num_domains, kernel_size=side // 2, norm="none", padding=0, name="cls3")
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(num_domains, kernel_initializer=kaiming_init(), name="fc")(x)
    return keras.Model(code, logits, name=name)


__all__ = ["EMBED_DIM", "AdaINBlock", "ImageStyle", "StyleModulation", "build_content_encoder", "build_decoder",
           "build_domain_classifier", "build_style_encoder", "check_sizes", "content_channels", "conv_block",
           "image_style", "kaiming_init"]
