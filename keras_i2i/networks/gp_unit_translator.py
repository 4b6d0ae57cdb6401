"""GP-UNIT stage II networks (Yang et al. 2022): the style encoder, the generator of AdaIN
residual blocks with dynamic skip connections, and a StarGAN-v2-style discriminator.

Built as the official code builds them (williamyang1991/GP-UNIT, ``model/generator.py``
and ``model/discriminator.py``), with every width scaled by ``ch`` and the number of
stages following the image size:

- :func:`build_style_encoder`: 7x7 convolution, ``n_down`` stride-2 4x4 convolutions
  (reflection padding, ReLU, widths doubling up to ``style_dim``), global average, then an
  MLP through a ``compress`` bottleneck back to ``style_dim`` (ReLU after every layer, so
  style codes are non-negative, as the official ones).
- :class:`GPUnitGenerator`: from the content code (the content encoder's last output), one
  AdaIN residual block pair at the code's side, then per 2x nearest up-sampling one AdaIN
  residual block; at the first ``skip_levels`` up-samplings a :class:`DynamicSkip` brings in
  the content encoder's feature of that side through GRU-like gates; a 7x7 convolution and
  tanh make the image.
- :class:`GPUnitDiscriminator`: the StarGAN v2 discriminator as GP-UNIT uses it
  (spectrally normalized pre-activation residual blocks, average-pool down-sampling, a 4x4
  valid convolution), with one logit per domain (StarGAN v2's multi-task head; GP-UNIT's
  has one output per model, it trains one direction per model) and the spatial mean of its
  activations after ``style_blocks`` blocks as the style feature of the style loss.

Where the official code has parts no full-resolution forward pass uses (a to-RGB
convolution per generator layer, for its progressive ``scale`` outputs) they are left out.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
from keras import layers, ops

from keras_i2i.layers import InstanceNormalization, ReflectionPadding2D
from keras_i2i.layers.spectral_norm import SNConv2D


def kaiming_init(seed=None) -> keras.initializers.Initializer:
    """``init_weights('kaiming')`` of the official code: normal, fan-in, gain sqrt(2)."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)


def _seed(seed, offset):
    return None if seed is None else int(seed) + offset


def generator_widths(ch: int, n_up: int) -> tuple[int, ...]:
    """Widths of the generator's ``n_up + 1`` layers, code side first: the official
    ``ngf * (8, 8, 4, 2, 1, 1)`` for five up-samplings, ``ch * min(8, 2**(n_up-1-i))``."""
    return tuple(int(ch) * min(8, 2 ** max(n_up - 1 - i, 0)) for i in range(n_up + 1))


