"""CycleGAN (Zhu et al. 2017), matching the PyTorch reference implementation."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from keras_i2i.config import GENERATOR_NAMES, ModelConfig, bounded, choices
from keras_i2i.directions import two_way
from keras_i2i.losses import GAN_LOSSES, l1_loss, perceptual
from keras_i2i.models.base import TranslationModel, check_crop_size, register_model
from keras_i2i.models.image_pool import ImagePool
from keras_i2i.networks import DISCRIMINATORS, GENERATORS

PERCEPTUAL_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


@dataclasses.dataclass(frozen=True)
class CycleGANConfig(ModelConfig):
    """``model:`` section for CycleGAN; defaults are the paper's (and the reference's)."""

    name: str = "cyclegan"
    generator: str = choices(*GENERATOR_NAMES, default="resnet_9blocks")
    discriminator: str = choices("patchgan", "pixel", default="patchgan")
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3
    norm: str = choices("instance", "batch", "none", default="instance")
    dropout: bool = False
    init_gain: float = 0.02
    gan_mode: str = choices("lsgan", "vanilla", "hinge", default="lsgan")
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    padding: str = choices("slices", "pad", default="slices")
    # A VGG16 perceptual term on the cycle reconstructions (0: off, the paper's CycleGAN):
    # lambda_perceptual * sum over relu1_2..relu4_3 of mean|phi(rec) - phi(real)|, both ways.
    lambda_perceptual: float = bounded(0.0, at_least=0)
    perceptual_weights: str = "lpips"  # vgg_features weights: lpips (offline), imagenet, or a file

    def validate(self, data) -> None:
        """The generator and discriminator take ``data.crop_size`` (see :func:`check_crop_size`)."""
        check_crop_size(data, (f"model.generator {self.generator}", GENERATORS.get(self.generator), {}),
                        (f"model.discriminator {self.discriminator} (model.n_layers_d {self.n_layers_d})",
                         DISCRIMINATORS.get(self.discriminator), {"n_layers": self.n_layers_d}))


@register_model("cyclegan", CycleGANConfig)
class CycleGAN(TranslationModel):
    """CycleGAN: two generators (A->B, B->A) and two PatchGAN discriminators trained
    with adversarial, cycle-consistency and identity losses.

    Per step (the reference's ``optimize_parameters``): translate both ways and back,
    update both generators against the current discriminators, then update both
    discriminators on real images and on generated ones drawn from the image pools.

    Args:
        config: a :class:`CycleGANConfig`.
        image_size: training crop size.
        seed: seed of the image pools' draws.

    Reference:
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
        Adversarial Networks", ICCV 2017. https://arxiv.org/abs/1703.10593
    """

    LOSS_NAMES = (
        "loss_gan_a2b", "loss_gan_b2a", "loss_cycle_a", "loss_cycle_b", "loss_idt_a", "loss_idt_b",
        "loss_g", "loss_d_a", "loss_d_b",
    )
    players = ("gen", "disc")
    accumulates = True

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        gen = GENERATORS.get(cfg.generator)
        disc = DISCRIMINATORS.get(cfg.discriminator)
        g_kwargs = dict(ngf=cfg.ngf, norm=cfg.norm, dropout=cfg.dropout, init_gain=cfg.init_gain)
        if "resnet" in cfg.generator:
            g_kwargs["padding"] = cfg.padding
        d_kwargs = dict(ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm=cfg.norm, init_gain=cfg.init_gain)
        self.gen_a2b = gen(name="gen_a2b", **g_kwargs)
        self.gen_b2a = gen(name="gen_b2a", **g_kwargs)
        self.disc_a = disc(name="disc_a", **d_kwargs)
        self.disc_b = disc(name="disc_b", **d_kwargs)
        self.pool_a = ImagePool(cfg.pool_size, seed=seed * 2, name="pool_a")
        self.pool_b = ImagePool(cfg.pool_size, seed=seed * 2 + 1, name="pool_b")
        shape = (None, image_size, image_size, 3)
        self.pool_a.build(shape)
        self.pool_b.build(shape)
        self.gan_loss = GAN_LOSSES.get(cfg.gan_mode)
        self.vgg = None
        loss_names = self.LOSS_NAMES
        if cfg.lambda_perceptual > 0:  # frozen, held by reference: not in checkpoints or optimizers
            from keras_i2i.pretrained import FrozenReference, vgg_features

            self.vgg = FrozenReference(vgg_features("vgg16", cfg.perceptual_weights, PERCEPTUAL_TAPS))
            loss_names = loss_names + ("loss_perceptual",)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in loss_names}
        self.built = True  # every network above is built; nothing is inferred from data

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        real_a, real_b = inputs
        return self.gen_a2b(real_a, training=training), self.gen_b2a(real_b, training=training)

    def directions(self):
        return two_way(*self.domains)

    def translators(self) -> dict[str, keras.Model]:
        forward, backward = self.directions()  # a2b and b2a (named after the data's two domains)
        return {forward: self.gen_a2b, backward: self.gen_b2a}

    def variables_for(self, optimizer_name):
        if optimizer_name == "gen":
            return self.gen_a2b.trainable_variables + self.gen_b2a.trainable_variables
        return self.disc_a.trainable_variables + self.disc_b.trainable_variables

    def generator_losses(self, real_a, real_b):
        """Translate both ways and back; the generators' weighted losses (``loss``: their
        sum) and the translations."""
        cfg = self.config
        fake_b = self.gen_a2b(real_a, training=True)
        rec_a = self.gen_b2a(fake_b, training=True)
        fake_a = self.gen_b2a(real_b, training=True)
        rec_b = self.gen_a2b(fake_a, training=True)
        loss_gan_a2b = self.gan_loss(self.disc_b(fake_b, training=True), True, for_discriminator=False)
        loss_gan_b2a = self.gan_loss(self.disc_a(fake_a, training=True), True, for_discriminator=False)
        loss_cycle_a = l1_loss(rec_a, real_a) * cfg.lambda_a
        loss_cycle_b = l1_loss(rec_b, real_b) * cfg.lambda_b
        if cfg.lambda_identity > 0:
            idt_b = self.gen_a2b(real_b, training=True)
            idt_a = self.gen_b2a(real_a, training=True)
            loss_idt_b = l1_loss(idt_b, real_b) * cfg.lambda_b * cfg.lambda_identity
            loss_idt_a = l1_loss(idt_a, real_a) * cfg.lambda_a * cfg.lambda_identity
        else:
            loss_idt_a = loss_idt_b = tf.constant(0.0)
        loss_g = loss_gan_a2b + loss_gan_b2a + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b
        extra = {}
        if self.vgg is not None:  # optional: the reconstructions also match in VGG feature space
            extra["loss_perceptual"] = cfg.lambda_perceptual * (perceptual(rec_a, real_a, self.vgg)
                                                                + perceptual(rec_b, real_b, self.vgg))
            loss_g = loss_g + extra["loss_perceptual"]
        return dict(loss=loss_g, loss_gan_a2b=loss_gan_a2b, loss_gan_b2a=loss_gan_b2a, loss_cycle_a=loss_cycle_a,
                    loss_cycle_b=loss_cycle_b, loss_idt_a=loss_idt_a, loss_idt_b=loss_idt_b, loss_g=loss_g,
                    fake_a=fake_a, fake_b=fake_b, **extra)

    def discriminator_losses(self, real_a, real_b, pooled_a, pooled_b):
        """Real images are real, pooled translations fake; halved as in the reference."""
        loss_d_a = 0.5 * (self.gan_loss(self.disc_a(real_a, training=True), True)
                          + self.gan_loss(self.disc_a(pooled_a, training=True), False))
        loss_d_b = 0.5 * (self.gan_loss(self.disc_b(real_b, training=True), True)
                          + self.gan_loss(self.disc_b(pooled_b, training=True), False))
        return dict(loss=loss_d_a + loss_d_b, loss_d_a=loss_d_a, loss_d_b=loss_d_b)

    def train_step(self, data):
        real_a, real_b = data
        step = self.step + 1  # this step's number from 1: the pools' draws are seeded by it

        # 1. Generators: translate both ways and back; fool the discriminators,
        #    reconstruct the input (cycle), leave target-domain images unchanged (identity).
        # 2. Update both generators (the discriminators are not touched).
        gen = self.update("gen", self.generator_losses, real_a, real_b)

        # 3. Discriminators: real images are real; generated ones, drawn from the
        #    history pools, are fake.
        pooled_a = self.pool_a.query(gen["fake_a"], step)
        pooled_b = self.pool_b.query(gen["fake_b"], step)
        # 4. Update both discriminators.
        disc = self.update("disc", self.discriminator_losses, real_a, real_b, pooled_a, pooled_b)

        values = {**gen, **disc}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        real_a, real_b = batch
        fake_b = self.gen_a2b(real_a, training=False)
        fake_a = self.gen_b2a(real_b, training=False)
        return {
            "real_a": real_a, "fake_b": fake_b, "rec_a": self.gen_b2a(fake_b, training=False),
            "idt_b": self.gen_a2b(real_b, training=False),
            "real_b": real_b, "fake_a": fake_a, "rec_b": self.gen_a2b(fake_a, training=False),
            "idt_a": self.gen_b2a(real_a, training=False),
        }
