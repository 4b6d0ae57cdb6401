"""DeepI2I (Wang et al. 2020): multi-domain translation built on a class-conditional GAN,
as the official code (yaxingwang/DeepI2I, ``DeepI2I_BigGAN``) trains it.

The GAN's discriminator architecture becomes the encoder; its block outputs at four
resolutions (the "taps") go through the adaptor, one spectrally normalized residual block
per tap, and are added, weighted, to the generator's activations at the same resolution;
the generator draws the target domain from its class label and a latent ``z``.

Where the paper's slides and the code differ this module follows the code: the
discriminator's loss is the hinge loss (slides: log-loss), the feature reconstruction is a
mean squared error (slides: L1).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_i2i.config import ConfigError, ModelConfig, bounded, choices
from keras_i2i.directions import Direction, directions_by_name
from keras_i2i.losses import hinge_loss
from keras_i2i.models.base import TranslationModel, register_model
from keras_i2i.networks.biggan import (
    BOTTOM_WIDTH, D_ARCH, G_ARCH, BigGANDiscriminator, BigGANGenerator, DBlock, _Blocks,
)

#: resolutions DeepI2I works at (the four taps need a discriminator down to 4 px)
DEEPI2I_RESOLUTIONS = (64, 128, 256)
#: the official code's weights of the adaptor outputs added to G (``E1_fea_w``), by mode,
#: smallest tap first (4, 8, 16, 32 px at 128 px)
ADD_WEIGHTS = {"transfer": (0.1, 0.1, 0.1, 0.1), "scratch": (1.0, 1.0, 1.0, 0.1)}


def tap_resolutions(resolution: int) -> tuple[int, ...]:
    """The four tap sides at image side ``resolution``: ``resolution/32 .. resolution/4``
    as the official code (4, 8, 16, 32 at 128 px), never below G's 4 px bottom
    (4 .. 32 at 64 px)."""
    first = max(BOTTOM_WIDTH, resolution // 32)
    return tuple(first * 2 ** i for i in range(4))


def d_tap_blocks(resolution: int) -> tuple[int, ...]:
    """For each tap side, the index of the discriminator's last block whose output has
    that side (the official code keeps the last one in its dict keyed by side)."""
    _, _, downs, _ = D_ARCH[resolution]
    sides, side = [], resolution
    for down in downs:
        side = side // 2 if down else side
        sides.append(side)
    return tuple(max(i for i, s in enumerate(sides) if s == t) for t in tap_resolutions(resolution))


def g_tap_slots(resolution: int) -> tuple[int, ...]:
    """For each tap side, where the generator takes it: -1 for the 4 px map from its linear
    layer (``bottom``), else the block whose output has that side."""
    _, _, g_res = G_ARCH[resolution]
    return tuple(-1 if t == BOTTOM_WIDTH else g_res.index(t) for t in tap_resolutions(resolution))


@dataclasses.dataclass(frozen=True)
class DeepI2IConfig(ModelConfig):
    """``model:`` section for DeepI2I. Network keys as :class:`~keras_i2i.models.biggan.BigGANConfig`
    (the encoder is built like the discriminator, with ``d_ch`` and ``d_attention``).

    ``mode``: ``transfer`` (start encoder, generator and discriminator from a BigGAN run
    through ``model.init_from``; the encoder stays fixed; for the first ``warmup_steps``
    steps only the adaptor and the discriminator train, then the generator joins) or
    ``scratch`` (everything random, everything trained from step 0).
    ``add_weights``: weights of the adaptor outputs added to G, smallest tap first
    (default by mode: transfer 0.1 each; scratch 1, 1, 1, 0.1, as the official code).
    ``feature_weights``: the alphas of the feature reconstruction ``MSE(D_l(y), D_l(x))``,
    smallest tap first. ``z_seed``: the latent fixed inside each translator: zeros when
    null, else a standard normal draw seeded by it.
    """

    name: str = "deepi2i"
    mode: str = choices("transfer", "scratch", default="transfer")
    g_ch: int = bounded(64, at_least=1)
    d_ch: int = bounded(64, at_least=1)
    dim_z: int = bounded(120, at_least=2)
    shared_dim: int = bounded(128, at_least=1)
    g_attention: tuple[int, ...] = (64,)
    d_attention: tuple[int, ...] = (64,)
    add_weights: Optional[tuple[float, ...]] = None
    feature_weights: tuple[float, ...] = (0.1, 0.1, 0.1, 0.01)
    warmup_steps: int = bounded(500, at_least=0)
    z_seed: Optional[int] = bounded(None, at_least=0)
    sn_epsilon: float = bounded(1e-6, above=0)
    bn_epsilon: float = bounded(1e-5, above=0)

    def validate(self, data) -> None:
        """``data.crop_size`` has four taps; weights come four at a time."""
        if data.crop_size not in DEEPI2I_RESOLUTIONS:
            raise ConfigError(f"data.crop_size: {data.crop_size} does not fit DeepI2I (four taps from 4 px up); "
                              f"use one of {', '.join(map(str, DEEPI2I_RESOLUTIONS))}.")
        for key in ("add_weights", "feature_weights"):
            value = getattr(self, key)
            if value is not None and len(value) != 4:
                raise ConfigError(f"model.{key}: give four weights (one per tap, smallest first), got {list(value)}.")

    @property
    def resolved_add_weights(self) -> tuple[float, ...]:
        return tuple(self.add_weights) if self.add_weights is not None else ADD_WEIGHTS[self.mode]


@keras.saving.register_keras_serializable(package="keras_i2i")
class Adaptor(_Blocks, keras.Model):
    """DeepI2I's adaptor: per tap one spectrally normalized residual block (pre-activation,
    same side) from the encoder's width at that side to the generator's.

    Args:
        in_channels: the encoder's widths at the taps.
        out_channels: the generator's widths at the taps.
        sn_epsilon: spectral-norm epsilon.
        seed: seed of the initializers.

    Reference:
        Wang et al., "DeepI2I: Enabling Deep Hierarchical Image-to-Image Translation by
        Transferring from GANs", NeurIPS 2020. https://arxiv.org/abs/2011.05867
    """

    def __init__(self, in_channels, out_channels, sn_epsilon: float = 1e-6, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = tuple(map(int, in_channels)), tuple(map(int, out_channels))
        self.sn_epsilon, self.seed = float(sn_epsilon), seed
        self.num_blocks = len(self.in_channels)
        for i, (cin, cout) in enumerate(zip(self.in_channels, self.out_channels)):
            self._add_block(i, DBlock(cin, cout, downsample=False, preactivation=True, sn_epsilon=sn_epsilon,
                                      seed=None if seed is None else seed + 100 * i, name=f"block{i}"), None)

    def call(self, taps, training=False):
        return [block(t, training=training) for block, t in zip(self.blocks, taps)]

    def get_config(self):
        return {"in_channels": list(self.in_channels), "out_channels": list(self.out_channels),
                "sn_epsilon": self.sn_epsilon, "seed": self.seed, "name": self.name}


class ToDomain(keras.Model):
    """One DeepI2I translator: image in, image out, to one target domain with the latent
    fixed (encoder, adaptor and generator at inference).

    Args:
        model: the :class:`DeepI2I` model.
        label: the target domain's label.
        z: the fixed latent, ``(1, dim_z)``.
    """

    def __init__(self, model: "DeepI2I", label: int, z, **kwargs):
        super().__init__(**kwargs)
        self.deepi2i, self.label = model, int(label)
        self.z = np.asarray(z, "float32").reshape(1, -1)
        self.built = True  # no weights of its own; the model's networks are built

    def call(self, x, training=False):
        n = ops.shape(x)[0]
        z = ops.broadcast_to(ops.convert_to_tensor(self.z), (n, self.z.shape[1]))
        labels = ops.full((n,), self.label, dtype="int32")
        return self.deepi2i.translate(x, z, labels)


@register_model("deepi2i", DeepI2IConfig)
class DeepI2I(TranslationModel):
    """DeepI2I: translation to any of the data's domains through a class-conditional GAN.

    ``y = G(z, c; adds = w * A(E(x)))``: the encoder ``E`` (the discriminator's
    architecture) taps four resolutions of the source image ``x``, the adaptor ``A``
    maps each tap to the generator's width, and the generator adds them, weighted by
    ``w``, to its activations at those sides; ``z ~ N(0, I)`` and the target label ``c``
    drive the generator as in BigGAN.

    Per step (the official ``train_fns.GAN_training_function``), on a batch of images
    ``x`` with their domains ``c_x`` and drawn targets ``c`` and latents ``z``
    (stateless, from the seed and the step, so a resumed run draws the same):

    1. discriminator: hinge loss on ``D(x, c_x)`` (real) and ``D(y, c)`` (translated);
    2. adaptor, generator and (in ``scratch`` mode) encoder, on one loss:
       ``-D(y, c) + sum_l alpha_l MSE(D_l(y), D_l(x))``, the reconstruction through the
       discriminator's block outputs at the taps (the discriminator is not updated by it).
       In ``transfer`` mode the encoder is fixed, and the generator is updated only from
       step ``warmup_steps`` on (the step counter is checkpointed, so a resumed run
       crosses the boundary where an uninterrupted one does).

    With ``train.accumulate`` k each step's batch is split into k micro-batches whose
    gradients are summed into one update per player (the official config accumulates 8);
    as there, each micro-batch's forward pass has its own batch-norm statistics and
    power-iteration step.

    Deviations from the official code: one batch is both the source images and the
    discriminator's reals (the official draws them from two loaders); the translators'
    latent is fixed.

    Players: ``disc``, ``adaptor``, ``gen`` and, in ``scratch`` mode, ``encoder``; each
    has its own optimizer. Translators: ``to_<domain>`` for each domain, the latent fixed
    (``model.z_seed``).

    Args:
        config: a :class:`DeepI2IConfig`.
        image_size: the side of the images (64, 128 or 256).
        seed: seeds the initializers and the draws.
        domains: the domains' names in label order.

    Reference:
        Wang et al., "DeepI2I: Enabling Deep Hierarchical Image-to-Image Translation by
        Transferring from GANs", NeurIPS 2020. https://arxiv.org/abs/2011.05867
    """

    dataset_kind = "labelled"
    num_domains = None
    accumulates = True
    #: every mode's players (an instance has ``encoder`` only in scratch mode)
    players = ("disc", "adaptor", "gen", "encoder")
    LOSS_NAMES = ("loss_d_real", "loss_d_fake", "loss_g_gan", "loss_g_feat", "loss_g")

    def __init__(self, config, image_size: int = 128, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        if self.image_size not in DEEPI2I_RESOLUTIONS:
            raise ConfigError(f"data.crop_size: {self.image_size} does not fit DeepI2I; use one of "
                              f"{', '.join(map(str, DEEPI2I_RESOLUTIONS))}.")
        n, res = len(self.domains), self.image_size
        self.generator = BigGANGenerator(n, res, cfg.g_ch, cfg.dim_z, cfg.shared_dim, cfg.g_attention,
                                         cfg.sn_epsilon, cfg.bn_epsilon, seed=self.seed * 7919 + 1,
                                         name="generator").build_all()
        self.discriminator = BigGANDiscriminator(n, res, cfg.d_ch, cfg.d_attention, cfg.sn_epsilon,
                                                 seed=self.seed * 7919 + 50_000, name="discriminator").build_all()
        self.encoder = BigGANDiscriminator(n, res, cfg.d_ch, cfg.d_attention, cfg.sn_epsilon,
                                           seed=self.seed * 7919 + 90_000, name="encoder").build_all()
        self.d_taps, self.g_slots = d_tap_blocks(res), g_tap_slots(res)
        g_widths = [cfg.g_ch * G_ARCH[res][0][0] if s < 0 else self.generator.block_channels[s] for s in self.g_slots]
        self.adaptor = Adaptor([self.encoder.block_channels[i] for i in self.d_taps], g_widths, cfg.sn_epsilon,
                               seed=self.seed * 7919 + 130_000, name="adaptor")
        self.adaptor([ops.zeros((1, t, t, self.encoder.block_channels[i]))
                      for t, i in zip(tap_resolutions(res), self.d_taps)])
        self.add_weights_ = cfg.resolved_add_weights
        if cfg.mode == "transfer":
            self.encoder.trainable = False
        self.players = ("disc", "adaptor", "gen") + (("encoder",) if cfg.mode == "scratch" else ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def num_classes(self) -> int:
        return len(self.domains)

    # -- directions and translators ------------------------------------------------------
    def fixed_z(self) -> np.ndarray:
        """The latent inside every translator: zeros, or a normal draw seeded by ``model.z_seed``."""
        if self.config.z_seed is None:
            return np.zeros((1, self.generator.dim_z), "float32")
        return np.random.default_rng(self.config.z_seed).standard_normal((1, self.generator.dim_z)).astype("float32")

    def directions(self):
        conditions = {"z_seed": self.config.z_seed}
        return directions_by_name(
            Direction(f"to_{target}", tuple(d for d in self.domains if d != target), target,
                      {"target_label": label, **conditions})
            for label, target in enumerate(self.domains))

    def translators(self):
        z = self.fixed_z()
        return {name: ToDomain(self, d.conditions["target_label"], z, name=name)
                for name, d in self.directions().items()}

    def ema_variables(self) -> list:
        """The translators' trainable weights and the generator's states (spectral-norm
        vectors and batch-norm statistics, as the reference's EMA copies G's state dict)."""
        seen, out = set(), []
        for v in [*self.encoder.trainable_variables, *self.adaptor.trainable_variables, *self.generator.weights]:
            if id(v) not in seen and "float" in str(v.dtype):
                seen.add(id(v))
                out.append(v)
        return out

    def variables_for(self, optimizer_name: str) -> list:
        if optimizer_name == "encoder":  # its blocks: the encoder's output layers take no part
            unused = {id(v) for v in [*self.encoder.linear.weights, *self.encoder.embed.weights]}
            return [v for v in self.encoder.trainable_variables if id(v) not in unused]
        net = {"disc": self.discriminator, "adaptor": self.adaptor, "gen": self.generator}[optimizer_name]
        return net.trainable_variables

    # -- the translation --------------------------------------------------------------
    def _adds(self, x, training):
        feats = self.encoder.features(x, training=training and self.encoder.trainable)
        taps = self.adaptor([feats[i] for i in self.d_taps], training=training)
        adds, bottom = [None] * self.generator.num_blocks, None
        for slot, weight, tap in zip(self.g_slots, self.add_weights_, taps):
            if slot < 0:
                bottom = weight * tap
            else:
                adds[slot] = weight * tap
        return adds, bottom

    def translate(self, x, z, labels, training=False):
        """Images ``x`` translated to domains ``labels`` with latents ``z``."""
        adds, bottom = self._adds(ops.cast(x, self.compute_dtype), training)
        return self.generator(z, labels, training=training, adds=adds, bottom=bottom)

    def call(self, inputs, training=False):
        """``(images, target labels)`` -> translated images (latents zero); images alone ->
        translated to domain 0."""
        if isinstance(inputs, (tuple, list)):
            x, labels = inputs
        else:
            x, labels = inputs, ops.zeros((ops.shape(inputs)[0],), "int32")
        z = ops.zeros((ops.shape(x)[0], self.generator.dim_z))
        return self.translate(x, z, labels, training=training)

    # -- training ---------------------------------------------------------------------
    def _draw(self, n):
        """``n`` latents and uniformly drawn target labels for this step (stateless: a
        function of the seed, the step and the replica)."""
        replica = tf.distribute.get_replica_context()
        rid = replica.replica_id_in_sync_group if replica is not None else 0
        base = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        key = tf.random.experimental.stateless_fold_in(base, tf.cast(rid, tf.int32))
        z = tf.random.stateless_normal((n, self.generator.dim_z), seed=key)
        labels = tf.random.stateless_uniform((n,), seed=tf.random.experimental.stateless_fold_in(key, 1), minval=0,
                                             maxval=self.num_classes, dtype=tf.int32)
        return z, labels

    def _d_losses(self, real, real_labels, z, target):
        """The discriminator's hinge loss on reals with their domains and translations with
        their targets (one pass, one power-iteration step)."""
        n = ops.shape(real)[0]
        fake = ops.stop_gradient(self.translate(real, z, target, training=True))
        logits = self.discriminator(ops.concatenate([fake, ops.cast(real, fake.dtype)], axis=0),
                                    ops.concatenate([target, real_labels], axis=0), training=True)
        loss_d_fake, loss_d_real = hinge_loss(logits[:n], False), hinge_loss(logits[n:], True)
        return {"loss": loss_d_real + loss_d_fake, "loss_d_real": loss_d_real, "loss_d_fake": loss_d_fake}

    def _g_losses(self, real, z, target):
        """``-D(y, c) + sum_l alpha_l MSE(D_l(y), D_l(x))`` through the discriminator's taps."""
        n = ops.shape(real)[0]
        fake = self.translate(real, z, target, training=True)
        both = ops.concatenate([fake, ops.cast(real, fake.dtype)], axis=0)
        feats = self.discriminator.features(both, training=True)
        h = ops.sum(ops.relu(feats[-1]), axis=(1, 2))
        d_fake = (self.discriminator.linear(h[:n], training=True)
                  + ops.sum(self.discriminator.embed(target, training=True) * h[:n], axis=1, keepdims=True))
        loss_g_gan = hinge_loss(d_fake, True, for_discriminator=False)
        loss_g_feat = 0.0
        for alpha, i in zip(self.config.feature_weights, self.d_taps):
            f = ops.cast(feats[i], "float32")
            loss_g_feat = loss_g_feat + alpha * ops.mean(ops.square(f[:n] - ops.stop_gradient(f[n:])))
        loss_g = ops.cast(loss_g_gan, "float32") + loss_g_feat
        return {"loss": loss_g, "loss_g_gan": loss_g_gan, "loss_g_feat": loss_g_feat}

    def train_step(self, data):
        real, real_labels = data
        real_labels = ops.cast(real_labels, "int32")
        z, target = self._draw(ops.shape(real)[0])
        # 1. Discriminator: hinge loss, reals with their domains, translations with their targets.
        d_out = self.update("disc", self._d_losses, real, real_labels, z, target)
        # 2. Adaptor, generator (after the warm-up in transfer mode) and encoder (scratch), on
        #    one loss: -D(y, c) + sum_l alpha_l MSE(D_l(y), D_l(x)) through the discriminator's taps.
        when = None
        if self.config.mode == "transfer" and self.config.warmup_steps > 0:
            when = {"gen": self.step >= self.config.warmup_steps}
        g_out = self.update(tuple(p for p in self.players if p != "disc"), self._g_losses, real, z, target,
                            when=when)
        # 3. Log.
        for name, value in (("loss_d_real", d_out["loss_d_real"]), ("loss_d_fake", d_out["loss_d_fake"]),
                            ("loss_g_gan", g_out["loss_g_gan"]), ("loss_g_feat", g_out["loss_g_feat"]),
                            ("loss_g", g_out["loss"])):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        """Real images and their translations to every domain (the translators' latent)."""
        images, _ = batch
        n = ops.shape(images)[0]
        z = ops.broadcast_to(ops.convert_to_tensor(self.fixed_z()), (n, self.generator.dim_z))
        return {"real": images, **{f"to_{name}": self.translate(images, z, ops.full((n,), i, "int32"))
                                   for i, name in enumerate(self.domains)}}


__all__ = ["ADD_WEIGHTS", "Adaptor", "DeepI2I", "DeepI2IConfig", "ToDomain", "tap_resolutions"]
