"""XGAN (Royer et al. 2017): translation through an embedding shared by both domains."""

from __future__ import annotations

import dataclasses
from typing import Optional

import keras
import tensorflow as tf
from keras import ops

from keras_i2i.config import ConfigError, ModelConfig, choices
from keras_i2i.directions import two_way
from keras_i2i.layers import GradientReversal
from keras_i2i.losses import GAN_LOSSES, l1_loss, l2_loss, vanilla_loss
from keras_i2i.models.base import TranslationModel, check_crop_size, register_model
from keras_i2i.networks import DISCRIMINATORS
from keras_i2i.networks.xgan import check_image_size, domain_classifier, xgan_autoencoders, xgan_encoder

#: Networks XGAN can build as its frozen teacher (``model.teacher``); the weights come from
#: ``model.init_from.teacher``. ``xgan_encoder``: a whole XGAN encoder with this model's
#: settings (ngf, embedding_dim, norm), e.g. another XGAN run's ``encoder_a``.
TEACHER_NETWORKS = ("xgan_encoder",)


@dataclasses.dataclass(frozen=True)
class XGANConfig(ModelConfig):
    """``model:`` section for XGAN. The widths are the paper's for 64x64 images; see
    ``configs/xgan/faces2cartoon.yaml`` for what each default is and why."""

    name: str = "xgan"
    ngf: int = 32
    embedding_dim: int = 1024
    embedding_norm: str = choices("layer", "none", default="layer")
    sharing: str = choices("partial", "full", "none", default="partial")
    norm: str = choices("batch", "instance", "none", default="batch")
    discriminator: str = choices("xgan", "patchgan", default="xgan")
    ndf: int = 16
    n_layers_d: int = 3
    norm_d: str = choices("none", "instance", "batch", default="none")
    classifier_units: int = 256
    init_gain: float = 0.02
    gan_mode: str = choices("vanilla", "lsgan", "hinge", default="vanilla")
    rec_loss: str = choices("l1", "l2", default="l1")
    semantic_distance: str = choices("l1", "cosine", default="l1")
    semantic_target: str = choices("fixed", "trained", default="fixed")
    lambda_rec: float = 1.0
    lambda_dann: float = 0.1
    lambda_sem: float = 0.1
    lambda_gan: float = 0.1
    lambda_teach: float = 0.1
    # The teacher's network (one of TEACHER_NETWORKS), frozen; its weights come from
    # model.init_from.teacher (the trainer loads them: models read no files).
    teacher: Optional[str] = None
    teacher_domain: str = choices("a", "b", default="a")
    d_accuracy_gate: Optional[float] = None

    def validate(self, data) -> None:
        """The autoencoders and the discriminator take ``data.crop_size`` (see :func:`check_crop_size`);
        a teacher is a network of :data:`TEACHER_NETWORKS` whose weights ``model.init_from.teacher`` gives."""
        if self.teacher is not None and self.teacher not in TEACHER_NETWORKS:
            raise ConfigError(
                f"model.teacher: {self.teacher!r} is not a teacher network; XGAN now builds its teacher "
                f"(model.teacher: {' or '.join(TEACHER_NETWORKS)}) and the trainer loads its weights: set "
                "model.init_from.teacher to a run (RUN_DIR#encoder_a takes that run's encoder) or a .weights.h5 / "
                ".keras file of that network.")
        if self.teacher is not None and "teacher" not in (self.init_from or {}):
            raise ConfigError(f"model.teacher: {self.teacher} needs its weights: set model.init_from.teacher to a "
                              "run (RUN_DIR#encoder_a) or a .weights.h5 / .keras file.")
        check_crop_size(data, ("the XGAN autoencoders", xgan_autoencoders, {}),
                        (f"model.discriminator {self.discriminator} (model.n_layers_d {self.n_layers_d})",
                         DISCRIMINATORS.get(self.discriminator), {"n_layers": self.n_layers_d}))


def l1_distance(x, y):
    """Mean absolute difference of two batches of embeddings."""
    return l1_loss(x, y)


