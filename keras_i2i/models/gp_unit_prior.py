"""GP-UNIT stage I, prior distillation (Yang et al. 2022), as the official code trains it
(williamyang1991/GP-UNIT, ``prior_distillation.py`` and ``model/content_encoder.py``).

A class-conditional GAN (a trained ``biggan`` run: the *prior*) draws one latent in two
classes; the pair shares pose and layout. An autoencoder learns a content code that the
pair shares: the content encoder's code, with Gaussian noise, is decoded back to the image
(AdaIN decoder: domain-level style from the class, image-level style from a style encoder)
and to the object's mask; the paired codes are pulled together, the mask of one image is
drawn from the code of the other, and a classifier behind gradient reversal keeps the
domain out of the code. Stage II (``model.name: gp_unit``) starts from this run's
``content_encoder`` and keeps it frozen.

Where the issue's text and the official code differ this module follows the code:

- the regularization is ``lambda_reg * ||code||_2`` (torch.norm of the batch's codes, not
  squared, not a mean), the classification is a cross-entropy over all three parts of the
  batch (real, and both generated images) and both sit in the official ``Lreg``;
- the perceptual term is ``0.3 * sum_l mean|phi_l(rec) - phi_l(x)|`` at relu1_1 ..
  relu5_1 (official: VGG19; here the offline lpips VGG16, the same taps by name);
- "random flips": with probability 0.5 per step the style encoder sees the whole batch
  flipped left-right (``encode(x, ratio=0.5)``), and the data loaders flip (a generated
  pair flips together, as the official loader crops and flips a pair alike);
- the content distance is measured on the clean codes; the mask distance decodes the
  *noisy* swapped codes with the style and class of the image whose mask it draws;
- no EMA (the official ``ae_ema`` is the trained model itself).

Masks: real images' from their alpha channel (:class:`~keras_i2i.data.streams.PairedSyntheticData`);
generated images' from their non-white pixels (the emoji GAN learnt emoji composited on
white): ``clip(max_c (1 - x_c) / 2 / mask_threshold, 0, 1)``, as ``2 m - 1``; both are
averaged down to the mask head's grid (16x16 at 256 px with ``content_down`` 5). The
official masks came from an instance segmenter run on the images.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import keras
import tensorflow as tf
from keras import ops

from keras_i2i.config import ConfigError, ModelConfig, bounded
from keras_i2i.models.base import TranslationModel, register_model
from keras_i2i.models.biggan import NoTranslatorsError
from keras_i2i.networks.biggan import RESOLUTIONS, BigGANGenerator
from keras_i2i.networks.gp_unit import (
    build_content_encoder, build_decoder, build_domain_classifier, build_style_encoder, check_sizes,
)

#: The perceptual taps (official VGG19 relu1_1 .. relu5_1, weight 0.3 each).
VGG_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
VGG_WEIGHT = 0.3


@dataclasses.dataclass(frozen=True)
class GPUNITPriorConfig(ModelConfig):
    """``model:`` section for GP-UNIT's prior distillation; defaults are the official
    code's (``prior_distillation.py``: 256 px, ``nf`` 64, noise 0.2, the loss weights).

    Content encoder (stage II reads these keys from this run): ``content_ch`` (official
    ``nf`` 64) and ``content_down`` (stride-2 stages: the code is at
    ``crop_size / 2**content_down``, 8x8 at 256 px with 5).

    The prior: a ``biggan`` run given as ``model.init_from.prior: RUN_DIR#generator``;
    ``g_ch``, ``dim_z``, ``shared_dim``, ``g_attention``, ``sn_epsilon``, ``bn_epsilon``
    must be that run's (init_from checks every shape) and ``prior_resolution`` its
    ``data.crop_size`` (default this run's; generated images are resized bilinearly to
    this run's crop size). ``prior_classes``: the prior's class id of each data domain,
    in domain order (default: domain ``i`` is class ``i``, the GAN trained on the same
    domains); ``prior_num_classes``: the prior's number of classes (default: the data's
    domains). ``truncation``: latents drawn from a normal truncated at ``+-truncation``
    (null: not truncated; the official pairs used 0.5 and 1.0).

    ``noise``: standard deviation of the Gaussian noise on the content code.
    ``style_flip``: probability that a step's style encoder sees the batch flipped.
    ``mask_threshold``: a generated pixel whose darkest channel is this far below white
    (in [0, 1]) is all object.
    ``vgg_weights``: the perceptual loss's VGG16 weights (``lpips``: offline; ``none``:
    random, for tests).
    """

    translates = False  # learns a content encoder for gp_unit; nothing to translate or evaluate

    name: str = "gp_unit_prior"
    content_ch: int = bounded(64, at_least=1)
    content_down: int = bounded(5, at_least=3)
    noise: float = bounded(0.2, at_least=0)
    style_flip: float = bounded(0.5, at_least=0)
    lambda_app_rec: float = bounded(1.0, at_least=0)
    lambda_shape_rec: float = bounded(5.0, at_least=0)
    lambda_feat_dist: float = bounded(1.0, at_least=0)
    lambda_shape_dist: float = bounded(5.0, at_least=0)
    lambda_reg: float = bounded(0.001, at_least=0)
    lambda_class: float = bounded(1.0, at_least=0)
    mask_threshold: float = bounded(0.1, above=0)
    vgg_weights: str = "lpips"
    g_ch: int = bounded(96, at_least=1)
    dim_z: int = bounded(120, at_least=2)
    shared_dim: int = bounded(128, at_least=1)
    g_attention: tuple[int, ...] = (64,)
    sn_epsilon: float = bounded(1e-6, above=0)
    bn_epsilon: float = bounded(1e-5, above=0)
    prior_resolution: Optional[int] = None
    prior_classes: Optional[tuple[int, ...]] = None
    prior_num_classes: Optional[int] = bounded(None, at_least=2)
    truncation: Optional[float] = bounded(None, above=0)

    def validate(self, data) -> None:
        """The crop size halves ``content_down`` times to a code of at least 4x4; the prior
        is a BigGAN resolution; the prior run is given; probabilities and thresholds <= 1."""
        try:
            check_sizes(data.crop_size, self.content_down)
        except ValueError as err:
            raise ConfigError(f"data.crop_size: {err}") from None
        for key in ("style_flip", "mask_threshold"):
            if getattr(self, key) > 1:
                raise ConfigError(f"model.{key}: {getattr(self, key)!r} is not allowed; it must be <= 1.")
        resolution = self.prior_resolution or data.crop_size
        if resolution not in RESOLUTIONS:
            raise ConfigError(f"model.prior_resolution: {resolution} has no BigGAN architecture; set it to the "
                              f"prior run's data.crop_size (one of {', '.join(map(str, RESOLUTIONS))}).")
        if "prior" not in (self.init_from or {}):
            raise ConfigError("model.init_from.prior: give the trained biggan run that draws the pairs "
                              "(e.g. model.init_from.prior=runs/biggan_emoji64#generator).")
        if self.prior_classes is not None and self.prior_num_classes is not None:
            bad = [c for c in self.prior_classes if not 0 <= c < self.prior_num_classes]
            if bad:
                raise ConfigError(f"model.prior_classes: {bad[0]} is not a class of a prior with "
                                  f"{self.prior_num_classes} classes (0 .. {self.prior_num_classes - 1}).")


# -- losses (each a batch mean unless said otherwise) ------------------------------------


def appearance_loss(rec, x, vgg=None):
    """``MSE(rec, x) + 0.3 * sum_l mean|phi_l(rec) - phi_l(x)|`` over :data:`VGG_TAPS`
    (official ``Larec`` before its weight); without ``vgg`` the MSE alone."""
    rec, x = ops.cast(rec, "float32"), ops.cast(x, "float32")
    loss = ops.mean(ops.square(rec - x))
    if vgg is not None:
        frec, fx = vgg(rec), vgg(ops.stop_gradient(x))
        loss = loss + VGG_WEIGHT * sum(ops.mean(ops.abs(ops.cast(frec[t], "float32") - ops.cast(fx[t], "float32")))
                                       for t in fx)
    return loss


def mask_loss(pred, target):
    """L1 between masks (official ``Lsrec`` and ``Lsdist`` before their weights)."""
    return ops.mean(ops.abs(ops.cast(pred, "float32") - ops.cast(target, "float32")))


def paired_content_loss(code_a, code_b):
    """``mean|code_a - stop_gradient(code_b)|``: the gradient reaches ``code_a`` only
    (official ``Lfdist``: ``content_feat[xa]`` against ``content_feat[xb].detach()``)."""
    return ops.mean(ops.abs(ops.cast(code_a, "float32") - ops.stop_gradient(ops.cast(code_b, "float32"))))


def code_norm(code):
    """``||code||_2`` over the whole batch (official ``torch.norm(content_feat, p=2)``)."""
    return ops.sqrt(ops.sum(ops.square(ops.cast(code, "float32"))))


def classification_loss(logits, labels):
    """Mean softmax cross-entropy of ``logits`` against integer ``labels``."""
    return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"),
                                                                 from_logits=True))


def generated_mask(images, threshold: float = 0.1):
    """Object masks of images drawn on white: ``2 m - 1`` with
    ``m = clip(max_c (1 - x_c) / 2 / threshold, 0, 1)`` per pixel, ``(B, H, W, 1)``."""
    x = ops.cast(images, "float32")
    distance = ops.max((1.0 - x) / 2.0, axis=-1, keepdims=True)
    return 2.0 * ops.clip(distance / threshold, 0.0, 1.0) - 1.0


def mask_to_grid(mask, factor: int):
    """A ``(B, H, W, 1)`` mask averaged over ``factor x factor`` cells (the mask head's grid)."""
    mask = ops.cast(mask, "float32")
    return mask if factor == 1 else ops.average_pool(mask, factor, strides=factor, padding="valid")


def truncated_normal(shape, seed, truncation: Optional[float]):
    """Standard normal draws, truncated at ``+-truncation`` by the inverse CDF (exact for
    any threshold, unlike ``stateless_truncated_normal``'s fixed 2); stateless."""
    if truncation is None:
        return tf.random.stateless_normal(shape, seed=seed)
    t = tf.constant(float(truncation), tf.float32)
    low = 0.5 * tf.math.erfc(t / tf.sqrt(2.0))  # Phi(-t)
    u = tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=1.0 - low)
    return tf.clip_by_value(tf.math.ndtri(u), -t, t)