# -- layers -----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_i2i")
class AdaptiveInstanceNorm(keras.layers.Layer):
    """Adaptive instance normalization: ``gamma(s) * IN(x) + beta(s)`` with ``(gamma, beta)``
    a linear map of the style code ``s`` (called on ``[x, s]``).

    The official layer sets the map's bias to ``(1, 0)`` and then its ``init_weights``
    resets every linear bias to 0; ``gamma_bias`` picks which (default 0, as trained).

    Args:
        epsilon: the instance norm's epsilon.
        gamma_bias: the initial bias of ``gamma``.
        seed: seed of the kernel initializer.

    Reference:
        Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
        Normalization", ICCV 2017.
    """

    def __init__(self, epsilon: float = 1e-5, gamma_bias: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.epsilon, self.gamma_bias, self.seed = float(epsilon), float(gamma_bias), seed
        self.norm = InstanceNormalization(epsilon=self.epsilon, name="norm")

    def build(self, input_shape):
        x_shape, s_shape = input_shape
        channels = int(x_shape[-1])
        self.channels = channels
        bias = [self.gamma_bias] * channels + [0.0] * channels
        self.style = layers.Dense(2 * channels, kernel_initializer=kaiming_init(self.seed),
                                  bias_initializer=keras.initializers.Constant(bias), name="style")
        self.style.build(tuple(s_shape))
        self.norm.build(tuple(x_shape))

    def call(self, inputs):
        x, s = inputs
        params = self.style(s)
        gamma = ops.reshape(params[:, : self.channels], (-1, 1, 1, self.channels))
        beta = ops.reshape(params[:, self.channels:], (-1, 1, 1, self.channels))
        return gamma * self.norm(x) + beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "gamma_bias": self.gamma_bias, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_i2i")
class AdaResBlock(keras.layers.Layer):
    """SPADE-style residual block with AdaIN: ``x_s + conv(lrelu(AdaIN(conv(lrelu(AdaIN(x))))))``;
    the shortcut is ``conv1x1(AdaIN(x))`` (no bias) where the widths differ (called on ``[x, s]``).

    Args:
        filters: output width.
        seed: seed of the initializers.
    """

    def __init__(self, filters: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.seed = int(filters), seed

    def build(self, input_shape):
        x_shape, s_shape = input_shape
        fin = int(x_shape[-1])
        self.learned_shortcut = fin != self.filters
        f = self.filters
        self.norm_0 = AdaptiveInstanceNorm(seed=_seed(self.seed, 1), name="norm_0")
        self.conv_0 = layers.Conv2D(f, 3, padding="same", kernel_initializer=kaiming_init(_seed(self.seed, 2)),
                                    name="conv_0")
        self.norm_1 = AdaptiveInstanceNorm(seed=_seed(self.seed, 3), name="norm_1")
        self.conv_1 = layers.Conv2D(f, 3, padding="same", kernel_initializer=kaiming_init(_seed(self.seed, 4)),
                                    name="conv_1")
        self.norm_0.build([x_shape, s_shape])
        self.conv_0.build(tuple(x_shape))
        mid = (*x_shape[:-1], f)
        self.norm_1.build([mid, s_shape])
        self.conv_1.build(mid)
        if self.learned_shortcut:
            self.norm_s = AdaptiveInstanceNorm(seed=_seed(self.seed, 5), name="norm_s")
            self.conv_s = layers.Conv2D(f, 1, use_bias=False, kernel_initializer=kaiming_init(_seed(self.seed, 6)),
                                        name="conv_s")
            self.norm_s.build([x_shape, s_shape])
            self.conv_s.build(tuple(x_shape))

    def call(self, inputs):
        x, s = inputs
        x_s = self.conv_s(self.norm_s([x, s])) if self.learned_shortcut else x
        dx = self.conv_0(ops.leaky_relu(self.norm_0([x, s]), 0.2))
        dx = self.conv_1(ops.leaky_relu(self.norm_1([dx, s]), 0.2))
        return x_s + dx

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "seed": self.seed}


def gated_mix(decoder_features, encoder_features, mask):
    """The dynamic skip's output: ``(1 - m) * f_G + m * f_E``."""
    return (1.0 - mask) * decoder_features + mask * encoder_features


@keras.saving.register_keras_serializable(package="keras_i2i")
class DynamicSkip(keras.layers.Layer):
    """GP-UNIT's dynamic skip connection, a GRU-like gate (the official ``DynamicSkipLayer``;
    the paper's Eq. 4). Called on ``[f_G, f_E, h]``: the generator's features, the content
    encoder's feature of the same side and the state from the level below (half the side):

    ``h^ = lrelu(W_h * up(h))``, ``r = sigmoid(W_r * [h^, f_E])``, ``h' = r h^``,
    ``m = tanh(relu(W_m * [h^, f_E]))``, ``f_E^ = W_E * [h', f_E]``,
    ``out = (1 - m) f_G + m f_E^``; returns ``[out, h', m]``. Every ``W`` is a 3x3
    convolution with reflection padding; relu then tanh keeps most of the mask at 0.

    Args:
        filters: the generator's width at this side (of ``out``, ``h'`` and ``m``).
        seed: seed of the initializers.

    Reference:
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior",
        CVPR 2022. https://arxiv.org/abs/2204.03641
    """

    GATES = ("trans", "reset", "mask", "update")

    def __init__(self, filters: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.seed = int(filters), seed
        self.pad = ReflectionPadding2D(1, name="pad")
        for i, gate in enumerate(self.GATES):
            setattr(self, gate, layers.Conv2D(self.filters, 3, padding="valid",
                                              kernel_initializer=kaiming_init(_seed(self.seed, i)), name=gate))

    def build(self, input_shape):
        dec_shape, enc_shape, state_shape = input_shape
        h, w = dec_shape[1], dec_shape[2]
        f, e = self.filters, int(enc_shape[-1])
        padded = lambda c: (None, None if h is None else h + 2, None if w is None else w + 2, c)  # noqa: E731
        self.trans.build(padded(int(state_shape[-1])))
        for gate in ("reset", "mask", "update"):
            getattr(self, gate).build(padded(f + e))

    def _conv(self, conv, x):
        return conv(self.pad(x))

    def call(self, inputs):
        fdec, fenc, state = inputs
        fenc = ops.cast(fenc, fdec.dtype)
        state = ops.cast(state, fdec.dtype)
        state = ops.leaky_relu(self._conv(self.trans, _upsample(state)), 0.2)
        both = ops.concatenate([state, fenc], axis=-1)
        reset = ops.sigmoid(self._conv(self.reset, both))
        new_state = reset * state
        mask = ops.tanh(ops.relu(self._conv(self.mask, both)))
        new_fenc = self._conv(self.update, ops.concatenate([new_state, fenc], axis=-1))
        return [gated_mix(fdec, new_fenc, mask), new_state, mask]

    def compute_output_shape(self, input_shape):
        out = (*input_shape[0][:-1], self.filters)
        return [out, out, out]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "seed": self.seed}


def _upsample(x):
    """2x nearest up-sampling (``nn.Upsample(scale_factor=2)``) as one rank-4 resize
    (``repeat`` makes rank-5 tensors that the TFLite GPU delegate rejects)."""
    shape = ops.shape(x)
    return ops.image.resize(x, (shape[1] * 2, shape[2] * 2), interpolation="nearest")


# -- the generator ----------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_i2i")
class GPUnitGenerator(keras.Model):
    """GP-UNIT's generator: content features and a style code -> an image.

    Called on ``(content, style)``: ``content`` is the content encoder's list of outputs
    (shallow to deep, the content code last), ``style`` a ``(B, style_dim)`` code. From the
    code (side ``s0``) the layers run at ``s0, 2 s0, ... , image_size``: an AdaIN residual
    block pair at ``s0``, one block per up-sampled side; at the first ``skip_levels``
    up-sampled sides a :class:`DynamicSkip` mixes in the content feature of that side (the
    deepest one of that side), its state starting from the content code. With
    ``use_skip=False`` the skips are left out (the official reconstruction pass).
    Returns ``(image in [-1, 1], [masks of the skips])``.

    Args:
        image_size: the output side.
        content_shapes: ``[(side, channels), ...]`` of the content encoder's outputs,
            shallow to deep, the content code last.
        ch: base width (the official ``ngf`` 64).
        style_dim: the style code's width.
        skip_levels: how many up-sampled sides get a dynamic skip (official 2).
        seed: seed of the initializers.

    Reference:
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior",
        CVPR 2022. https://arxiv.org/abs/2204.03641
    """

    def __init__(self, image_size: int, content_shapes: Sequence, ch: int = 64, style_dim: int = 256,
                 skip_levels: int = 2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.ch, self.style_dim = int(image_size), int(ch), int(style_dim)
        self.content_shapes = [(int(s), int(c)) for s, c in content_shapes]
        self.skip_levels, self.seed = int(skip_levels), seed
        code_side = self.content_shapes[-1][0]
        n_up = int(round(math.log2(self.image_size / code_side)))
        if code_side * 2 ** n_up != self.image_size or n_up < 1:
            raise ValueError(f"The content code's side {code_side} does not double up to the image side "
                             f"{self.image_size}.")
        if self.skip_levels > n_up:
            raise ValueError(f"skip_levels {self.skip_levels}: the generator has only {n_up} up-sampled sides.")
        self.n_up = n_up
        self.widths = generator_widths(self.ch, n_up)
        #: per skip level, the index of the content output it takes (the deepest of its side)
        self.skip_sources = []
        for level in range(1, self.skip_levels + 1):
            side = code_side * 2 ** level
            found = [i for i, (s, _) in enumerate(self.content_shapes[:-1]) if s == side]
            if not found:
                raise ValueError(f"The content encoder has no feature of side {side} for the dynamic skip at level "
                                 f"{level}; its sides are {[s for s, _ in self.content_shapes]}.")
            self.skip_sources.append(found[-1])
        self.head = AdaResBlock(self.widths[0], seed=_seed(seed, 0), name="res0")
        self.post = AdaResBlock(self.widths[0], seed=_seed(seed, 10), name="post0")
        # one attribute per layer (block1, skip1 ...): tf.train.Checkpoint and .keras files
        # follow attributes, not layers inside Python lists
        for i, w in enumerate(self.widths):
            if i > 0:
                setattr(self, f"block{i}", AdaResBlock(w, seed=_seed(seed, 20 * i), name=f"res{i}"))
        for level in range(1, self.skip_levels + 1):
            setattr(self, f"skip{level}", DynamicSkip(self.widths[level], seed=_seed(seed, 1000 + 10 * level),
                                                      name=f"skip{level}"))
        self.to_rgb = layers.Conv2D(3, 7, padding="same", kernel_initializer=kaiming_init(_seed(seed, 5000)),
                                    name="to_rgb")
        self.build_all()

    @property
    def blocks(self):
        return [getattr(self, f"block{i}") for i in range(1, self.n_up + 1)]

    @property
    def skips(self):
        return [getattr(self, f"skip{level}") for level in range(1, self.skip_levels + 1)]

    def build_all(self):
        """Build every weight with a dummy batch (the networks are fixed by the constructor)."""
        content = [ops.zeros((1, s, s, c)) for s, c in self.content_shapes]
        self(content, ops.zeros((1, self.style_dim)))
        return self

    def call(self, content, style, use_skip: bool = True):
        code = content[-1]
        style = ops.cast(style, self.compute_dtype)
        x = self.post([self.head([ops.cast(code, self.compute_dtype), style]), style])
        state, masks = code, []
        for i in range(1, self.n_up + 1):
            x = getattr(self, f"block{i}")([_upsample(x), style])
            if use_skip and i <= self.skip_levels:
                x, state, mask = getattr(self, f"skip{i}")([x, content[self.skip_sources[i - 1]], state])
                masks.append(mask)
        image = ops.tanh(self.to_rgb(ops.leaky_relu(x, 0.2)))
        return image, masks

    def get_config(self):
        return {"image_size": self.image_size, "content_shapes": [list(s) for s in self.content_shapes],
                "ch": self.ch, "style_dim": self.style_dim, "skip_levels": self.skip_levels, "seed": self.seed,
                "name": self.name}


# -- the style encoder ----------------------------------------------------------------------
def style_encoder_downs(image_size: int) -> int:
    """Stride-2 convolutions of the style encoder: the official 5 (256 px -> 8 px), fewer
    for images under 64 px (down to 2 px)."""
    return max(1, min(5, int(math.log2(image_size)) - 1))


def build_style_encoder(image_size: int, ch: int = 64, style_dim: int = 256, compress: int = 64, mlp_layers: int = 2,
                        seed=None, name: str = "style_encoder") -> keras.Model:
    """GP-UNIT's style encoder (the official ``generator.StyleEncoder``): image ``(B, H, W, 3)``
    in [-1, 1] -> style code ``(B, style_dim)``.

    Args:
        image_size: the input side.
        ch: the first convolution's width (official ``nef`` 64); widths double up to ``style_dim``.
        style_dim: the style code's width (official 256).
        compress: the MLP's bottleneck width (official 64).
        mlp_layers: linear layers after the bottleneck (official 2).
        seed: seed of the initializers.

    Reference:
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior",
        CVPR 2022. https://arxiv.org/abs/2204.03641
    """
    image = keras.Input((image_size, image_size, 3), name="image")
    x = ReflectionPadding2D(3, name="pad0")(image)
    x = layers.Conv2D(ch, 7, activation="relu", kernel_initializer=kaiming_init(_seed(seed, 0)), name="conv0")(x)
    width = ch
    for i in range(1, style_encoder_downs(image_size) + 1):
        width = min(width * 2, style_dim)
        x = ReflectionPadding2D(1, name=f"pad{i}")(x)
        x = layers.Conv2D(width, 4, strides=2, activation="relu", kernel_initializer=kaiming_init(_seed(seed, i)),
                          name=f"conv{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(compress, activation="relu", kernel_initializer=kaiming_init(_seed(seed, 100)), name="mlp0")(x)
    for i in range(1, mlp_layers + 1):
        x = layers.Dense(width, activation="relu", kernel_initializer=kaiming_init(_seed(seed, 100 + i)),
                         name=f"mlp{i}")(x)
    if width != style_dim:  # only where ch is so small that the widths never reach style_dim
        x = layers.Dense(style_dim, activation="relu", kernel_initializer=kaiming_init(_seed(seed, 200)),
                         name="to_style")(x)
    return keras.Model(image, x, name=name)


# -- the discriminator ------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_i2i")
class SNResBlock(keras.layers.Layer):
    """StarGAN v2's discriminator block with spectral norm (GP-UNIT's ``ResnetBlock``):
    ``(shortcut(x) + conv(lrelu(pool(conv(lrelu(x)))))) / sqrt(2)``, the shortcut a 1x1
    convolution without bias where the widths differ, then the pooling.

    Args:
        filters: output width.
        downsample: 2x2 average pooling.
        sn_epsilon: spectral-norm epsilon.
        seed: seed of the initializers.
    """

    def __init__(self, filters: int, downsample: bool = True, sn_epsilon: float = 1e-12, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.downsample = int(filters), bool(downsample)
        self.sn_epsilon, self.seed = float(sn_epsilon), seed

    def build(self, input_shape):
        fin = int(input_shape[-1])
        self.learned_shortcut = fin != self.filters
        kw = dict(sn_epsilon=self.sn_epsilon)
        self.conv_0 = SNConv2D(fin, 3, padding="same", kernel_initializer=kaiming_init(_seed(self.seed, 0)),
                               name="conv_0", **kw)
        self.conv_1 = SNConv2D(self.filters, 3, padding="same", kernel_initializer=kaiming_init(_seed(self.seed, 1)),
                               name="conv_1", **kw)
        self.conv_0.build(tuple(input_shape))
        h = input_shape[1] // 2 if self.downsample and input_shape[1] is not None else input_shape[1]
        w = input_shape[2] // 2 if self.downsample and input_shape[2] is not None else input_shape[2]
        self.conv_1.build((input_shape[0], h, w, fin))
        if self.learned_shortcut:
            self.conv_s = SNConv2D(self.filters, 1, use_bias=False,
                                   kernel_initializer=kaiming_init(_seed(self.seed, 2)), name="conv_s", **kw)
            self.conv_s.build(tuple(input_shape))

    def _pool(self, x):
        return ops.average_pool(x, 2, 2) if self.downsample else x

    def call(self, x, training=False):
        x_s = self.conv_s(x, training=training) if self.learned_shortcut else x
        x_s = self._pool(x_s)
        dx = self._pool(self.conv_0(ops.leaky_relu(x, 0.2), training=training))
        dx = self.conv_1(ops.leaky_relu(dx, 0.2), training=training)
        return (x_s + dx) / math.sqrt(2.0)

    def compute_output_shape(self, input_shape):
        d = 2 if self.downsample else 1
        return (input_shape[0], input_shape[1] // d, input_shape[2] // d, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "downsample": self.downsample,
                "sn_epsilon": self.sn_epsilon, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_i2i")
class GPUnitDiscriminator(keras.Model):
    """The StarGAN-v2-style multi-domain discriminator: image -> ``(logits (B, num_domains),
    style feature (B, C))``; pick the target domain's logit with :meth:`pick`.

    ``ch``-wide 3x3 convolution, ``log2(image_size) - 2`` down-sampling
    :class:`SNResBlock` s (widths doubling up to ``8 ch``) down to 4 px, leaky ReLU, a 4x4
    valid convolution, leaky ReLU and a 1x1 convolution with one output per domain; every
    convolution spectrally normalized. The style feature is the spatial mean of the
    activations after ``style_blocks`` blocks (the official ``style_layer=4``: the first
    convolution and three blocks).

    Args:
        image_size: the input side (at least 8, a power of 2).
        num_domains: outputs (one per domain).
        ch: the first convolution's width (official 64).
        style_blocks: blocks before the style feature (official 3).
        sn_epsilon: spectral-norm epsilon.
        seed: seed of the initializers.

    Reference:
        Choi et al., "StarGAN v2: Diverse Image Synthesis for Multiple Domains", CVPR 2020.
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior", CVPR 2022.
    """

    def __init__(self, image_size: int, num_domains: int, ch: int = 64, style_blocks: int = 3,
                 sn_epsilon: float = 1e-12, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.num_domains, self.ch = int(image_size), int(num_domains), int(ch)
        self.sn_epsilon, self.seed = float(sn_epsilon), seed
        n_blocks = int(math.log2(self.image_size)) - 2
        if 2 ** (n_blocks + 2) != self.image_size or n_blocks < 1:
            raise ValueError(f"The discriminator takes power-of-2 sides of at least 8, not {self.image_size}.")
        self.style_blocks = max(1, min(int(style_blocks), n_blocks))
        kw = dict(sn_epsilon=self.sn_epsilon)
        self.conv_in = SNConv2D(self.ch, 3, padding="same", kernel_initializer=kaiming_init(_seed(seed, 0)),
                                name="conv_in", **kw)
        widths, width = [], self.ch
        for _ in range(n_blocks):
            width = min(width * 2, 8 * self.ch)
            widths.append(width)
        self.num_blocks = len(widths)
        for i, w in enumerate(widths):  # attributes, not a list: checkpoints follow attributes
            setattr(self, f"block{i}", SNResBlock(w, True, seed=_seed(seed, 10 * (i + 1)), name=f"block{i}", **kw))
        self.conv_out = SNConv2D(width, 4, padding="valid", kernel_initializer=kaiming_init(_seed(seed, 1000)),
                                 name="conv_out", **kw)
        self.linear = SNConv2D(self.num_domains, 1, kernel_initializer=kaiming_init(_seed(seed, 1001)),
                               name="linear", **kw)
        self(ops.zeros((1, self.image_size, self.image_size, 3)))

    def call(self, images, training=False):
        x = self.conv_in(images, training=training)
        style = None
        for i in range(1, self.num_blocks + 1):
            x = getattr(self, f"block{i - 1}")(x, training=training)
            if i == self.style_blocks:
                style = ops.mean(ops.mean(x, axis=2), axis=1)
        x = ops.leaky_relu(self.conv_out(ops.leaky_relu(x, 0.2), training=training), 0.2)
        logits = ops.reshape(self.linear(x, training=training), (-1, self.num_domains))
        return logits, style

    @staticmethod
    def pick(logits, labels):
        """Each image's logit of its domain (a one-hot mask: no gather in the step)."""
        mask = ops.one_hot(ops.cast(labels, "int32"), ops.shape(logits)[-1], dtype=logits.dtype)
        return ops.sum(logits * mask, axis=-1)

    def get_config(self):
        return {"image_size": self.image_size, "num_domains": self.num_domains, "ch": self.ch,
                "style_blocks": self.style_blocks, "sn_epsilon": self.sn_epsilon, "seed": self.seed,
                "name": self.name}


__all__ = ["AdaResBlock", "AdaptiveInstanceNorm", "DynamicSkip", "GPUnitDiscriminator", "GPUnitGenerator",
           "SNResBlock", "build_style_encoder", "gated_mix", "generator_widths", "kaiming_init"]
