"""Distillation (GAN Compression's mobile student): a small, export-friendly generator
trained to translate like a frozen teacher, the translator of any trained run."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import keras
import tensorflow as tf
from keras import ops

from keras_i2i.config import MODEL_CONFIGS, ConfigError, ModelConfig, bounded, choices, from_dict
from keras_i2i.directions import pick
from keras_i2i.losses import GAN_LOSSES, l1_loss
from keras_i2i.models.base import TranslationModel, _Held, build_model, check_crop_size, register_model
from keras_i2i.networks import DISCRIMINATORS
from keras_i2i.networks.mobile_resnet import block_outputs, mobile_resnet_generator, spread, with_block_outputs
from keras_i2i.networks.registry import input_sides

#: The teacher's model-config keys that a discriminator initialized from its one takes
#: (teacher key -> this config's key).
TEACHER_DISC_KEYS = {"discriminator": "discriminator", "ndf": "ndf", "n_layers_d": "n_layers_d", "norm": "disc_norm"}


@input_sides(4)  # two stride-2 downsamplings, two 2x upsamplings
def _mobile_resnet(**kwargs):
    return mobile_resnet_generator(**kwargs)


@dataclasses.dataclass(frozen=True)
class DistillConfig(ModelConfig):
    """``model:`` section of a distilled student. ``keras-i2i distill --teacher RUN_DIR``
    fills in the ``teacher*`` keys, ``direction``, the discriminator's settings (the
    teacher's, when it has a discriminator) and ``init_from`` (the teacher's translator
    and discriminator from its checkpoint, recorded with its sha256 in
    ``init_from_record``); a distill config sets the student and the losses.

    ``teacher_model`` is the teacher run's whole ``model:`` section, so the teacher's
    network is rebuilt (then filled by ``init_from.teacher``) without reading its run.
    """

    name: str = "distill"
    teacher: Optional[str] = None  # the teacher's run directory (provenance)
    teacher_model: Optional[dict[str, Any]] = None
    teacher_image_size: int = 256
    teacher_domains: tuple[str, ...] = ("a", "b")
    direction: Optional[str] = None  # the teacher's direction to distil [default: its first]
    # The student: GAN Compression's mobile ResNet generator.
    ngf: int = bounded(16, at_least=1)
    n_blocks: int = bounded(9, at_least=1)
    norm: str = choices("instance", "batch", "none", default="instance")
    dropout: bool = False
    padding: str = choices("slices", "pad", default="slices")
    init_gain: float = 0.02
    # The discriminator on the target domain (LSGAN as CycleGAN's).
    discriminator: str = choices("patchgan", "pixel", default="patchgan")
    ndf: int = 64
    n_layers_d: int = 3
    disc_norm: str = choices("instance", "batch", "none", default="instance")
    gan_mode: str = choices("lsgan", "vanilla", "hinge", default="lsgan")
    # Losses: L1 to the teacher's output, feature distillation (mean squared error of
    # learned 1x1 projections of the student's block activations to the teacher's, at
    # feature_taps blocks spread over both; 0 or a teacher without blocks: output only),
    # and the adversarial term.
    lambda_l1: float = bounded(10.0, at_least=0)
    lambda_feature: float = bounded(1.0, at_least=0)
    feature_taps: int = bounded(4, at_least=0)
    lambda_gan: float = bounded(1.0, at_least=0)
    frozen: tuple[str, ...] = ("teacher",)

    def validate(self, data) -> None:
        """The student and discriminator take ``data.crop_size`` (a config without its
        teacher loads, as a template: building the model asks for the teacher)."""
        check_crop_size(data, ("model.name distill (student)", _mobile_resnet, {}),
                        (f"model.discriminator {self.discriminator} (model.n_layers_d {self.n_layers_d})",
                         DISCRIMINATORS.get(self.discriminator), {"n_layers": self.n_layers_d}))


def teacher_config(cfg: DistillConfig):
    """The teacher's model config (its run's ``model:`` section, validated)."""
    if cfg.teacher_model is None:
        raise ConfigError("model.teacher_model: a distilled student needs its teacher; start it with "
                          "`keras-i2i distill --teacher RUN_DIR --config distill/NAME`.")
    raw = dict(cfg.teacher_model)
    try:
        cls = MODEL_CONFIGS.get(str(raw.get("name", "cyclegan")))
    except ValueError as err:
        raise ConfigError(f"model.teacher_model.name: {err}") from None
    return from_dict(cls, raw, "model.teacher_model.")


def teacher_discriminator(teacher: TranslationModel, direction) -> Optional[str]:
    """The name of ``teacher``'s discriminator of ``direction``'s target domain (CycleGAN
    and XGAN: ``disc_a``/``disc_b`` by the domain's position), None where it has none."""
    index = teacher.domains.index(direction.target)
    for name in (f"disc_{direction.target}", f"disc_{'ab'[index]}" if index < 2 else None):
        layer = getattr(teacher, name, None) if name else None
        if isinstance(layer, keras.layers.Layer) and layer.weights:
            return name
    return None


@register_model("distill", DistillConfig)
class Distill(TranslationModel):
    """A student generator distilled from a frozen teacher translator.

    Per step, on real source-domain images: the teacher translates them (inference mode,
    never updated); the student is updated to match the teacher's output (L1), its
    residual-block activations through learned 1x1 convolutions (feature distillation,
    where the teacher exposes blocks: :func:`~keras_i2i.networks.mobile_resnet.with_block_outputs`)
    and to fool a discriminator of the target domain; then the discriminator (LSGAN;
    initialized from the teacher's own by ``keras-i2i distill`` where it has one) is
    updated on real target images and the student's translations. Only the teacher's
    ``translators()`` are needed, so any run can teach, an imported one included.

    The student is :func:`~keras_i2i.networks.mobile_resnet.mobile_resnet_generator`;
    ``translators()`` hands out only the student, so export, evaluate and the webcam
    treat the run like any other.

    Args:
        config: a :class:`DistillConfig`.
        image_size: training crop size.
        seed: unused (kept for the model contract).
        domains: the data's domains (the teacher's).

    Reference:
        Li et al., "GAN Compression: Efficient Architectures for Interactive Conditional
        GANs", CVPR 2020. https://arxiv.org/abs/2003.08936
    """

    LOSS_NAMES = ("loss_l1", "loss_feature", "loss_gan", "loss_g", "loss_d")
    players = ("gen", "disc")
    accumulates = True

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        teacher_cfg = teacher_config(cfg)
        teacher_model = build_model(teacher_cfg, image_size=cfg.teacher_image_size, domains=cfg.teacher_domains)
        directions = teacher_model.directions()
        self.direction = pick(directions, cfg.direction) if cfg.direction else next(iter(directions.values()))
        missing = [d for d in (*self.direction.source, self.direction.target) if d not in self.domains]
        if missing:
            raise ConfigError(f"model.direction {self.direction.name}: the data has no domain {missing[0]!r} "
                              f"(it has {', '.join(self.domains)}); distil with the teacher's data.")
        self.source_index = self.domains.index(self.direction.primary_source)
        self.target_index = self.domains.index(self.direction.target)
        # The teacher: its translator alone (the rest of its model is not kept), never trained.
        self.teacher = teacher_model.translators()[self.direction.name]
        self.teacher.trainable = False
        self.student = mobile_resnet_generator(ngf=cfg.ngf, n_blocks=cfg.n_blocks, norm=cfg.norm, dropout=cfg.dropout,
                                               padding=cfg.padding, init_gain=cfg.init_gain, name="student")
        self.disc = DISCRIMINATORS.get(cfg.discriminator)(name="disc", ndf=cfg.ndf, n_layers=cfg.n_layers_d,
                                                          norm=cfg.disc_norm, init_gain=cfg.init_gain)
        self.gan_loss = GAN_LOSSES.get(cfg.gan_mode)
        # Feature distillation: teacher and student blocks at spread positions, matched by 1x1 convolutions.
        teacher_view = student_view = None
        self.adapters = []
        if cfg.lambda_feature > 0 and cfg.feature_taps > 0:
            teacher_blocks = len(block_outputs(self.teacher))
            taps = min(cfg.feature_taps, cfg.n_blocks, teacher_blocks)
            teacher_view = with_block_outputs(self.teacher, spread(taps, teacher_blocks)) if taps else None
            if teacher_view is not None:
                student_view = with_block_outputs(self.student, spread(taps, cfg.n_blocks))
                probe = keras.KerasTensor((1, image_size, image_size, 3))
                t_shapes = [tuple(t.shape) for t in teacher_view.compute_output_spec(probe)[1:]]
                s_shapes = [tuple(t.shape) for t in student_view.compute_output_spec(probe)[1:]]
                if [s[1:3] for s in t_shapes] != [s[1:3] for s in s_shapes]:
                    teacher_view = student_view = None  # blocks at other resolutions: output-only distillation
                else:
                    for i, (s, t) in enumerate(zip(s_shapes, t_shapes)):
                        adapter = keras.layers.Conv2D(t[-1], 1, name=f"adapter{i}")
                        adapter.build((None, None, None, s[-1]))
                        self.adapters.append(adapter)
        # Views share the networks' layers (held, not tracked: the checkpoint has each weight once).
        self._views = _Held((teacher_view, student_view))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}
        self.built = True

    @property
    def feature_distillation(self) -> bool:
        """Whether the student learns the teacher's block activations (else output only)."""
        return self._views.value[0] is not None

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def directions(self):
        return {self.direction.name: self.direction}

    def translators(self) -> dict[str, keras.Model]:
        return {self.direction.name: self.student}

    def variables_for(self, optimizer_name):
        if optimizer_name == "gen":
            return self.student.trainable_variables + [v for a in self.adapters for v in a.trainable_variables]
        return self.disc.trainable_variables

    def teach(self, real_src):
        """The teacher's translation and its tapped block activations (inference mode)."""
        teacher_view = self._views.value[0]
        if teacher_view is None:
            return self.teacher(real_src, training=False), []
        out, *features = teacher_view(real_src, training=False)
        return out, features

    def student_losses(self, real_src, teacher_out, *teacher_features):
        """The student's weighted losses (``loss``: their sum) and its translation."""
        cfg = self.config
        student_view = self._views.value[1]
        if student_view is not None:
            fake, *features = student_view(real_src, training=True)
        else:
            fake, features = self.student(real_src, training=True), []
        loss_l1 = cfg.lambda_l1 * l1_loss(fake, teacher_out)
        loss_feature = tf.constant(0.0)
        for adapter, mine, theirs in zip(self.adapters, features, teacher_features):
            diff = ops.cast(adapter(mine), "float32") - ops.cast(theirs, "float32")
            loss_feature = loss_feature + cfg.lambda_feature * ops.mean(ops.square(diff))
        loss_gan = cfg.lambda_gan * self.gan_loss(self.disc(fake, training=True), True, for_discriminator=False)
        loss_g = loss_l1 + loss_feature + loss_gan
        return dict(loss=loss_g, loss_l1=loss_l1, loss_feature=loss_feature, loss_gan=loss_gan, loss_g=loss_g,
                    fake=fake)

    def discriminator_losses(self, real_tgt, fake):
        """Real target-domain images are real, the student's translations fake; halved as
        in CycleGAN."""
        loss_d = 0.5 * (self.gan_loss(self.disc(real_tgt, training=True), True)
                        + self.gan_loss(self.disc(fake, training=True), False))
        return dict(loss=loss_d, loss_d=loss_d)

    def train_step(self, data):
        real_src, real_tgt = data[self.source_index], data[self.target_index]

        # 1. The frozen teacher translates the real source images (inference mode).
        teacher_out, teacher_features = self.teach(real_src)
        teacher_out = tf.stop_gradient(teacher_out)
        teacher_features = [tf.stop_gradient(f) for f in teacher_features]
        # 2. Update the student (and its 1x1 adapters): L1 to the teacher's output, its
        #    block activations, and fool the discriminator.
        gen = self.update("gen", self.student_losses, real_src, teacher_out, *teacher_features)
        # 3. Update the discriminator: real target images are real, the student's fakes fake.
        disc = self.update("disc", self.discriminator_losses, real_tgt, tf.stop_gradient(gen["fake"]))

        values = {**gen, **disc}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        real_src = batch[self.source_index]
        return {f"real_{self.direction.primary_source}": real_src,
                "teacher": self.teacher(real_src, training=False),
                "student": self.student(real_src, training=False)}
