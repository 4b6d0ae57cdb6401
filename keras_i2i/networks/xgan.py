"""XGAN's networks: two image autoencoders whose middle layers can be shared, the
domain classifier on their embedding, and the image discriminator.

The autoencoder of a domain is five encoder units and five decoder units:

======  ====================================================  =========================
unit    encoder (image -> embedding)                          decoder (embedding -> image)
======  ====================================================  =========================
0       conv ngf, 4x4 stride 2 (no norm)                      1x1 -> s/16 deconv 16 ngf
1       conv 2 ngf, 4x4 stride 2                              deconv 8 ngf, stride 2
2       conv 4 ngf, 4x4 stride 2                              deconv 4 ngf, stride 2
3       conv 8 ngf, 4x4 stride 2                              deconv 2 ngf, stride 2
4       flatten, fully connected to the embedding, twice      deconv 3, stride 2, tanh
======  ====================================================  =========================

With ``ngf=32`` and a 1024-d embedding this is the paper's architecture for 64x64
images: encoder convolutions 32, 64, 128, 256 then fully connected layers to 1024;
decoder transposed convolutions 1024 -> 512 -> 256 -> 128 -> 64 -> 3. ``sharing``
decides which units the two domains share (:data:`SHARING`); each part is its own
functional ``keras.Model`` so a shared part is literally one model used by both
domains. Every tensor is rank 4 or rank 2 with static shapes (the input size is
fixed because of the fully connected layers), so the translators export to TFLite
and ONNX without special cases.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_i2i.networks.common import apply_norm, check_norm, conv_init, uses_bias
from keras_i2i.networks.registry import DISCRIMINATORS, input_sides

UNITS = 5

#: Domain-specific units per side: (encoder units at the image end, decoder units at
#: the image end). The remaining units in the middle are shared, except for ``none``.
SHARING = {
    # The paper's split: encoder convs 32, 64 and decoder deconvs 128, 64, 3 are
    # domain-specific; convs 128, 256, the fully connected layers and deconvs 512, 256
    # are shared.
    "partial": (2, 3),
    # Only the outermost layer of each side belongs to a domain.
    "full": (1, 1),
    # Two separate autoencoders, tied only through the embedding losses.
    "none": (UNITS, UNITS),
}


#: What the encoder's last layer does to the embedding. Without a normalization the
#: embedding's scale is free: the decoder's first norm ignores it, and the
#: domain-adversarial loss behind the gradient reversal is unbounded, so the encoders
#: win it by adding one large, domain-dependent offset to every embedding. Measured on
#: the emoji quickstart (64x64, batch 4): with ``none`` the mean absolute embedding grew
#: from 0.4 to 25 in 100 steps, the classifier was confidently wrong (accuracy 0.08,
#: DANN loss 8.5) and every translation was the same image (spread over inputs 0.000).
EMBEDDING_NORMS = ("layer", "none")


def check_image_size(image_size: int) -> None:
    if image_size < 16 or image_size % 16:
        raise ValueError(f"XGAN needs an image size that is a multiple of 16 (four stride-2 convolutions), "
                         f"got {image_size}.")


def _encoder_input_shape(unit: int, image_size: int, ngf: int, embedding_dim: int):
    if unit == 0:
        return (image_size, image_size, 3)
    side = image_size // 2**unit
    return (side, side, ngf * 2 ** (unit - 1))


def _decoder_input_shape(unit: int, image_size: int, ngf: int, embedding_dim: int):
    if unit == 0:
        return (embedding_dim,)
    side = image_size // 2 ** (UNITS - unit)
    return (side, side, ngf * 2 ** (UNITS - unit))


def xgan_encoder(
    image_size: int = 64,
    ngf: int = 32,
    embedding_dim: int = 1024,
    first: int = 0,
    last: int = UNITS - 1,
    norm: str = "instance",
    init_gain: float = 0.02,
    embedding_norm: str = "layer",
    name: str = "xgan_encoder",
) -> keras.Model:
    """Encoder units ``first`` to ``last`` (inclusive) of the table in the module
    docstring: 4x4 stride-2 convolutions with LeakyReLU 0.2 (normalized after the
    first), then two fully connected layers to the embedding (the last one linear).

    Args:
        image_size: input side, a multiple of 16.
        ngf: filters of the first convolution (32 in the paper).
        embedding_dim: size of the embedding (1024 in the paper).
        first, last: the units this part holds.
        norm: ``"instance"``, ``"batch"`` or ``"none"`` after the convolutions.
        embedding_norm: ``"layer"`` standardizes each embedding (zero mean, unit
            variance over its values, no learned scale or offset); ``"none"`` leaves
            the last fully connected layer's output as it is. See :data:`EMBEDDING_NORMS`.

    Reference:
        Royer et al., "XGAN: Unsupervised Image-to-Image Translation for Many-to-Many
        Mappings", 2017. https://arxiv.org/abs/1711.05139
    """
    check_image_size(image_size)
    check_norm(norm)
    if embedding_norm not in EMBEDDING_NORMS:
        raise ValueError(f"Unknown embedding_norm {embedding_norm!r}. Known: {', '.join(EMBEDDING_NORMS)}")
    if not 0 <= first <= last < UNITS:
        raise ValueError(f"Encoder units must satisfy 0 <= first <= last < {UNITS}, got {first}..{last}")
    init = conv_init(init_gain)
    bias = uses_bias(norm)
    inputs = keras.Input(shape=_encoder_input_shape(first, image_size, ngf, embedding_dim), name="features")
    x = inputs
    for unit in range(first, last + 1):
        if unit < UNITS - 1:
            normed = unit > 0
            x = layers.Conv2D(ngf * 2**unit, 4, strides=2, padding="same", use_bias=bias or not normed,
                              kernel_initializer=init, name=f"conv{unit}")(x)
            if normed:
                x = apply_norm(x, norm, f"conv{unit}_norm", init_gain)
            x = layers.LeakyReLU(0.2, name=f"conv{unit}_lrelu")(x)
        else:
            x = layers.Flatten(name="flatten")(x)
            x = layers.Dense(embedding_dim, kernel_initializer=init, name="fc0")(x)
            x = layers.LeakyReLU(0.2, name="fc0_lrelu")(x)
            x = layers.Dense(embedding_dim, kernel_initializer=init, name="fc1")(x)
            if embedding_norm == "layer":
                x = layers.LayerNormalization(epsilon=1e-5, center=False, scale=False, name="embedding_norm")(x)
            x = layers.Activation("linear", dtype="float32", name="embedding")(x)
    return keras.Model(inputs, x, name=name)


def xgan_decoder(
    image_size: int = 64,
    ngf: int = 32,
    embedding_dim: int = 1024,
    first: int = 0,
    last: int = UNITS - 1,
    norm: str = "instance",
    init_gain: float = 0.02,
    name: str = "xgan_decoder",
) -> keras.Model:
    """Decoder units ``first`` to ``last`` (inclusive) of the table in the module
    docstring: the embedding as a 1x1 map, a transposed convolution to
    ``image_size / 16`` (4x4 at 64x64), then 4x4 stride-2 transposed convolutions with
    norm and ReLU, the last to 3 channels with tanh.

    Args: as :func:`xgan_encoder`.

    Reference:
        Royer et al., "XGAN: Unsupervised Image-to-Image Translation for Many-to-Many
        Mappings", 2017. https://arxiv.org/abs/1711.05139
    """
    check_image_size(image_size)
    check_norm(norm)
    if not 0 <= first <= last < UNITS:
        raise ValueError(f"Decoder units must satisfy 0 <= first <= last < {UNITS}, got {first}..{last}")
    init = conv_init(init_gain)
    bias = uses_bias(norm)
    inputs = keras.Input(shape=_decoder_input_shape(first, image_size, ngf, embedding_dim), name="features")
    x = inputs
    for unit in range(first, last + 1):
        if unit == 0:
            x = layers.Reshape((1, 1, embedding_dim), name="to_map")(x)
            x = layers.Conv2DTranspose(ngf * 16, image_size // 16, padding="valid", use_bias=bias,
                                       kernel_initializer=init, name="deconv0")(x)
        elif unit < UNITS - 1:
            x = layers.Conv2DTranspose(ngf * 2 ** (UNITS - 1 - unit), 4, strides=2, padding="same", use_bias=bias,
                                       kernel_initializer=init, name=f"deconv{unit}")(x)
        else:
            x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer=init,
                                       name=f"deconv{unit}")(x)
            x = layers.Activation("tanh", dtype="float32", name="image")(x)
            break
        x = apply_norm(x, norm, f"deconv{unit}_norm", init_gain)
        x = layers.ReLU(name=f"deconv{unit}_relu")(x)
    return keras.Model(inputs, x, name=name)


def domain_classifier(embedding_dim: int = 1024, units: int = 256, init_gain: float = 0.02,
                      name: str = "domain_classifier") -> keras.Model:
    """Binary classifier of the embedding's domain (one logit, A positive): one hidden
    fully connected layer with LeakyReLU 0.2. XGAN puts it behind a gradient-reversal
    layer (:class:`~keras_i2i.layers.GradientReversal`) so the encoders learn to make
    the domains indistinguishable in the embedding."""
    init = conv_init(init_gain)
    inputs = keras.Input(shape=(embedding_dim,), name="embedding")
    x = layers.Dense(units, kernel_initializer=init, name="fc0")(inputs)
    x = layers.LeakyReLU(0.2, name="fc0_lrelu")(x)
    x = layers.Dense(1, kernel_initializer=init, name="fc1")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


@DISCRIMINATORS.register("xgan")
def xgan_discriminator(
    ndf: int = 16,
    norm: str = "none",
    init_gain: float = 0.02,
    input_shape=(64, 64, 3),
    name: str = "xgan_discriminator",
    **_ignored,
) -> keras.Model:
    """Whole-image discriminator: four 4x4 stride-2 convolutions (ndf, 2, 2, 2 ndf: 16,
    32, 32, 32 with the default) with LeakyReLU 0.2, then one fully connected logit.

    Args:
        ndf: filters of the first convolution.
        norm: ``"instance"``, ``"batch"`` or ``"none"`` after all but the first convolution.
        input_shape: (height, width, channels); height and width must be fixed.
    """
    check_norm(norm)
    init = conv_init(init_gain)
    bias = uses_bias(norm)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, mult in enumerate((1, 2, 2, 2)):
        x = layers.Conv2D(ndf * mult, 4, strides=2, padding="same", use_bias=bias or i == 0, kernel_initializer=init,
                          name=f"conv{i}")(x)
        if i > 0:
            x = apply_norm(x, norm, f"conv{i}_norm", init_gain)
        x = layers.LeakyReLU(0.2, name=f"conv{i}_lrelu")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1, kernel_initializer=init, name="fc")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


@input_sides(16)  # four stride-2 convolutions down to the fully connected layers
def xgan_autoencoders(image_size: int = 64, ngf: int = 32, embedding_dim: int = 1024, sharing: str = "partial",
                      norm: str = "instance", init_gain: float = 0.02,
                      embedding_norm: str = "layer") -> dict[str, keras.Model]:
    """The parts of both autoencoders under ``sharing``.

    Returns a dict with ``enc_a``, ``enc_b`` (domain-specific encoder units),
    ``enc_shared`` (the shared middle, absent when nothing is shared), ``dec_shared``,
    ``dec_a`` and ``dec_b``: encoding A is ``enc_shared(enc_a(x))``, decoding to B is
    ``dec_b(dec_shared(z))``.
    """
    if sharing not in SHARING:
        raise ValueError(f"Unknown sharing {sharing!r}. Known: {', '.join(SHARING)}")
    enc_own, dec_own = SHARING[sharing]
    kw = dict(image_size=image_size, ngf=ngf, embedding_dim=embedding_dim, norm=norm, init_gain=init_gain)
    enc_kw = dict(kw, embedding_norm=embedding_norm)
    parts = {}
    for d in "ab":
        parts[f"enc_{d}"] = xgan_encoder(first=0, last=enc_own - 1, name=f"enc_{d}", **enc_kw)
        parts[f"dec_{d}"] = xgan_decoder(first=UNITS - dec_own, last=UNITS - 1, name=f"dec_{d}", **kw)
    if enc_own < UNITS:
        parts["enc_shared"] = xgan_encoder(first=enc_own, last=UNITS - 1, name="enc_shared", **enc_kw)
    if dec_own < UNITS:
        parts["dec_shared"] = xgan_decoder(first=0, last=UNITS - dec_own - 1, name="dec_shared", **kw)
    return parts