def cosine_distance(x, y, epsilon: float = 1e-12):
    """Mean over the batch of ``1 - cos(x_i, y_i)``: 0 for embeddings pointing the same
    way, whatever their lengths."""
    x = ops.cast(ops.reshape(x, (ops.shape(x)[0], -1)), "float32")
    y = ops.cast(ops.reshape(y, (ops.shape(y)[0], -1)), "float32")
    x = x * ops.rsqrt(ops.sum(x * x, axis=-1, keepdims=True) + epsilon)
    y = y * ops.rsqrt(ops.sum(y * y, axis=-1, keepdims=True) + epsilon)
    return ops.mean(1.0 - ops.sum(x * y, axis=-1))


EMBEDDING_DISTANCES = {"l1": l1_distance, "cosine": cosine_distance}
RECONSTRUCTION_LOSSES = {"l1": l1_loss, "l2": l2_loss}
#: Logit above which a discriminator calls an image real (LSGAN targets 0 and 1).
DECISION_BOUNDARY = {"lsgan": 0.5}


def decision_accuracy(real_logits, fake_logits, boundary: float = 0.0):
    """Fraction of right calls of a discriminator on a real and a fake batch (every
    output of a patch discriminator counts once)."""
    real = ops.cast(ops.cast(real_logits, "float32") > boundary, "float32")
    fake = ops.cast(ops.cast(fake_logits, "float32") <= boundary, "float32")
    return 0.5 * (ops.mean(real) + ops.mean(fake))


