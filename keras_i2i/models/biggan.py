"""BigGAN (Brock et al. 2019): a class-conditional GAN over the data's domains, as
BigGAN-PyTorch trains it (``train_fns.GAN_training_function``).

It generates rather than translates: it has no translators (``translators()`` refuses
with a message that points at ``keras-i2i sample``), and DeepI2I reuses its networks.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf
from keras import ops

from keras_i2i.config import ConfigError, ModelConfig, bounded, choices
from keras_i2i.directions import DirectionError
from keras_i2i.losses import hinge_loss
from keras_i2i.models.base import TranslationModel, register_model
from keras_i2i.layers.spectral_norm import SN_INFERENCE
from keras_i2i.networks.biggan import D_ARCH, G_ARCH, RESOLUTIONS, BigGANDiscriminator, BigGANGenerator


class NoTranslatorsError(DirectionError):
    """The model generates images from a class label and translates none."""


@dataclasses.dataclass(frozen=True)
class BigGANConfig(ModelConfig):
    """``model:`` section for BigGAN; defaults are BigGAN-PyTorch's ImageNet 128 px launch
    script (``launch_BigGAN_bs256x8.sh``). ``data.crop_size`` picks the architecture
    (``arch[32]``, ``arch[64]``, ``arch[128]``, ``arch[256]``).

    ``d_steps``: discriminator updates per generator update; each step's batch
    (``train.batch_size`` x ``train.accumulate`` per replica) is split evenly between
    them, so ``train.batch_size`` must be a multiple of ``d_steps``. The generator's
    update draws as many latents as one discriminator update sees images.
    ``sn_inference``: ``power_iteration`` (BigGAN-PyTorch's ``layers.SN``) or ``stored``
    (``torch.nn.utils.spectral_norm``: ``u W v`` from stored ``u`` and ``v`` at inference;
    ``import-torch --arch biggan`` sets it for such checkpoints).
    """

    translates = False  # draws images; keras-i2i sample, not translate/evaluate

    name: str = "biggan"
    g_ch: int = bounded(96, at_least=1)
    d_ch: int = bounded(96, at_least=1)
    dim_z: int = bounded(120, at_least=2)
    shared_dim: int = bounded(128, at_least=1)
    g_attention: tuple[int, ...] = (64,)
    d_attention: tuple[int, ...] = (64,)
    d_steps: int = bounded(1, at_least=1)
    sn_epsilon: float = bounded(1e-6, above=0)
    bn_epsilon: float = bounded(1e-5, above=0)
    sn_inference: str = choices(*SN_INFERENCE, default="power_iteration")

    def validate(self, data) -> None:
        """``data.crop_size`` is one of the architectures' resolutions; attention fits its widths."""
        if data.crop_size not in RESOLUTIONS:
            raise ConfigError(f"data.crop_size: {data.crop_size} has no BigGAN architecture; use one of "
                              f"{', '.join(map(str, RESOLUTIONS))}.")
        g_ins, g_outs, g_res = G_ARCH[data.crop_size]
        d_ins, d_outs, _, d_res = D_ARCH[data.crop_size]
        for key, ch, outs, resolutions in (("g_attention", self.g_ch, g_outs, g_res),
                                           ("d_attention", self.d_ch, d_outs, d_res)):
            widths = [ch * m for m, r in zip(outs, resolutions) if r in getattr(self, key)]
            if widths and min(widths) < 8:
                raise ConfigError(f"model.{key}: self-attention needs at least 8 channels, the block at "
                                  f"{getattr(self, key)} px has {min(widths)}; raise model.{key[0]}_ch or set "
                                  f"model.{key}=[].")


@register_model("biggan", BigGANConfig)
class BigGAN(TranslationModel):
    """BigGAN: a class-conditional generator and a projection discriminator trained with
    the hinge loss, one class per domain of the data.

    Per step: ``d_steps`` discriminator updates, each on its share of the real batch
    and as many generated images of uniformly drawn classes; then one generator update
    on fresh latents and classes. Latents and classes are drawn from ``(seed, step)``
    (stateless), so a resumed run draws what an uninterrupted one would have. Spectral
    norms take one power-iteration step per forward pass in training (the
    discriminator sees real and generated images in one pass, as the reference's
    ``G_D``); batch norms use batch statistics in training and stored ones in
    :meth:`generate`. ``train.ema_decay`` averages every generator weight and state
    (the reference's ``ema`` copies the whole state dict).

    Args:
        config: a :class:`BigGANConfig`.
        image_size: the side of the images (picks the architecture).
        seed: seeds the initializers and the latent draws.
        domains: the classes' names in label order.

    Reference:
        Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
        Synthesis", ICLR 2019. https://arxiv.org/abs/1809.11096
    """

    dataset_kind = "labelled"
    num_domains = None
    players = ("gen", "disc")
    accumulates = True
    LOSS_NAMES = ("loss_d_real", "loss_d_fake", "loss_g")

    def __init__(self, config, image_size: int = 128, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        n = len(self.domains)
        self.generator = BigGANGenerator(n, self.image_size, cfg.g_ch, cfg.dim_z, cfg.shared_dim, cfg.g_attention,
                                         cfg.sn_epsilon, cfg.bn_epsilon, seed=self.seed * 7919 + 1,
                                         sn_inference=cfg.sn_inference, name="generator").build_all()
        self.discriminator = BigGANDiscriminator(n, self.image_size, cfg.d_ch, cfg.d_attention, cfg.sn_epsilon,
                                                 seed=self.seed * 7919 + 50_000, sn_inference=cfg.sn_inference,
                                                 name="discriminator").build_all()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def num_classes(self) -> int:
        return len(self.domains)

    # -- no translators ------------------------------------------------------------------
    def directions(self):
        return {}

    def translators(self):
        raise NoTranslatorsError(
            f"model {self.registered_name} generates images from a class label; it has no translators to "
            "translate, export, evaluate or run on a webcam. Draw images with: keras-i2i sample --run RUN "
            f"--domain NAME (its domains: {', '.join(self.domains)}).")

    def ema_variables(self) -> list:
        """Every float weight and state of the generator (spectral-norm vectors and batch-norm
        statistics too, as the reference's EMA copies the whole state dict)."""
        return [v for v in self.generator.weights if "float" in str(v.dtype)]

    def variables_for(self, optimizer_name: str) -> list:
        net = self.generator if optimizer_name == "gen" else self.discriminator
        return net.trainable_variables

    def call(self, inputs, training=False):
        """``(z, labels)`` -> generated images; images alone (what ``fit`` passes when it
        builds the model under a distribution strategy) -> the discriminator's logits
        for class 0, at inference."""
        if isinstance(inputs, (tuple, list)):
            z, labels = inputs
            return self.generator(z, labels, training=training)
        return self.discriminator(inputs, ops.zeros((ops.shape(inputs)[0],), "int32"), training=False)

    # -- drawing -------------------------------------------------------------------------
    def _draw(self, n, stream: int):
        """``n`` latents and uniformly drawn classes for draw ``stream`` of this step
        (stateless: a function of the seed, the step, the stream and the replica)."""
        replica = tf.distribute.get_replica_context()
        rid = replica.replica_id_in_sync_group if replica is not None else 0
        base = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        key = tf.random.experimental.stateless_fold_in(base, stream * 4096 + tf.cast(rid, tf.int32))
        z = tf.random.stateless_normal((n, self.generator.dim_z), seed=key)
        labels = tf.random.stateless_uniform((n,), seed=tf.random.experimental.stateless_fold_in(key, 1), minval=0,
                                             maxval=self.num_classes, dtype=tf.int32)
        return z, labels

    def generate(self, z, labels):
        """Images of classes ``labels`` from latents ``z``, at inference (stored statistics)."""
        return self.generator(z, labels, training=False)

    # -- training ------------------------------------------------------------------------
    def _d_losses(self, real, real_labels, z, fake_labels):
        fake = ops.stop_gradient(self.generator(z, fake_labels, training=True))
        # Generated and real images through D in one pass (one power-iteration step).
        logits = self.discriminator(ops.concatenate([fake, ops.cast(real, fake.dtype)], axis=0),
                                    ops.concatenate([fake_labels, ops.cast(real_labels, "int32")], axis=0),
                                    training=True)
        d_fake, d_real = logits[:ops.shape(z)[0]], logits[ops.shape(z)[0]:]
        loss_real = hinge_loss(d_real, True)
        loss_fake = hinge_loss(d_fake, False)
        return {"loss": loss_real + loss_fake, "loss_d_real": loss_real, "loss_d_fake": loss_fake}

    def _g_losses(self, z, labels):
        fake = self.generator(z, labels, training=True)
        loss = hinge_loss(self.discriminator(fake, labels, training=True), True, for_discriminator=False)
        return {"loss": loss}

    def train_step(self, data):
        images, labels = data
        k = self.config.d_steps
        n = images.shape[0]
        if n is not None and n % (k * self.accumulate):
            raise ConfigError(f"train.batch_size: {n // self.accumulate} images per replica cannot be split "
                              f"evenly between model.d_steps={k} discriminator updates; make it a multiple of {k}.")
        reals, real_labels = tf.split(images, k, axis=0), tf.split(labels, k, axis=0)
        per = ops.shape(reals[0])[0]
        # 1. d_steps discriminator updates: hinge loss on its share of the reals and on fakes.
        d_out = []
        for j in range(k):
            z, fake_labels = self._draw(per, stream=j)
            d_out.append(self.update("disc", self._d_losses, reals[j], real_labels[j], z, fake_labels))
        # 2. One generator update on fresh latents and classes: -D(G(z, c), c).
        z, fake_labels = self._draw(per, stream=k)
        g_out = self.update("gen", self._g_losses, z, fake_labels)
        # 3. Log.
        self.trackers["loss_d_real"].update_state(tf.add_n([o["loss_d_real"] for o in d_out]) / k)
        self.trackers["loss_d_fake"].update_state(tf.add_n([o["loss_d_fake"] for o in d_out]) / k)
        self.trackers["loss_g"].update_state(g_out["loss"])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        """Real images and, beside them, generated images of the same classes from fixed latents."""
        images, labels = batch
        n = ops.shape(images)[0]
        z = tf.random.stateless_normal((n, self.generator.dim_z), seed=tf.constant([self.seed, 0], tf.int64))
        return {"real": images, "generated": self.generate(z, labels)}


__all__ = ["BigGAN", "BigGANConfig", "NoTranslatorsError"]
