"""GP-UNIT stage II (Yang et al. 2022): style-conditioned translation on top of the
content encoder distilled from a generative prior (stage I, ``model.name: gp_unit_prior``).

The content encoder comes from the stage-I run through the trainer
(``model.init_from: {content_encoder: RUN_DIR}``) and never trains here. One generator
serves both directions: it draws the target domain from a style code, the style encoder's
code of a reference image of that domain. Per step, as the official ``train.py`` with both
directions of the two domains in one batch:

- the generator player (generator and style encoder):
  non-saturating adversarial loss of ``yhat = G(E(x), S(y'))`` (``y'``: the reference ``y``
  flipped left-right on half the steps, so the style carries no pose);
  content consistency ``L1(E(yhat)_code, E(x)_code)``;
  style consistency ``L1(D_s(yhat), D_s(y))`` on the discriminator's features (``y`` side held
  constant); mask sparsity, the mean of every dynamic-skip mask; reconstruction
  ``L1(ybar, y) + VGG(ybar, y)`` of ``ybar = G(E(y), S(y'))`` without the skips;
- the discriminator: non-saturating loss on ``D(y)`` (real) and ``D(yhat)`` (with ``yhat``
  drawn again by the updated generator, as the official code) at the target domain's
  output, plus R1 (``0.5 * E||grad_y D(y)||^2``, weight 1).

Weights follow the official code's defaults (content 1, style 50, mask 1, reconstruction 1,
adversarial 1, R1 1). Where the issue and the code differ the code wins:

- weight decay 1e-4 is ``torch.optim.Adam``'s: an L2 term ``wd * w`` added to every gradient
  (``model.weight_decay``), not AdamW's decoupled decay (``train.optimizers.*.weight_decay``);
- the perceptual loss is the official ``VGGLoss`` layout (L1 at relu1_1 ... relu5_1, 0.3 each)
  on the offline lpips VGG16 (``model.vgg_weights``; the official uses torchvision's VGG19);
- the reconstruction pass runs without the dynamic skips (official ``use_allskip`` off:
  ``model.rec_skip``);
- the discriminator has one output per domain (StarGAN v2); the official one has a single
  output because it trains one model per direction.

Translators (``<a>2<b>``, ``<b>2<a>``) fix the style inside: the target domain's **mean style
code** over ``model.style_images`` of its training images. The images are taken before step
0 (:meth:`GPUnit.prepare`) and kept as non-trainable, checkpointed weights; the mean is
recomputed from them whenever ``translators()`` is called, so it always comes from the
style encoder the generator is used with (the EMA one after training, as the official
sampler is fitted to ``netG_ema``'s codes) and the exported files stay image in, image out.
The official code trains a sampler network on the codes for random styles; the mean code is
its centre. :meth:`GPUnit.reference_translator` translates with a reference image's style
instead (``keras-i2i translate --style-image``).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_i2i.config import ConfigError, ModelConfig, bounded
from keras_i2i.directions import Direction, directions_by_name, two_way
from keras_i2i.losses import l1_loss, perceptual, vanilla_loss
from keras_i2i.models.base import TranslationModel, register_model
from keras_i2i.networks.gp_unit_translator import GPUnitDiscriminator, GPUnitGenerator, build_style_encoder

#: the official ``VGGLoss``: L1 at relu{1..5}_1, 0.3 each
VGG_WEIGHTS = {"relu1_1": 0.3, "relu2_1": 0.3, "relu3_1": 0.3, "relu4_1": 0.3, "relu5_1": 0.3}


def content_loss(code_fake, code_source):
    """Content consistency: ``L1(E(yhat)_code, E(x)_code)``."""
    return l1_loss(code_fake, code_source)


def style_loss(style_fake, style_real):
    """Style consistency on the discriminator's features: ``L1(D_s(yhat), D_s(y))``, the real
    side held constant (the official ``real_style.detach()``)."""
    return l1_loss(style_fake, ops.stop_gradient(style_real))


def mask_loss(masks):
    """Mask sparsity: the sum over the dynamic skips of each mask's mean."""
    total = ops.zeros((), "float32")
    for mask in masks:
        total = total + ops.mean(ops.cast(mask, "float32"))
    return total


def reconstruction_loss(rec, y, vgg):
    """``L1(ybar, y)`` plus the official ``VGGLoss`` layout on ``vgg`` (L1 at relu{1..5}_1, 0.3 each)."""
    return l1_loss(rec, y) + perceptual(rec, y, vgg, VGG_WEIGHTS)


