"""Translation models, registered by name in :data:`MODELS`."""

from keras_i2i.models import cyclegan, imported  # noqa: F401  (registers "cyclegan", "imported")
from keras_i2i.models.base import MODELS, TranslationModel, build_model, register_model
from keras_i2i.models.cyclegan import CycleGAN, CycleGANConfig
from keras_i2i.models.xgan import XGAN, XGANConfig  # registers "xgan"
from keras_i2i.models.distill import Distill, DistillConfig  # registers "distill"
from keras_i2i.models.cascaded import Cascaded, CascadedConfig  # registers "cascaded"
from keras_i2i.models.biggan import BigGAN, BigGANConfig  # registers "biggan"
from keras_i2i.models.deepi2i import DeepI2I, DeepI2IConfig  # registers "deepi2i"
from keras_i2i.models.gp_unit_prior import GPUNITPrior, GPUNITPriorConfig  # registers "gp_unit_prior"
from keras_i2i.models.gp_unit import GPUnit, GPUnitConfig  # registers "gp_unit"
from keras_i2i.models.imported import ImportedConfig, ImportedGenerators

__all__ = [
    "MODELS", "Cascaded", "CascadedConfig", "CycleGAN", "CycleGANConfig", "Distill", "DistillConfig", "ImportedConfig", "ImportedGenerators", "TranslationModel", "build_model",
    "register_model", "XGAN", "XGANConfig",
]
