"""Generators brought in from elsewhere (``keras-i2i import-torch``): translators only."""

from __future__ import annotations

import dataclasses
from typing import Optional

import keras

from keras_i2i.config import GENERATOR_NAMES, ModelConfig, choices
from keras_i2i.directions import two_way
from keras_i2i.models.base import TranslationModel, check_crop_size, register_model
from keras_i2i.networks import GENERATORS

IMPORTABLE_GENERATORS = GENERATOR_NAMES


@dataclasses.dataclass(frozen=True)
class ImportedConfig(ModelConfig):
    """``model:`` section of an imported run: which generator, built how, for which directions.

    ``source`` records where the weights came from (file name and sha256) for provenance.
    """

    name: str = "imported"
    generator: str = choices(*IMPORTABLE_GENERATORS, default="resnet_9blocks")
    ngf: int = 64
    norm: str = choices("instance", "batch", "none", default="instance")
    dropout: bool = False
    directions: tuple[str, ...] = ("a2b",)
    source: Optional[str] = None

    def validate(self, data) -> None:
        """The generator takes ``data.crop_size`` (see :func:`check_crop_size`)."""
        check_crop_size(data, (f"model.generator {self.generator}", GENERATORS.get(self.generator), {}))


@register_model("imported", ImportedConfig)
class ImportedGenerators(TranslationModel):
    """One generator per imported direction (``gen_a2b``, ``gen_b2a``), nothing else.

    It has no discriminators or losses, so it cannot be trained; ``translate``,
    ``export``, ``evaluate`` and ``webcam`` use it like a trained run.

    Args:
        config: an :class:`ImportedConfig`.
        image_size: the side the generators are exported at by default.
        seed: unused (kept for the model contract).
    """

    def __init__(self, config, image_size: int = 256, seed: int = 0, **kwargs):
        super().__init__(config, image_size=image_size, seed=seed, **kwargs)
        cfg = self.config
        unknown = sorted(set(cfg.directions) - {"a2b", "b2a"})
        if unknown or not cfg.directions:
            raise ValueError(f"model.directions must name a2b and/or b2a, got {list(cfg.directions)}")
        build = GENERATORS.get(cfg.generator)
        kwargs = dict(ngf=cfg.ngf, norm=cfg.norm, dropout=cfg.dropout)
        self._generators = {}
        for direction in cfg.directions:
            gen = build(name=f"gen_{direction}", **kwargs)
            setattr(self, f"gen_{direction}", gen)
            self._generators[direction] = gen

    def directions(self):
        both = two_way()
        return {name: both[name] for name in self.config.directions}

    def translators(self) -> dict[str, keras.Model]:
        return dict(self._generators)

    def call(self, inputs, training=False):
        return self._generators[self.config.directions[0]](inputs, training=training)

    def make_optimizers(self, settings):
        raise ValueError(
            "An imported model holds generators only (no discriminators, no losses), so it cannot be trained. "
            "Use it with translate, export, evaluate or webcam."
        )