def r1_from_gradients(grads):
    """R1 as the official ``r1_reg``: ``0.5 * E_batch sum grad_y D(y)^2``."""
    grads = ops.cast(grads, "float32")
    return 0.5 * ops.mean(ops.sum(ops.square(grads), axis=tuple(range(1, len(grads.shape)))))


@dataclasses.dataclass(frozen=True)
class GPUnitConfig(ModelConfig):
    """``model:`` section of GP-UNIT stage II; defaults are the official ``train.py``'s.

    ``content_ch``, ``content_down``: the content encoder's settings, as the stage-I run's
    (``init_from`` checks every shape). ``ch``: the generator's base width (official
    ``ngf`` 64); ``style_ch``: the style encoder's first width; ``d_ch``: the
    discriminator's. ``style_blocks``: discriminator blocks before the style feature.
    ``skip_levels``: up-sampled sides with a dynamic skip (official 2).
    ``weight_decay``: torch Adam's L2 term on both players' gradients.
    ``style_images``: training images per domain whose mean style code the translators use.
    """

    name: str = "gp_unit"
    content_ch: int = bounded(64, at_least=1)
    content_down: int = bounded(5, at_least=3)
    ch: int = bounded(64, at_least=1)
    style_ch: int = bounded(64, at_least=1)
    style_dim: int = bounded(256, at_least=1)
    style_compress: int = bounded(64, at_least=1)
    d_ch: int = bounded(64, at_least=1)
    style_blocks: int = bounded(3, at_least=1)
    skip_levels: int = bounded(2, at_least=0)
    lambda_gan: float = bounded(1.0, at_least=0)
    lambda_content: float = bounded(1.0, at_least=0)
    lambda_style: float = bounded(50.0, at_least=0)
    lambda_mask: float = bounded(1.0, at_least=0)
    lambda_rec: float = bounded(1.0, at_least=0)
    lambda_r1: float = bounded(1.0, at_least=0)
    weight_decay: float = bounded(1e-4, at_least=0)
    rec_skip: bool = False
    flip_style: bool = True
    vgg_weights: str = "lpips"  # vgg_features weights: lpips (VGG16, offline), imagenet, none, or a file
    style_images: int = bounded(64, at_least=1)

    def validate(self, data) -> None:
        """``data.crop_size``: a power of 2 (the discriminator halves it to 4 px) that halves
        ``content_down`` times to a code of at least 4 px."""
        side = data.crop_size
        if side < 8 or side & (side - 1):
            raise ConfigError(f"data.crop_size: {side} does not fit GP-UNIT; use a power of 2 (e.g. 64 or 256).")
        if side % 2 ** self.content_down or side // 2 ** self.content_down < 4:
            raise ConfigError(f"data.crop_size: {side} with model.content_down {self.content_down} leaves a content "
                              f"code under 4 px; lower model.content_down (3 at 64 px, 5 at 256 px).")
        if self.skip_levels > self.content_down:
            raise ConfigError(f"model.skip_levels: {self.skip_levels} is more than the generator's "
                              f"{self.content_down} up-sampled sides.")


