"""Translation models, registered by name in :data:`MODELS`."""

from keras_i2i.models import cyclegan  # noqa: F401  (registers "cyclegan")
from keras_i2i.models.base import MODELS, TranslationModel, build_model, register_model
from keras_i2i.models.cyclegan import CycleGAN, CycleGANConfig

__all__ = ["MODELS", "CycleGAN", "CycleGANConfig", "TranslationModel", "build_model", "register_model"]
