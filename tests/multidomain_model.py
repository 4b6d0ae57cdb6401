"""A tiny multi-domain model for tests only: one generator conditioned on the target
domain, trained on the ``labelled`` stream, with a direction per ordered pair of domains
under free-form names (``noto_into_twemoji`` ...), so that the whole path (train,
translate, export, evaluate, webcam) is exercised with neither two domains nor ``a2b``.

Importing this module registers it as ``model.name: test_multidomain``.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf
from keras import layers, ops

from keras_i2i.directions import Direction, directions_by_name
from keras_i2i.models.base import TranslationModel, register_model


@dataclasses.dataclass(frozen=True)
class MultiDomainConfig:
    name: str = "test_multidomain"
    width: int = 4

    def validate(self, data) -> None:
        """Any crop size works (all convolutions keep the size)."""


class TargetShift(layers.Layer):
    """Adds a learned colour shift per target domain: ``x + table[label]``."""

    def __init__(self, num_domains: int, **kwargs):
        super().__init__(**kwargs)
        self.num_domains = int(num_domains)
        self.table = self.add_weight(name="table", shape=(self.num_domains, 3), initializer="zeros")

    def call(self, x, labels):
        onehot = ops.one_hot(ops.cast(labels, "int32"), self.num_domains)
        return x + ops.reshape(ops.matmul(onehot, self.table), (-1, 1, 1, 3))

    def get_config(self):
        return {**super().get_config(), "num_domains": self.num_domains}


class ConditionalGenerator(keras.Model):
    """``G(x, target) = tanh(x + conv(x) + shift[target])``."""

    def __init__(self, num_domains: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.body = keras.Sequential([layers.Conv2D(width, 3, padding="same", activation="relu"),
                                      layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros")])
        self.shift = TargetShift(num_domains)

    def call(self, x, labels):
        return ops.tanh(self.shift(x + self.body(x), labels))


class Targeted(keras.Model):
    """A translator: the generator with its target label fixed (image in, image out)."""

    def __init__(self, generator: ConditionalGenerator, label: int, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.label = generator, int(label)

    def call(self, x, training=False):
        return self.generator(x, ops.full((ops.shape(x)[0],), self.label, dtype="int32"))


@register_model("test_multidomain", MultiDomainConfig)
class MultiDomain(TranslationModel):
    dataset_kind = "labelled"
    num_domains = None
    LOSS_NAMES = ("loss_rec",)
    players = ("gen",)

    def __init__(self, config, image_size: int = 32, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        self.gen = ConditionalGenerator(len(self.domains), self.config.width, name="gen")
        self.gen(ops.zeros((1, image_size, image_size, 3)), ops.zeros((1,), "int32"))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOSS_NAMES}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def directions(self):
        return directions_by_name(
            Direction(f"{source}_into_{target}", (source,), target, {"target_label": t})
            for source in self.domains for t, target in enumerate(self.domains) if source != target)

    def translators(self):
        return {name: Targeted(self.gen, d.conditions["target_label"], name=name)
                for name, d in self.directions().items()}

    def variables_for(self, optimizer_name):
        return self.gen.trainable_variables

    def call(self, inputs, training=False):
        images, labels = inputs
        return self.gen(images, labels)

    def train_step(self, data):
        images, labels = data
        # 1. Reconstruct each image in its own domain.
        with tf.GradientTape() as tape:
            loss_rec = ops.mean(ops.abs(self.gen(images, labels) - images))
            scaled = self.scaled_loss("gen", loss_rec)
        # 2. Update the generator.
        self.apply_gradients("gen", tape, scaled)
        self.trackers["loss_rec"].update_state(loss_rec)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def sample(self, batch):
        images, _ = batch
        return {"real": images, **{f"to_{name}": self.gen(images, ops.full((ops.shape(images)[0],), i, "int32"))
                                   for i, name in enumerate(self.domains)}}