@keras.saving.register_keras_serializable(package="keras_i2i")
class StyleBank(keras.layers.Layer):
    """Per domain, reference images and their mean style code: non-trainable weights, so
    they are checkpointed and exported with the model.

    Args:
        num_domains: how many domains.
        images: reference images per domain.
        image_size: their side.
        style_dim: the style code's width.
    """

    def __init__(self, num_domains: int, images: int, image_size: int, style_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_domains, self.images = int(num_domains), int(images)
        self.image_size, self.style_dim = int(image_size), int(style_dim)
        for i in range(self.num_domains):  # attributes, not lists: checkpoints follow attributes
            setattr(self, f"refs_{i}", self.add_weight(shape=(self.images, self.image_size, self.image_size, 3),
                                                       initializer="zeros", dtype="float16", trainable=False,
                                                       name=f"refs_{i}"))
            setattr(self, f"mean_style_{i}", self.add_weight(shape=(1, self.style_dim), initializer="zeros",
                                                             trainable=False, name=f"mean_style_{i}"))
        self.built = True

    @property
    def refs(self):
        return [getattr(self, f"refs_{i}") for i in range(self.num_domains)]

    @property
    def means(self):
        return [getattr(self, f"mean_style_{i}") for i in range(self.num_domains)]

    def get_config(self):
        return {**super().get_config(), "num_domains": self.num_domains, "images": self.images,
                "image_size": self.image_size, "style_dim": self.style_dim}


class FixedStyleTranslator(keras.Model):
    """One GP-UNIT translator: image in, image out, with a fixed style code (a variable of
    the model's :class:`StyleBank`, or a constant from a reference image).

    Args:
        model: the :class:`GPUnit` model.
        style: a ``(1, style_dim)`` variable or array.
    """

    def __init__(self, model: "GPUnit", style, **kwargs):
        super().__init__(**kwargs)
        self.gp_unit, self.style = model, style
        self.built = True  # no weights of its own

    def call(self, x, training=False):
        style = ops.convert_to_tensor(self.style)
        style = ops.broadcast_to(ops.cast(style, "float32"), (ops.shape(x)[0], ops.shape(style)[-1]))
        return self.gp_unit.translate(x, style)


@register_model("gp_unit", GPUnitConfig)
class GPUnit(TranslationModel):
    """GP-UNIT stage II: a style-conditioned generator on a frozen content encoder.

    ``yhat = G(E(x), S(y))``: the content encoder ``E`` (stage I's, frozen) gives the
    content code and multi-level features of the source image ``x``; the style encoder
    ``S`` a 256-d code of a reference ``y`` of the target domain; the generator ``G`` draws
    the translation from the code with AdaIN residual blocks, its dynamic skips mixing in
    ``E``'s features at the middle sides. See the module for the losses and deviations.

    Players: ``gen`` (generator and style encoder) and ``disc``. Sub-networks:
    ``content_encoder`` (load it with ``model.init_from``), ``generator``,
    ``style_encoder``, ``discriminator``, ``style_bank``.

    Args:
        config: a :class:`GPUnitConfig`.
        image_size: the image side.
        seed: seeds the initializers and the per-step draws (the style flip).
        domains: the two domains' names.

    Reference:
        Yang et al., "Unsupervised Image-to-Image Translation with Generative Prior",
        CVPR 2022. https://arxiv.org/abs/2204.03641; official code williamyang1991/GP-UNIT.
    """

    players = ("gen", "disc")
    LOSS_NAMES = ("loss_g_gan", "loss_content", "loss_style", "loss_mask", "loss_rec", "loss_g",
                  "loss_d_real", "loss_d_fake", "loss_r1", "loss_d")

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        from keras_i2i.networks.gp_unit import build_content_encoder
        from keras_i2i.pretrained import FrozenReference, vgg_features

        cfg, size = self.config, self.image_size
        cfg.validate(_Side(size))
        base = self.seed * 7919
        self.content_encoder = build_content_encoder(size, ch=cfg.content_ch, n_down=cfg.content_down,
                                                     name="content_encoder")
        self.content_encoder.trainable = False  # stage II never trains it (model.frozen says so too)
        shapes = [(int(t.shape[1]), int(t.shape[-1])) for t in self.content_encoder.outputs]
        self.generator = GPUnitGenerator(size, shapes, ch=cfg.ch, style_dim=cfg.style_dim, skip_levels=cfg.skip_levels,
                                         seed=base + 1, name="generator")
        self.style_encoder = build_style_encoder(size, ch=cfg.style_ch, style_dim=cfg.style_dim,
                                                 compress=cfg.style_compress, seed=base + 20_000, name="style_encoder")
        self.discriminator = GPUnitDiscriminator(size, len(self.domains), ch=cfg.d_ch, style_blocks=cfg.style_blocks,
                                                 seed=base + 40_000, name="discriminator")
        self.style_bank = StyleBank(len(self.domains), cfg.style_images, size, cfg.style_dim, name="style_bank")
        # frozen, held by reference: in no checkpoint or optimizer
        self.vgg = FrozenReference(vgg_features("vgg16", cfg.vgg_weights, tuple(VGG_WEIGHTS), name="vgg16_gp_unit"))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- the translation --------------------------------------------------------------
    def content(self, x):
        """The frozen content encoder's outputs (shallow to deep, the code last), never in
        training mode (its spectral-norm vectors stay as loaded)."""
        return list(self.content_encoder(ops.cast(x, "float32"), training=False))

    def translate(self, x, style, use_skip: bool = True, training: bool = False):
        """Images ``x`` translated with style codes ``style`` ``(B, style_dim)``."""
        image, _ = self.generator(self.content(x), style, use_skip=use_skip, training=training)
        return image

    def call(self, inputs, training=False):
        real_a, real_b = inputs
        forward, backward = self.translators().values()
        return forward(real_a), backward(real_b)

    # -- directions and translators ------------------------------------------------------
    def directions(self):
        """``<a>2<b>`` and ``<b>2<a>``; their conditions record the fixed style (model.json)."""
        style = {"style": "mean_code", "style_images": self.config.style_images}
        return directions_by_name(Direction(d.name, d.source, d.target, style) for d in two_way(*self.domains).values())

    def _mean_styles(self):
        """Recompute each domain's mean style code from the bank's images with the style
        encoder as it is now (the EMA one inside ``ema_weights()`` or after loading)."""
        for refs, mean in zip(self.style_bank.refs, self.style_bank.means):
            codes = [self.style_encoder(ops.cast(refs[i:i + 16], "float32"), training=False)
                     for i in range(0, int(refs.shape[0]), 16)]
            mean.assign(ops.mean(ops.concatenate(codes, axis=0), axis=0, keepdims=True))

    def translators(self) -> dict[str, keras.Model]:
        """``<a>2<b>`` and ``<b>2<a>``: image -> image with the target domain's mean style code
        (recomputed now, see the module)."""
        self._mean_styles()
        out = {}
        for name, direction in self.directions().items():
            target = self.domains.index(direction.target)
            out[name] = FixedStyleTranslator(self, self.style_bank.means[target], name=name)
        return out

    def reference_translator(self, direction: str, style_image) -> keras.Model:
        """The translator of ``direction`` with the style code of one reference image of its
        target domain (``(H, W, 3)`` or ``(1, H, W, 3)`` in [-1, 1], at the model's side)."""
        from keras_i2i.directions import pick

        pick(self.directions(), direction)
        image = np.asarray(style_image, "float32").reshape((1, self.image_size, self.image_size, 3))
        style = np.asarray(self.style_encoder(image, training=False))
        return FixedStyleTranslator(self, style, name=direction)

    def ema_variables(self) -> list:
        """The generator's and the style encoder's trainable weights (the official
        ``netG_ema`` holds both)."""
        return [*self.generator.trainable_variables, *self.style_encoder.trainable_variables]

    def variables_for(self, optimizer_name: str) -> list:
        if optimizer_name == "gen":
            return [*self.generator.trainable_variables, *self.style_encoder.trainable_variables]
        return self.discriminator.trainable_variables

    # -- before step 0 ------------------------------------------------------------------
    def prepare(self, dataset) -> None:
        """Keep the first ``model.style_images`` training images of each domain (batches
        ``(real_a, real_b)``) in the style bank, and their mean style codes."""
        wanted, taken = self.config.style_images, [[], []]
        for batch in dataset:
            for i, images in enumerate(batch[:2]):
                have = sum(len(t) for t in taken[i])
                if have < wanted:
                    taken[i].append(np.asarray(images)[: wanted - have])
            if all(sum(len(t) for t in d) >= wanted for d in taken):
                break
        for i, parts in enumerate(taken):
            refs = np.concatenate(parts, axis=0)
            # a domain with fewer images than wanted: repeat them (the mean is unchanged)
            refs = np.resize(refs, (wanted, *refs.shape[1:])) if 0 < len(refs) < wanted else refs
            self.style_bank.refs[i].assign(refs.astype("float16"))
        self._mean_styles()

    # -- losses ------------------------------------------------------------------------
    def _decay(self, variables):
        """torch Adam's weight decay as a loss: its gradient is ``weight_decay * w``."""
        wd = self.config.weight_decay
        if not wd:
            return 0.0
        return 0.5 * wd * tf.add_n([ops.sum(ops.square(ops.cast(v, "float32"))) for v in variables])

    def generator_losses(self, x, y, y_style, labels, training: bool = True) -> dict:
        """The generator player's losses for sources ``x``, target-domain references ``y``
        (and ``y_style``, ``y`` maybe flipped, for the style code) of domains ``labels``."""
        cfg = self.config
        n = ops.shape(x)[0]
        content_x, content_y = self.content(x), self.content(y)
        content_x = [ops.stop_gradient(t) for t in content_x]
        content_y = [ops.stop_gradient(t) for t in content_y]
        style = self.style_encoder(y_style, training=training)
        fake, masks = self.generator(content_x, style, training=training)
        rec, _ = self.generator(content_y, style, use_skip=cfg.rec_skip, training=training)
        logits, sfeat = self.discriminator(ops.concatenate([fake, ops.cast(y, fake.dtype)], axis=0), training=training)
        out = {"fake": fake}
        out["loss_g_gan"] = cfg.lambda_gan * vanilla_loss(GPUnitDiscriminator.pick(logits[:n], labels), True,
                                                          for_discriminator=False)
        out["loss_content"] = cfg.lambda_content * content_loss(self.content(fake)[-1], content_x[-1])
        out["loss_style"] = cfg.lambda_style * style_loss(sfeat[:n], sfeat[n:])
        out["loss_mask"] = cfg.lambda_mask * mask_loss(masks)
        out["loss_rec"] = cfg.lambda_rec * reconstruction_loss(rec, y, self.vgg)
        out["loss_g"] = (out["loss_g_gan"] + out["loss_content"] + out["loss_style"] + out["loss_mask"]
                         + out["loss_rec"])
        return out

    def discriminator_losses(self, fake, y, labels, training: bool = True) -> dict:
        """Non-saturating loss of ``D`` on reals ``y`` and translations ``fake`` at the target
        domains ``labels``, and R1 on the reals (one forward pass for both, as the official)."""
        n = ops.shape(fake)[0]
        y = tf.convert_to_tensor(y)
        with tf.GradientTape() as inner:
            inner.watch(y)
            logits, _ = self.discriminator(ops.concatenate([ops.stop_gradient(fake), ops.cast(y, fake.dtype)], axis=0),
                                           training=training)
            picked = ops.cast(GPUnitDiscriminator.pick(logits, ops.concatenate([labels, labels], axis=0)), "float32")
            real_sum = ops.sum(picked[n:])
        r1 = r1_from_gradients(inner.gradient(real_sum, y))
        out = {"loss_d_real": vanilla_loss(picked[n:], True), "loss_d_fake": vanilla_loss(picked[:n], False),
               "loss_r1": self.config.lambda_r1 * r1}
        out["loss_d"] = out["loss_d_real"] + out["loss_d_fake"] + out["loss_r1"]
        return out

    def _flip_style(self):
        """Whether this step flips the style references (one fair coin per step, stateless:
        a function of the seed and the step, so a resumed run draws the same)."""
        if not self.config.flip_style:
            return tf.constant(False)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])
        return tf.random.stateless_uniform((), seed=seed) < 0.5

    def train_step(self, data):
        real_a, real_b = data[0], data[1]
        n = ops.shape(real_a)[0]
        # Both directions in one batch: a -> b (reference b) and b -> a (reference a).
        x = ops.concatenate([real_a, real_b], axis=0)
        y = ops.concatenate([real_b, real_a], axis=0)
        labels = ops.concatenate([ops.ones((n,), "int32"), ops.zeros((n,), "int32")], axis=0)
        # 1. The style references: flipped left-right on half the steps.
        y_style = tf.cond(self._flip_style(), lambda: tf.reverse(y, axis=[2]), lambda: tf.identity(y))
        # 2. Generator and style encoder: adversarial, content, style, mask and reconstruction losses.
        gen_vars = self.variables_for("gen")
        with tf.GradientTape() as tape:
            g = self.generator_losses(x, y, y_style, labels)
            scaled = self.scaled_loss("gen", g["loss_g"] + self._decay(gen_vars))
        self.apply_gradients("gen", tape, scaled)
        # 3. Discriminator: reals and translations drawn again by the updated generator, R1.
        fake = ops.stop_gradient(self.generator(self.content(x), self.style_encoder(y_style, training=True),
                                                training=True)[0])
        with tf.GradientTape() as tape:
            d = self.discriminator_losses(fake, y, labels)
            scaled = self.scaled_loss("disc", d["loss_d"] + self._decay(self.variables_for("disc")))
        self.apply_gradients("disc", tape, scaled)
        # 4. Log.
        for name in self.LOSS_NAMES:
            self.trackers[name].update_state((g if name in g else d)[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        """Real images, their reference-guided translations (the other domain's images of
        the batch as references) and the mean-style translations."""
        real_a, real_b = batch[0], batch[1]
        a, b = self.domains
        translators = self.translators()
        return {f"real_{a}": real_a, f"{a}2{b}_ref": self.translate(real_a, self.style_encoder(real_b)),
                f"{a}2{b}": translators[f"{a}2{b}"](real_a),
                f"real_{b}": real_b, f"{b}2{a}_ref": self.translate(real_b, self.style_encoder(real_a)),
                f"{b}2{a}": translators[f"{b}2{a}"](real_b)}


@dataclasses.dataclass(frozen=True)
class _Side:
    """A stand-in ``DataConfig`` with the crop size (the model checks its own side)."""

    crop_size: int


__all__ = ["FixedStyleTranslator", "GPUnit", "GPUnitConfig", "StyleBank", "VGG_WEIGHTS", "content_loss", "mask_loss",
           "r1_from_gradients", "reconstruction_loss", "style_loss"]
