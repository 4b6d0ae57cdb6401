"""Cascaded deep-feature translation (Katzir, Lischinski & Cohen-Or 2019).

Images are translated in the feature space of a frozen VGG, deepest level first: the
relu5_1 features of one domain are translated to the other's by a CycleGAN-style pair of
feature translators, then each shallower level ``l`` is translated conditioned on the
translation of the level below it (deeper), brought up to level ``l``'s resolution by a
learned inverter; a per-domain decoder turns the shallowest translated features back into
an image.

Design choices fixed here (the paper has no code):

- levels are VGG blocks, tapped at ``relu{l}_1``; ``model.levels`` lists them deepest
  first (``[5, 4, 3, 2, 1]`` at 256 px, fewer for small images);
- features are standardized per channel with each domain's statistics, measured on
  ``model.stats_images`` training images before step 0 (:meth:`Cascaded.prepare`) and held
  as non-trainable weights (checkpointed, exported); translated features leave a level
  through a ReLU in VGG's space (a clamp at ``-mean/std`` in standardized space);
- schedule: one level at a time, deepest first, the deeper levels frozen: level ``i`` of
  ``model.levels`` trains from step ``sum(steps_per_level[:i])``; the last level trains to
  the end. The level is a function of the model's step counter, so ``--resume`` is exact
  across a level boundary. Each level has its own optimizers (``gen5``/``disc5`` ...),
  so a level starts with fresh Adam moments. Decoders (player ``aux``) and inverters
  (``inv{l}``: into level ``l``) train on real images from step 0, since they do not depend
  on any translation; the inverters into a level stop when that level's training ends,
  so a finished level's output stays exactly fixed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_i2i.config import ConfigError, ModelConfig, bounded, choices
from keras_i2i.directions import two_way
from keras_i2i.layers import InstanceNormalization
from keras_i2i.losses import GAN_LOSSES, l1_loss
from keras_i2i.models.base import TranslationModel, _apply_when, register_model
from keras_i2i.networks.common import conv_init
from keras_i2i.networks.patchgan import patch_discriminator

#: VGG blocks a level can be (tap ``relu{l}_1``) and their channels.
LEVEL_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


@dataclasses.dataclass(frozen=True)
class CascadedConfig(ModelConfig):
    """``model:`` section of the cascaded deep-feature translation model."""

    name: str = "cascaded"
    vgg: str = choices("vgg16", "vgg19", default="vgg16")
    # vgg_features weights: lpips (VGG16, offline), imagenet (downloads), none (random), or a file
    vgg_weights: str = "lpips"
    levels: tuple[int, ...] = (5, 4, 3, 2, 1)  # VGG blocks, deepest first; taps relu{l}_1
    # Steps each level trains (deepest first): one value for every level, or one per level;
    # the last level trains until the end of training.
    steps_per_level: tuple[int, ...] = (1000,)
    stats_images: int = bounded(64, at_least=1)  # images per domain for the feature statistics
    width: int = bounded(256, at_least=1)  # feature translators: width cap (min(width, channels))
    n_blocks: int = bounded(4, at_least=0)  # residual blocks per feature translator
    ndf: int = bounded(64, at_least=1)
    n_layers_d: int = bounded(3, at_least=0)  # at most; fewer where the feature map is small
    inverter_width: int = bounded(128, at_least=1)  # capped at the shallower level's channels
    decoder_width: int = bounded(128, at_least=1)
    norm: str = choices("instance", "none", default="instance")
    gan_mode: str = choices("lsgan", "vanilla", "hinge", default="lsgan")
    lambda_gan: float = bounded(1.0, at_least=0)
    lambda_cycle: float = bounded(10.0, at_least=0)
    lambda_identity: float = bounded(0.0, at_least=0)
    lambda_deep: float = bounded(10.0, at_least=0)  # VGG_{l->l+1}(T_l) ~ translated level l+1
    lambda_decoder_l1: float = bounded(10.0, at_least=0)
    lambda_decoder_perceptual: float = bounded(1.0, at_least=0)

    def validate(self, data) -> None:
        """Levels are VGG blocks 1-5, deepest first; the deepest level's map is at least
        2x2 for ``data.crop_size``; ``steps_per_level`` has one value or one per level."""
        levels = tuple(self.levels)
        if not levels or any(l not in LEVEL_CHANNELS for l in levels) or list(levels) != sorted(set(levels),
                                                                                                reverse=True):
            raise ConfigError(f"model.levels: {list(levels)} must be distinct VGG blocks 1-5, deepest first "
                              "(e.g. [5, 4, 3]).")
        if len(self.steps_per_level) not in (1, len(levels)) or any(s < 1 for s in self.steps_per_level):
            raise ConfigError(f"model.steps_per_level: {list(self.steps_per_level)} must be one positive number "
                              f"or one per level ({len(levels)}).")
        factor = 2 ** (levels[0] - 1)
        if data.crop_size % factor or data.crop_size // factor < 2:
            raise ConfigError(f"data.crop_size: {data.crop_size} does not fit model.levels {list(levels)}: it must "
                              f"be a multiple of {factor} and at least {2 * factor} (relu{levels[0]}_1 is 1/{factor} "
                              "of the image side).")


@keras.saving.register_keras_serializable(package="keras_i2i")
class FeatureStandardization(keras.layers.Layer):
    """Per-channel feature statistics of one domain at one level (non-trainable weights,
    measured before training): ``standardize`` ``(x - mean) / std``, ``destandardize``
    its inverse, ``clamp`` ``max(x, -mean / std)`` (a ReLU in the raw feature space).

    Args:
        channels: feature channels.
    """

    MODES = ("standardize", "destandardize", "clamp")

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.mean = self.add_weight(shape=(self.channels,), initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=(self.channels,), initializer="ones", trainable=False, name="std")

    def call(self, x, mode="standardize"):
        mean, std = ops.cast(self.mean, x.dtype), ops.cast(self.std, x.dtype)
        if mode == "standardize":
            return (x - mean) / std
        if mode == "destandardize":
            return x * std + mean
        if mode == "clamp":
            return ops.maximum(x, -mean / std)
        raise ValueError(f"Unknown mode {mode!r}; known: {', '.join(self.MODES)}.")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config


def _conv(filters, name, kernel=3, gain=0.02):
    return layers.Conv2D(filters, kernel, padding="same", kernel_initializer=conv_init(gain), name=name)


def _norm_relu(x, norm, name):
    if norm == "instance":
        x = InstanceNormalization(name=f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def feature_translator(channels: int, width: int, n_blocks: int, conditioned: bool, norm: str = "instance",
                       name: str = "feature_translator") -> keras.Model:
    """Standardized features of one level -> the other domain's, at the same resolution:
    a 3x3 stem, ``n_blocks`` residual blocks, a 3x3 output convolution added to the
    source features (a translator starts near the identity). ``conditioned``: the input
    takes a second input, the deeper level's translation brought up by an inverter
    (concatenated to the source features)."""
    source = keras.Input(shape=(None, None, channels), name="features")
    inputs = [source, keras.Input(shape=(None, None, channels), name="guide")] if conditioned else source
    x = layers.Concatenate(name="concat")(inputs) if conditioned else source
    x = _norm_relu(_conv(width, "stem")(x), norm, "stem")
    for i in range(n_blocks):
        y = _norm_relu(_conv(width, f"block{i}_conv0")(x), norm, f"block{i}_0")
        y = _conv(width, f"block{i}_conv1")(y)
        if norm == "instance":
            y = InstanceNormalization(name=f"block{i}_conv1_norm")(y)
        x = layers.Add(name=f"block{i}_add")([x, y])
    delta = _conv(channels, "out")(x)
    return keras.Model(inputs, layers.Add(name="residual")([source, delta]), name=name)


def inverter(deep_channels: int, channels: int, width: int, scale: int, name: str = "inverter") -> keras.Model:
    """Standardized features of a deeper level -> those of a shallower one ``scale``
    (a power of two) times larger: 3x3 convolution, then per factor 2 a bilinear
    up-sampling and a 3x3 convolution (ReLU after each), a linear 3x3 output."""
    inputs = keras.Input(shape=(None, None, deep_channels), name="features")
    x = layers.ReLU(name="stem_relu")(_conv(width, "stem")(inputs))
    for i in range(int(math.log2(scale))):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}")(x)
        x = layers.ReLU(name=f"up{i}_relu")(_conv(width, f"up{i}_conv")(x))
    return keras.Model(inputs, _conv(channels, "out")(x), name=name)


def decoder(channels: int, width: int, scale: int, norm: str = "instance", name: str = "decoder") -> keras.Model:
    """Standardized features of the shallowest level -> an RGB image in [-1, 1], ``scale``
    times larger: 3x3 convolution, per factor 2 a bilinear up-sampling and a 3x3
    convolution (width halved each time, at least 16), a 3x3 output and tanh.
    (Bilinear, not nearest: Keras' nearest up-sampling repeats through 5-D tensors in
    TFLite, which the GPU delegate rejects; bilinear is one 4-D resize.)"""
    inputs = keras.Input(shape=(None, None, channels), name="features")
    x = _norm_relu(_conv(width, "stem")(inputs), norm, "stem")
    for i in range(int(math.log2(scale))):
        width = max(16, width // 2)
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}")(x)
        x = _norm_relu(_conv(width, f"up{i}_conv")(x), norm, f"up{i}")
    x = _conv(3, "out")(x)
    return keras.Model(inputs, layers.Activation("tanh", dtype="float32", name="image")(x), name=name)


class _Cache:
    """A plain holder (Keras does not track it: nothing in it enters checkpoints)."""

    def __init__(self, value=None):
        self.value = value


@register_model("cascaded", CascadedConfig)
class Cascaded(TranslationModel):
    """Cascaded deep-feature translation: per level (deepest first) a pair of feature
    translators and a PatchGAN per domain on the features (LSGAN, cycle L1, optional
    identity, deep consistency with the deeper level), an inverter per target domain and
    shallower level, a decoder per domain from the shallowest level to RGB.

    Networks are named ``gen_a2b_l{l}``, ``gen_b2a_l{l}``, ``disc_a_l{l}``, ``disc_b_l{l}``,
    ``inv_a_l{l}`` (domain a's level ``l`` from its next deeper level), ``dec_a``,
    ``dec_b`` and ``stats_a_l{l}``; the VGG is frozen and held by reference (rebuilt from
    ``model.vgg`` / ``model.vgg_weights``, in no checkpoint).

    Args:
        config: a :class:`CascadedConfig`.
        image_size: training crop size.
        seed: unused (no random draws of the model's own).

    Reference:
        Katzir, Lischinski & Cohen-Or, "Cross-Domain Cascaded Deep Feature Translation",
        ECCV 2020. https://arxiv.org/abs/1906.01526
    """

    LEVELS_ALL = (5, 4, 3, 2, 1)
    players = tuple(f"{kind}{l}" for l in LEVELS_ALL for kind in ("gen", "disc", "inv")) + ("aux",)
    LOSS_NAMES = ("loss_gan_a2b", "loss_gan_b2a", "loss_cycle_a", "loss_cycle_b", "loss_deep_a2b", "loss_deep_b2a",
                  "loss_idt_a", "loss_idt_b", "loss_g", "loss_d_a", "loss_d_b")
    AUX_NAMES = ("loss_inv_a", "loss_inv_b", "loss_dec_a", "loss_dec_b")

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        from keras_i2i.pretrained import FrozenReference, vgg_features

        cfg = self.config
        self.levels = tuple(int(l) for l in cfg.levels)
        steps = tuple(cfg.steps_per_level)
        steps = steps * len(self.levels) if len(steps) == 1 else steps
        #: the step at which each level after the first starts
        self.boundaries = tuple(int(b) for b in np.cumsum(steps)[:-1])
        taps = tuple(f"relu{l}_1" for l in sorted(self.levels))
        self.vgg = FrozenReference(vgg_features(cfg.vgg, cfg.vgg_weights, taps, name=f"{cfg.vgg}_cascade"))
        self._vgg_layers = _Cache([layer for layer in self.vgg.network.layers  # untracked: in no checkpoint
                                   if isinstance(layer, (layers.Conv2D, layers.MaxPool2D))])
        deepest = self.levels[0]
        for d in ("a", "b"):
            for l in self.levels:
                ch = LEVEL_CHANNELS[l]
                stats = FeatureStandardization(ch, name=f"stats_{d}_l{l}")
                stats.build((None, None, None, ch))
                setattr(self, f"stats_{d}_l{l}", stats)
                side = max(1, image_size // 2 ** (l - 1))
                n_layers = max(0, min(cfg.n_layers_d, int(math.floor(math.log2(max(side, 3) / 3)))))
                setattr(self, f"disc_{d}_l{l}", patch_discriminator(
                    ndf=cfg.ndf, n_layers=n_layers, norm=cfg.norm, channels=ch, name=f"disc_{d}_l{l}"))
            for deep, l in zip(self.levels, self.levels[1:]):
                setattr(self, f"inv_{d}_l{l}", inverter(LEVEL_CHANNELS[deep], LEVEL_CHANNELS[l],
                                                       min(cfg.inverter_width, LEVEL_CHANNELS[l]),
                                                       2 ** (deep - l), name=f"inv_{d}_l{l}"))
            shallow = self.levels[-1]
            setattr(self, f"dec_{d}", decoder(LEVEL_CHANNELS[shallow], cfg.decoder_width, 2 ** (shallow - 1), cfg.norm,
                                              name=f"dec_{d}"))
        for src, dst in (("a", "b"), ("b", "a")):
            for l in self.levels:
                ch = LEVEL_CHANNELS[l]
                setattr(self, f"gen_{src}2{dst}_l{l}", feature_translator(
                    ch, min(cfg.width, ch), cfg.n_blocks, conditioned=l != deepest, norm=cfg.norm,
                    name=f"gen_{src}2{dst}_l{l}"))
        self.gan_loss = GAN_LOSSES.get(cfg.gan_mode)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES + self.AUX_NAMES}
        self._translators = _Cache()
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- pieces ----------------------------------------------------------------------------
    def net(self, kind: str, *parts) -> keras.Model:
        """The network ``{kind}_{parts...}``, e.g. ``net("gen", "a2b", "l5")``."""
        return getattr(self, "_".join((kind,) + tuple(str(p) for p in parts)))

    def stats(self, domain: str, level: int) -> FeatureStandardization:
        return getattr(self, f"stats_{domain}_l{level}")

    def level_index(self, step=None):
        """Index into ``model.levels`` of the level trained at ``step`` (default: the
        model's step counter), an int32 tensor."""
        step = self.step if step is None else step
        if not self.boundaries:
            return tf.constant(0, tf.int32)
        return tf.reduce_sum(tf.cast(tf.cast(step, tf.int64) >= tf.constant(self.boundaries, tf.int64), tf.int32))

    def features(self, images, domain: str) -> dict:
        """Standardized VGG features ``{level: tensor}`` of ``images`` with ``domain``'s
        statistics."""
        raw = self.vgg(images, training=False)
        return {l: self.stats(domain, l)(raw[f"relu{l}_1"]) for l in self.levels}

    def vgg_segment(self, x, shallow: int, deep: int):
        """The VGG layers from after ``relu{shallow}_1`` to ``relu{deep}_1`` applied to raw
        (not standardized) features ``x``."""
        start = f"relu{shallow}_1"
        running = False
        for layer in self._vgg_layers.value:
            if running:
                x = layer(x)
                if layer.name == f"relu{deep}_1":
                    return x
            running = running or layer.name == start
        raise ValueError(f"No VGG segment relu{shallow}_1 -> relu{deep}_1.")

    def deep_of(self, standardized, domain: str, shallow: int, deep: int):
        """Level ``shallow``'s standardized features of ``domain`` taken through the VGG to
        level ``deep`` (ReLU in VGG's space first), standardized again."""
        raw = ops.relu(self.stats(domain, shallow)(standardized, mode="destandardize"))
        return self.stats(domain, deep)(self.vgg_segment(raw, shallow, deep))

    def cascade(self, source: dict, src: str, dst: str, down_to: int, training: bool = False,
                frozen_above: Optional[int] = None) -> dict:
        """Translate standardized features ``{level: tensor}`` of ``src`` to ``dst`` from the
        deepest level down to level ``down_to``; ``{level: translated}`` (standardized in
        ``dst``, clamped). Levels deeper than ``frozen_above`` are held constant."""
        out, deeper = {}, None
        for l in self.levels:
            if l < down_to:
                break
            gen = self.net("gen", f"{src}2{dst}", f"l{l}")
            if deeper is None:
                t = gen(source[l], training=training)
            else:
                guide = self.net("inv", dst, f"l{l}")(out[deeper], training=training)
                t = gen([source[l], guide], training=training)
            t = self.stats(dst, l)(t, mode="clamp")
            if frozen_above is not None and l > frozen_above:
                t = tf.stop_gradient(t)
            out[l], deeper = t, l
        return out

    def _next_deeper(self, level: int) -> Optional[int]:
        i = self.levels.index(level)
        return self.levels[i - 1] if i > 0 else None

    # -- the contract --------------------------------------------------------------------
    def call(self, inputs, training=False):
        real_a, real_b = inputs
        forward, backward = self.directions()
        translators = self.translators()
        return translators[forward](real_a), translators[backward](real_b)

    def directions(self):
        return two_way(*self.domains)

    def translators(self) -> dict[str, keras.Model]:
        """Per direction, image in, image out: VGG -> standardize (source statistics) ->
        cascade -> clamp -> target decoder."""
        if self._translators.value is None:
            forward, backward = self.directions()
            self._translators.value = {forward: self._translator(forward, "a", "b"),
                                       backward: self._translator(backward, "b", "a")}
        return dict(self._translators.value)

    def _translator(self, name, src, dst):
        image = keras.Input(shape=(self.image_size, self.image_size, 3), name="image")
        raw = self.vgg.network(image)
        source = {l: self.stats(src, l)(raw[f"relu{l}_1"]) for l in self.levels}
        features = self.cascade(source, src, dst, self.levels[-1])
        return keras.Model(image, self.net("dec", dst)(features[self.levels[-1]]), name=name)

    def variables_for(self, optimizer_name):
        if optimizer_name == "aux":
            nets = [self.net("dec", d) for d in ("a", "b")]
        else:
            kind, level = optimizer_name[:-1], int(optimizer_name[-1])
            if level not in self.levels or (kind == "inv" and level == self.levels[0]):
                return []
            if kind == "inv":
                nets = [self.net("inv", d, f"l{level}") for d in ("a", "b")]
            elif kind == "gen":
                nets = [self.net("gen", "a2b", f"l{level}"), self.net("gen", "b2a", f"l{level}")]
            else:
                nets = [self.net("disc", "a", f"l{level}"), self.net("disc", "b", f"l{level}")]
        return [v for net in nets for v in net.trainable_variables]

    # -- statistics before step 0 ----------------------------------------------------------
    def prepare(self, dataset) -> None:
        """Measure each domain's per-channel feature mean and standard deviation at every
        level on the first ``model.stats_images`` images of ``dataset`` (batches
        ``(real_a, real_b)``), into the ``stats_*`` weights."""
        wanted = self.config.stats_images
        sums = {(d, l): [0.0, 0.0, 0] for d in ("a", "b") for l in self.levels}
        seen = 0
        for real_a, real_b in dataset:
            take = min(wanted - seen, int(real_a.shape[0]))
            for d, images in (("a", real_a[:take]), ("b", real_b[:take])):
                raw = self.vgg(images, training=False)
                for l in self.levels:
                    f = np.asarray(raw[f"relu{l}_1"], np.float64).reshape(-1, LEVEL_CHANNELS[l])
                    acc = sums[(d, l)]
                    acc[0] += f.sum(0)
                    acc[1] += (f * f).sum(0)
                    acc[2] += f.shape[0]
            seen += take
            if seen >= wanted:
                break
        for (d, l), (s, s2, n) in sums.items():
            mean = s / n
            std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
            floor = 1e-3 * max(float(std.mean()), 1e-6)  # dead channels: a floor, not a division by 0
            self.stats(d, l).mean.assign(mean.astype(np.float32))
            self.stats(d, l).std.assign(np.maximum(std, floor).astype(np.float32))

    # -- losses ------------------------------------------------------------------------------
    def level_losses(self, level: int, real: dict, training: bool = True) -> dict:
        """Generator and discriminator losses of ``level`` with the deeper levels frozen;
        ``real``: ``{"a": {level: standardized}, "b": ...}``. ``loss``: the generators',
        ``loss_disc``: the discriminators' (on translations held constant)."""
        cfg = self.config
        deeper = self._next_deeper(level)
        out, fakes = {}, {}
        loss_g = 0.0
        for src, dst in (("a", "b"), ("b", "a")):
            fake = self.cascade(real[src], src, dst, level, training=training, frozen_above=level)
            rec = self.cascade(fake, dst, src, level, training=training, frozen_above=level)
            gan = cfg.lambda_gan * self.gan_loss(self.net("disc", dst, f"l{level}")(fake[level], training=training),
                                                 True, for_discriminator=False)
            cycle = cfg.lambda_cycle * l1_loss(rec[level], real[src][level])
            deep = tf.constant(0.0)
            if deeper is not None and cfg.lambda_deep > 0:
                deep = cfg.lambda_deep * l1_loss(self.deep_of(fake[level], dst, level, deeper), fake[deeper])
            idt = tf.constant(0.0)
            if cfg.lambda_identity > 0:
                same = self.cascade(real[dst], src, dst, level, training=training, frozen_above=level)
                idt = cfg.lambda_cycle * cfg.lambda_identity * l1_loss(same[level], real[dst][level])
            out[f"loss_gan_{src}2{dst}"], out[f"loss_cycle_{src}"] = gan, cycle
            out[f"loss_deep_{src}2{dst}"], out[f"loss_idt_{dst}"] = deep, idt
            fakes[dst] = fake[level]
            loss_g = loss_g + gan + cycle + deep + idt
        out["loss_g"] = out["loss"] = loss_g
        out["fakes"] = fakes
        return out

    def discriminator_losses(self, level: int, real: dict, fakes: dict, training: bool = True) -> dict:
        out, total = {}, 0.0
        for d in ("a", "b"):
            disc = self.net("disc", d, f"l{level}")
            loss = 0.5 * (self.gan_loss(disc(real[d][level], training=training), True)
                          + self.gan_loss(disc(tf.stop_gradient(fakes[d]), training=training), False))
            out[f"loss_d_{d}"] = loss
            total = total + loss
        out["loss"] = total
        return out

    def aux_losses(self, real_a, real_b, feats_a=None, feats_b=None) -> dict:
        """Inverters (features of the next deeper level -> this level's, and back through
        the VGG) and decoders (shallowest level -> the image: L1 and a perceptual L1 over
        the levels' standardized features), on real images of each domain."""
        cfg = self.config
        out, total = {}, 0.0
        for d, images, feats in (("a", real_a, feats_a), ("b", real_b, feats_b)):
            feats = self.features(images, d) if feats is None else feats
            inv = tf.constant(0.0)
            for deep, l in zip(self.levels, self.levels[1:]):
                guess = self.net("inv", d, f"l{l}")(feats[deep], training=True)
                loss = l1_loss(guess, feats[l]) + l1_loss(self.deep_of(guess, d, l, deep), feats[deep])
                out[f"inv{l}"] = out.get(f"inv{l}", 0.0) + loss
                inv = inv + loss
            image = self.net("dec", d)(feats[self.levels[-1]], training=True)
            again = self.features(image, d)
            dec = cfg.lambda_decoder_l1 * l1_loss(image, images) + cfg.lambda_decoder_perceptual * tf.add_n(
                [l1_loss(again[l], feats[l]) for l in self.levels]) / len(self.levels)
            out[f"loss_inv_{d}"], out[f"loss_dec_{d}"] = inv, dec
            out["aux"] = out.get("aux", 0.0) + dec
            total = total + inv + dec
        out["loss"] = total
        return out

    def update_aux(self, real_a, real_b, feats_a, feats_b, index) -> dict:
        """One update of the decoders (player ``aux``) and of the inverters into each level
        (players ``inv{l}``) from :meth:`aux_losses`; the inverters into a level train only
        until that level's training ends (``index``: the level being trained, an index into
        ``model.levels``), so a finished level's input stays fixed too."""
        players = ["aux"] + [f"inv{l}" for l in self.levels[1:]]
        with tf.GradientTape(persistent=True) as tape:
            out = self.aux_losses(real_a, real_b, feats_a, feats_b)
            scaled = {p: self.scaled_loss(p, out[p]) for p in players}
        for p in players:
            variables = self.variables_for(p)
            grads = tape.gradient(scaled[p], variables)
            if p == "aux":
                self._optimizers[p].apply(grads, variables)
            else:
                _apply_when(self._optimizers[p], grads, variables, index <= self.levels.index(int(p[3:])))
        del tape
        return out

    # -- training ----------------------------------------------------------------------------
    def train_step(self, data):
        real_a, real_b = data
        # 1. Frozen VGG features of both domains, standardized with their own statistics.
        real = {"a": self.features(real_a, "a"), "b": self.features(real_b, "b")}
        # 2. The level this step trains (from the step counter).
        index = self.level_index()
        # 3. Decoders (every step) and the inverters into the levels not yet finished, on
        #    real images; only the level's translators and discriminators compute
        #    gradients below, the deeper levels are held constant.
        aux = self.update_aux(real_a, real_b, real["a"], real["b"], index)
        gen_vars = {l: self.variables_for(f"gen{l}") for l in self.levels}
        disc_vars = {l: self.variables_for(f"disc{l}") for l in self.levels}

        def branch(level):
            def run():
                # 3a. Translate both ways and back at this level; adversarial, cycle, deep
                #     consistency (and identity) losses; the generators' gradients.
                with tf.GradientTape() as tape:
                    gen = self.level_losses(level, real)
                    scaled = self.scaled_loss(f"gen{level}", gen["loss"])
                g_grads = tape.gradient(scaled, gen_vars[level])
                # 3b. The discriminators: real features real, translated ones fake.
                with tf.GradientTape() as tape:
                    disc = self.discriminator_losses(level, real, gen["fakes"])
                    scaled = self.scaled_loss(f"disc{level}", disc["loss"])
                d_grads = tape.gradient(scaled, disc_vars[level])
                grads = {}
                for l in self.levels:
                    grads[f"gen{l}"] = (g_grads if l == level else [tf.zeros_like(v) for v in gen_vars[l]])
                    grads[f"disc{l}"] = (d_grads if l == level else [tf.zeros_like(v) for v in disc_vars[l]])
                losses = {k: tf.cast(v, "float32") for k, v in {**gen, **disc}.items()
                          if k in self.LOSS_NAMES}
                return grads, losses
            return run

        grads, losses = tf.switch_case(index, [branch(l) for l in self.levels])
        # 4. Update the level's players (the others skip the update, moments and all).
        for i, l in enumerate(self.levels):
            when = tf.equal(index, i)
            _apply_when(self._optimizers[f"gen{l}"], grads[f"gen{l}"], gen_vars[l], when)
            _apply_when(self._optimizers[f"disc{l}"], grads[f"disc{l}"], disc_vars[l], when)

        values = {**losses, **aux}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        logs["level"] = tf.gather(tf.constant(self.levels, tf.float32), index)
        return logs

    def refiner(self, direction: str, steps: int, learning_rate: float = 0.05):
        """Translation refined by optimization (offline only, not in exported files): a
        callable ``images -> images`` that translates, then runs ``steps`` of Adam on
        the image (parametrized as ``tanh(u)``, so it stays in [-1, 1]), starting from
        the decoder's output, so that its VGG features at every level match the
        translated ones (L1 on the target domain's standardized features).

        Args:
            direction: a name of :meth:`directions`.
            steps: optimization steps (0: the decoder's image).
            learning_rate: Adam's step on ``u``.
        """
        forward, backward = self.directions()
        if direction not in (forward, backward):
            raise ValueError(f"Unknown direction {direction!r}; known: {forward}, {backward}.")
        src, dst = ("a", "b") if direction == forward else ("b", "a")
        translator = self.translators()[direction]

        def refine(images, training=False):
            images = tf.convert_to_tensor(images, tf.float32)
            start = translator(images, training=False)
            if steps <= 0:
                return start
            target = self.cascade(self.features(images, src), src, dst, self.levels[-1])
            u = tf.Variable(tf.atanh(tf.clip_by_value(start, -0.999, 0.999)))
            optimizer = keras.optimizers.Adam(learning_rate)

            @tf.function
            def step():
                with tf.GradientTape() as tape:
                    feats = self.features(tf.tanh(u), dst)
                    loss = tf.add_n([l1_loss(feats[l], target[l]) for l in self.levels])
                optimizer.apply([tape.gradient(loss, u)], [u])
                return loss

            for _ in range(int(steps)):
                step()
            return tf.tanh(u)

        return refine

    def sample(self, batch):
        real_a, real_b = batch
        forward, backward = self.directions()
        t = self.translators()
        fake_b, fake_a = t[forward](real_a), t[backward](real_b)
        shallow = self.levels[-1]
        return {
            "real_a": real_a, "fake_b": fake_b, "rec_a": t[backward](fake_b),
            "dec_a": self.dec_a(self.features(real_a, "a")[shallow]),
            "real_b": real_b, "fake_a": fake_a, "rec_b": t[forward](fake_a),
            "dec_b": self.dec_b(self.features(real_b, "b")[shallow]),
        }