@register_model("gp_unit_prior", GPUNITPriorConfig)
class GPUNITPrior(TranslationModel):
    """GP-UNIT stage I: the content encoder distilled from a class-conditional GAN.

    Sub-networks: ``content_encoder`` (what stage II takes: :func:`~keras_i2i.networks.gp_unit.build_content_encoder`
    with ``content_ch``, ``content_down``), ``style_encoder``, ``decoder`` (AdaIN decoder
    and mask head), ``domain_classifier`` (behind gradient reversal) and ``prior`` (the
    BigGAN generator, never trained; filled by ``model.init_from.prior``).

    Per step (``train.batch_size`` real images and as many generated pairs): draw ``z``
    and two classes per pair from ``(seed, step)``; the prior draws ``x_a = G(z, c_a)``,
    ``x_b = G(z, c_b)`` at inference (its batch norms' stored statistics); one update of
    every auxiliary net and the encoder on the six losses.

    Args:
        config: a :class:`GPUNITPriorConfig`.
        image_size: the side of the images.
        seed: seeds the latent, class, flip and noise draws.
        domains: the domains' names in label order (the classifier's classes).

    Reference:
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior",
        CVPR 2022. https://arxiv.org/abs/2204.03641
    """

    dataset_kind = "paired_synthetic"
    num_domains = None
    players = ("ae",)
    LOSS_NAMES = ("loss_arec", "loss_srec", "loss_fdist", "loss_sdist", "loss_reg", "loss_class", "loss")

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg, size, n = self.config, self.image_size, len(self.domains)
        try:
            check_sizes(size, cfg.content_down)
        except ValueError as err:
            raise ConfigError(f"data.crop_size: {err}") from None
        self.content_encoder = build_content_encoder(size, cfg.content_ch, cfg.content_down)
        self.style_encoder = build_style_encoder(size, cfg.content_ch, cfg.content_down)
        self.decoder = build_decoder(size, n, cfg.content_ch, cfg.content_down)
        self.domain_classifier = build_domain_classifier(size, n, cfg.content_down)
        self.prior_resolution = int(cfg.prior_resolution or size)
        prior_classes = tuple(cfg.prior_classes) if cfg.prior_classes is not None else tuple(range(n))
        if len(prior_classes) != n:
            raise ConfigError(f"model.prior_classes: give one prior class per data domain ({n}: "
                              f"{', '.join(self.domains)}), got {len(prior_classes)}.")
        self.prior_class_ids = prior_classes
        num_classes = cfg.prior_num_classes or n
        if max(prior_classes) >= num_classes:
            raise ConfigError(f"model.prior_classes: {max(prior_classes)} is not a class of a prior with "
                              f"{num_classes} classes; set model.prior_num_classes.")
        self.prior = BigGANGenerator(num_classes, self.prior_resolution, cfg.g_ch, cfg.dim_z, cfg.shared_dim,
                                     cfg.g_attention, cfg.sn_epsilon, cfg.bn_epsilon, seed=self.seed * 7919 + 1,
                                     name="prior").build_all()
        self.prior.trainable = False
        self.mask_factor = 2 ** (cfg.content_down - 1)
        self.vgg = None
        if cfg.lambda_app_rec > 0:
            from keras_i2i.pretrained import FrozenReference, vgg_features

            self.vgg = FrozenReference(vgg_features("vgg16", cfg.vgg_weights, VGG_TAPS, name="vgg16_gp_unit"))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- no translators --------------------------------------------------------------------
    def directions(self):
        return {}

    def translators(self):
        raise NoTranslatorsError(
            f"model {self.registered_name} learns GP-UNIT's content encoder; it has no translators to translate, "
            "export, evaluate or run on a webcam. Train stage II on it: model.name=gp_unit with "
            "model.init_from.content_encoder=RUN_DIR (see configs/gp_unit/emoji64.yaml).")

    def trained_networks(self) -> list:
        return [self.content_encoder, self.style_encoder, self.decoder, self.domain_classifier]

    def ema_variables(self) -> list:
        return [v for net in self.trained_networks() for v in net.trainable_variables]

    def variables_for(self, optimizer_name: str) -> list:
        return [v for net in self.trained_networks() for v in net.trainable_variables]

    def call(self, inputs, training=False):
        """Images -> the content code (what ``fit`` builds the model with)."""
        return self.content_encoder(inputs, training=training)[-1]

    # -- drawing ---------------------------------------------------------------------------
    def _key(self, stream: int, step=None):
        replica = tf.distribute.get_replica_context()
        rid = replica.replica_id_in_sync_group if replica is not None else 0
        step = self.step if step is None else step
        base = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.experimental.stateless_fold_in(base, stream * 4096 + tf.cast(rid, tf.int32))

    def draw_pairs(self, n, step=None):
        """``n`` pairs ``(x_a, x_b, label_a, label_b)`` of this step: one latent, two
        uniformly drawn domains (possibly the same, as the official pairs), drawn by the
        prior at inference, flipped together with probability 0.5, at the model's size."""
        key = self._key(1, step)
        z = truncated_normal((n, self.prior.dim_z), key, self.config.truncation)
        labels = tf.random.stateless_uniform((2, n), seed=tf.random.experimental.stateless_fold_in(key, 1), minval=0,
                                             maxval=len(self.domains), dtype=tf.int32)
        class_ids = tf.gather(tf.constant(self.prior_class_ids, tf.int32), labels)
        images = self.prior(ops.concatenate([z, z], axis=0), ops.reshape(class_ids, (-1,)), training=False)
        images = ops.cast(images, "float32")
        if self.prior_resolution != self.image_size:
            images = ops.clip(ops.image.resize(images, (self.image_size, self.image_size), "bilinear"), -1.0, 1.0)
        flip = tf.random.stateless_uniform((n, 1, 1, 1), seed=tf.random.experimental.stateless_fold_in(key, 2)) < 0.5
        flip = ops.concatenate([flip, flip], axis=0)
        images = ops.where(flip, ops.flip(images, axis=2), images)
        return images[:n], images[n:], labels[0], labels[1]

    def encode(self, images, key, training=False):
        """``(clean code, noisy code, styles)``; with probability ``style_flip`` (one draw
        per ``key``) the style encoder sees the batch flipped left-right."""
        code = self.content_encoder(images, training=training)[-1]
        noise = tf.random.stateless_normal(ops.shape(code), seed=tf.random.experimental.stateless_fold_in(key, 1))
        noisy = code + ops.cast(noise * self.config.noise, code.dtype)
        flip = tf.random.stateless_uniform((), seed=tf.random.experimental.stateless_fold_in(key, 2)) < \
            self.config.style_flip
        styles = self.style_encoder(ops.where(flip, ops.flip(images, axis=2), images), training=training)
        return code, noisy, list(styles)

    def decode(self, code, labels, styles, training=False):
        """``(image, mask)`` from a content code, domain labels and image-level styles."""
        return self.decoder([code, ops.cast(labels, "int32"), *styles], training=training)

    # -- training --------------------------------------------------------------------------
    def losses_of(self, real, real_labels, real_masks, x_a, x_b, label_a, label_b, key, training=True):
        """The six weighted losses and their sum (``loss``) on one batch."""
        cfg = self.config
        n = ops.shape(x_a)[0]
        images = ops.concatenate([ops.cast(real, "float32"), x_a, x_b], axis=0)
        labels = ops.concatenate([ops.cast(real_labels, "int32"), label_a, label_b], axis=0)
        masks = ops.concatenate([mask_to_grid(real_masks, self.mask_factor),
                                 mask_to_grid(generated_mask(x_a, cfg.mask_threshold), self.mask_factor),
                                 mask_to_grid(generated_mask(x_b, cfg.mask_threshold), self.mask_factor)], axis=0)
        m = ops.shape(real)[0]
        code, noisy, styles = self.encode(images, key, training=training)
        rec, rec_mask = self.decode(noisy, labels, styles, training=training)
        # Swap the pair's noisy codes: each image's mask drawn from its partner's content.
        pair_styles = [s[m:] for s in styles]
        swapped = ops.concatenate([noisy[m + n:], noisy[m:m + n]], axis=0)
        _, trans_mask = self.decode(swapped, labels[m:], pair_styles, training=training)
        logits = self.domain_classifier(code, training=training)
        out = {
            "loss_arec": cfg.lambda_app_rec * appearance_loss(rec, images, self.vgg),
            "loss_srec": cfg.lambda_shape_rec * mask_loss(rec_mask, masks),
            "loss_fdist": cfg.lambda_feat_dist * paired_content_loss(code[m:m + n], code[m + n:]),
            "loss_sdist": cfg.lambda_shape_dist * mask_loss(trans_mask, masks[m:]),
            "loss_reg": cfg.lambda_reg * code_norm(code),
            "loss_class": cfg.lambda_class * classification_loss(logits, labels),
        }
        out["loss"] = tf.add_n(list(out.values()))
        return out

    def train_step(self, data):
        real, real_labels, real_masks = data
        n = ops.shape(real)[0]
        # 1. This step's pairs: one latent in two classes, drawn by the frozen prior.
        x_a, x_b, label_a, label_b = self.draw_pairs(n)
        # 2. Encode (noisy code, style maybe flipped), decode image and mask, swap the pair's
        #    codes for the mask distance, classify the code behind gradient reversal; 3. update.
        with tf.GradientTape() as tape:
            out = self.losses_of(real, real_labels, real_masks, x_a, x_b, label_a, label_b, self._key(2))
            scaled = self.scaled_loss("ae", out["loss"])
        self.apply_gradients("ae", tape, scaled)
        # 4. Log.
        for name, tracker in self.trackers.items():
            tracker.update_state(out[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        """Real images, their reconstructions and masks; a generated pair of fixed latents
        (each real image's class and the next one's) with the masks drawn from each
        other's content."""
        images, labels = batch[0], batch[1]
        n = ops.shape(images)[0]
        key = tf.constant([self.seed, 0], tf.int64)
        code, _, styles = self.encode(images, key)
        rec, rec_mask = self.decode(code, labels, styles)
        z = truncated_normal((n, self.prior.dim_z), key, self.config.truncation)
        label_b = ops.roll(ops.cast(labels, "int32"), 1, axis=0)
        ids = tf.constant(self.prior_class_ids, tf.int32)
        x_a = self.prior(z, tf.gather(ids, ops.cast(labels, "int32")), training=False)
        x_b = self.prior(z, tf.gather(ids, label_b), training=False)
        if self.prior_resolution != self.image_size:
            x_a, x_b = (ops.image.resize(x, (self.image_size, self.image_size), "bilinear") for x in (x_a, x_b))
        code_a, _, style_a = self.encode(x_a, key)
        code_b, _, _ = self.encode(x_b, key)
        _, mask_a_from_b = self.decode(code_b, labels, style_a)

        def show(mask):
            return ops.repeat(ops.repeat(ops.repeat(mask, self.mask_factor, axis=1), self.mask_factor, axis=2), 3,
                              axis=3)

        return {"real": images, "reconstructed": rec, "mask": show(rec_mask), "prior_a": x_a, "prior_b": x_b,
                "mask_a_from_b": show(mask_a_from_b)}


__all__ = ["GPUNITPrior", "GPUNITPriorConfig", "appearance_loss", "classification_loss", "code_norm",
           "generated_mask", "mask_loss", "mask_to_grid", "paired_content_loss", "truncated_normal"]