def replica_mean(value):
    """``value`` averaged over the replicas (itself without a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


@register_model("xgan", XGANConfig)
class XGAN(TranslationModel):
    """XGAN: a dual autoencoder whose domains meet in one embedding; translating A to
    B is encoding with A's encoder and decoding with B's decoder.

    Losses (each weighted by its ``lambda_*``): reconstruction of each domain through
    its own autoencoder; domain-adversarial, a classifier of the embedding's domain
    behind a gradient-reversal layer; semantic consistency, the embedding of a
    translated image equals the embedding of its source, both ways; GAN, a
    discriminator per target domain on translated images; optionally a teacher
    loss pulling one domain's embedding toward a frozen pretrained network's output.

    Per step: one update of the autoencoders and the domain classifier (the reversal
    layer makes a single backward pass train the classifier and fool it), then one
    update of each discriminator, skipped for a discriminator whose accuracy on the
    batch reaches ``d_accuracy_gate`` when that is set.

    Args:
        config: an :class:`XGANConfig`.
        image_size: training crop size, a multiple of 16 (64 in the paper).
        seed: unused (XGAN draws nothing at random during a step).

    Reference:
        Royer et al., "XGAN: Unsupervised Image-to-Image Translation for Many-to-Many
        Mappings", 2017. https://arxiv.org/abs/1711.05139
    """

    LOSS_NAMES = (
        "loss_rec_a", "loss_rec_b", "loss_dann", "loss_sem_a", "loss_sem_b", "loss_gan_a2b", "loss_gan_b2a",
        "loss_teach", "loss_g", "loss_d_a", "loss_d_b",
        "acc_dann", "acc_d_a", "acc_d_b", "trained_d_a", "trained_d_b",
    )
    players = ("gen", "disc_a", "disc_b")

    def __init__(self, config, image_size: int = 64, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        check_image_size(self.image_size)
        parts = xgan_autoencoders(self.image_size, cfg.ngf, cfg.embedding_dim, cfg.sharing, cfg.norm, cfg.init_gain,
                                   cfg.embedding_norm)
        self.enc_a, self.enc_b = parts["enc_a"], parts["enc_b"]
        self.dec_a, self.dec_b = parts["dec_a"], parts["dec_b"]
        self.enc_shared = parts.get("enc_shared")
        self.dec_shared = parts.get("dec_shared")
        self.encoder_a, self.encoder_b = self._chain("encoder_a", self.enc_a, self.enc_shared), \
            self._chain("encoder_b", self.enc_b, self.enc_shared)
        self.decoder_a, self.decoder_b = self._chain("decoder_a", self.dec_shared, self.dec_a), \
            self._chain("decoder_b", self.dec_shared, self.dec_b)
        self.reversal = GradientReversal(name="gradient_reversal")
        self.reversal.build((None, cfg.embedding_dim))
        self.classifier = domain_classifier(cfg.embedding_dim, cfg.classifier_units, cfg.init_gain)
        disc = DISCRIMINATORS.get(cfg.discriminator)
        d_kwargs = dict(ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm=cfg.norm_d, init_gain=cfg.init_gain,
                        input_shape=(self.image_size, self.image_size, 3))
        self.disc_a = disc(name="disc_a", **d_kwargs)
        self.disc_b = disc(name="disc_b", **d_kwargs)
        self.teacher = self._teacher_network(cfg) if cfg.teacher else None
        self.gan_loss = GAN_LOSSES.get(cfg.gan_mode)
        self.rec_loss = RECONSTRUCTION_LOSSES[cfg.rec_loss]
        self.distance = EMBEDDING_DISTANCES[cfg.semantic_distance]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}
        self.built = True  # every layer above is built; fit must not try to build from data

    def _chain(self, name, first, second):
        """``second(first(x))`` as one functional model (a missing part is skipped)."""
        if first is None:
            return second
        if second is None:
            return first
        inputs = keras.Input(shape=tuple(first.inputs[0].shape[1:]), name="input")
        return keras.Model(inputs, second(first(inputs)), name=name)

    def _teacher_network(self, cfg):
        """The frozen teacher (``model.teacher``); the trainer fills its weights from
        ``model.init_from.teacher``."""
        if cfg.teacher not in TEACHER_NETWORKS:
            raise ConfigError(f"model.teacher: {cfg.teacher!r} is not one of {', '.join(TEACHER_NETWORKS)}.")
        # an XGAN encoder with this model's settings (e.g. another XGAN run's encoder_a)
        teacher = xgan_encoder(self.image_size, cfg.ngf, cfg.embedding_dim, norm=cfg.norm, init_gain=cfg.init_gain,
                               embedding_norm=cfg.embedding_norm, name="teacher")
        teacher.trainable = False
        return teacher

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        real_a, real_b = inputs
        return (self.decoder_b(self.encoder_a(real_a, training=training), training=training),
                self.decoder_a(self.encoder_b(real_b, training=training), training=training))

    def directions(self):
        return two_way(*self.domains)

    def translators(self) -> dict[str, keras.Model]:
        def translator(name, encoder, decoder):
            inputs = keras.Input(shape=(self.image_size, self.image_size, 3), name="image")
            return keras.Model(inputs, decoder(encoder(inputs)), name=name)

        forward, backward = self.directions()  # a2b and b2a (named after the data's two domains)
        return {forward: translator(forward, self.encoder_a, self.decoder_b),
                backward: translator(backward, self.encoder_b, self.decoder_a)}

    def variables_for(self, optimizer_name):
        if optimizer_name == "disc_a":
            return self.disc_a.trainable_variables
        if optimizer_name == "disc_b":
            return self.disc_b.trainable_variables
        nets = [self.enc_a, self.enc_b, self.enc_shared, self.dec_shared, self.dec_a, self.dec_b, self.classifier]
        return [v for net in nets if net is not None for v in net.trainable_variables]

    # -- the math -------------------------------------------------------------------
    def forward(self, real_a, real_b, training=True):
        """Every tensor a step needs: embeddings, reconstructions, translations and the
        embeddings of the translations."""
        emb_a = self.encoder_a(real_a, training=training)
        emb_b = self.encoder_b(real_b, training=training)
        fake_b = self.decoder_b(emb_a, training=training)
        fake_a = self.decoder_a(emb_b, training=training)
        return dict(
            emb_a=emb_a, emb_b=emb_b,
            rec_a=self.decoder_a(emb_a, training=training), rec_b=self.decoder_b(emb_b, training=training),
            fake_b=fake_b, fake_a=fake_a,
            emb_fake_b=self.encoder_b(fake_b, training=training), emb_fake_a=self.encoder_a(fake_a, training=training),
        )

    def _semantic_target(self, embedding):
        """The source embedding as the semantic loss sees it: a constant target with
        ``semantic_target: fixed`` (only the translate-and-re-encode path learns to
        match it), or trained too with ``trained``, which also lets the loss pull
        every source embedding toward its translation's."""
        return ops.stop_gradient(embedding) if self.config.semantic_target == "fixed" else embedding

    def generator_losses(self, real_a, real_b, out, training=True):
        """The weighted losses of the autoencoders and the domain classifier."""
        cfg = self.config
        losses = {
            "loss_rec_a": self.rec_loss(out["rec_a"], real_a) * cfg.lambda_rec,
            "loss_rec_b": self.rec_loss(out["rec_b"], real_b) * cfg.lambda_rec,
            "loss_sem_a": self.distance(self._semantic_target(out["emb_a"]), out["emb_fake_b"]) * cfg.lambda_sem,
            "loss_sem_b": self.distance(self._semantic_target(out["emb_b"]), out["emb_fake_a"]) * cfg.lambda_sem,
        }
        # The classifier labels A as 1 and B as 0; the reversal layer hands the
        # encoders the negated gradient, so they learn to make it guess.
        dom_a = self.classifier(self.reversal(out["emb_a"]), training=training)
        dom_b = self.classifier(self.reversal(out["emb_b"]), training=training)
        losses["loss_dann"] = 0.5 * (vanilla_loss(dom_a, True) + vanilla_loss(dom_b, False)) * cfg.lambda_dann
        losses["acc_dann"] = decision_accuracy(dom_a, dom_b)
        losses["loss_gan_a2b"] = self.gan_loss(self.disc_b(out["fake_b"], training=training), True,
                                               for_discriminator=False) * cfg.lambda_gan
        losses["loss_gan_b2a"] = self.gan_loss(self.disc_a(out["fake_a"], training=training), True,
                                               for_discriminator=False) * cfg.lambda_gan
        if self.teacher is not None:
            real, emb = (real_a, out["emb_a"]) if cfg.teacher_domain == "a" else (real_b, out["emb_b"])
            target = ops.reshape(self.teacher(real, training=False), ops.shape(emb))
            losses["loss_teach"] = self.distance(emb, ops.stop_gradient(target)) * cfg.lambda_teach
        else:
            losses["loss_teach"] = ops.zeros((), "float32")
        losses["loss_g"] = sum(v for k, v in losses.items() if k.startswith("loss_"))
        return losses

    def discriminator_losses(self, disc, real, fake):
        real_logits = disc(real, training=True)
        fake_logits = disc(fake, training=True)
        loss = 0.5 * (self.gan_loss(real_logits, True) + self.gan_loss(fake_logits, False))
        accuracy = decision_accuracy(real_logits, fake_logits, DECISION_BOUNDARY.get(self.config.gan_mode, 0.0))
        return loss, accuracy

    def train_step(self, data):
        real_a, real_b = data
        gate = self.config.d_accuracy_gate

        # 1. Autoencoders: encode both domains, decode each embedding in its own domain
        #    (reconstruction) and in the other (translation), encode the translations.
        with tf.GradientTape() as tape:
            out = self.forward(real_a, real_b, training=True)
            # 2. Losses: reconstruction, domain-adversarial (behind the gradient
            #    reversal), semantic consistency, GAN on the translations, teacher.
            values = self.generator_losses(real_a, real_b, out)
            scaled = self.scaled_loss("gen", values["loss_g"])
        # 3. Update the encoders, decoders and domain classifier together.
        self.apply_gradients("gen", tape, scaled)

        # 4. Discriminators: real images of their domain against the translations into
        #    it; with d_accuracy_gate, a discriminator that is already right often
        #    enough on this batch (averaged over replicas) is not updated.
        fake_a, fake_b = tf.stop_gradient(out["fake_a"]), tf.stop_gradient(out["fake_b"])
        for name, disc, real, fake in (("a", self.disc_a, real_a, fake_a), ("b", self.disc_b, real_b, fake_b)):
            with tf.GradientTape() as tape:
                loss_d, acc_d = self.discriminator_losses(disc, real, fake)
                scaled = self.scaled_loss(f"disc_{name}", loss_d)
            when = None if gate is None else replica_mean(acc_d) < gate
            # 5. Update the discriminator (unless gated).
            self.apply_gradients(f"disc_{name}", tape, scaled, when=when)
            values[f"loss_d_{name}"] = loss_d
            values[f"acc_d_{name}"] = acc_d
            values[f"trained_d_{name}"] = ops.ones(()) if when is None else ops.cast(when, "float32")

        for name in self.LOSS_NAMES:
            self.trackers[name].update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        real_a, real_b = batch
        out = self.forward(real_a, real_b, training=False)
        return {
            "real_a": real_a, "fake_b": out["fake_b"], "rec_a": out["rec_a"],
            "cyc_a": self.decoder_a(out["emb_fake_b"], training=False),
            "real_b": real_b, "fake_a": out["fake_a"], "rec_b": out["rec_b"],
            "cyc_b": self.decoder_b(out["emb_fake_a"], training=False),
        }
