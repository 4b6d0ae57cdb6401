"""The contract every translation model fulfils.

A model is a ``keras.Model`` subclass registered by name. It owns the math
(networks, losses, ``train_step``, loss trackers, optimizers) and hands out
``translators()``: one inference ``keras.Model`` per direction, image in, image out,
NHWC float in [-1, 1]. Export, translate, evaluate and the webcam use only those.
The trainer owns everything around it (strategy, precision, data, checkpoints).

What the contract already allows for the models that come after CycleGAN:

- multi-domain models (a target label) and stochastic ones (noise, a style code)
  fix those inputs inside each translator, so a translator stays image -> image;
- several players, each with its own optimizer: ``optimizers()`` names them, the
  trainer checkpoints and builds them all inside the strategy scope;
- frozen pretrained feature extractors are built by the model from its config
  (``keras.applications`` weights or a local file), never trained;
- two-stage training switches on ``self.step`` inside ``train_step``;
- ``dataset_kind`` tells the trainer which batches to feed (``"unpaired"``:
  ``(real_a, real_b)``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Optional

import keras
import tensorflow as tf

from keras_i2i.config import MODEL_CONFIGS, ConfigError
from keras_i2i.directions import Direction
from keras_i2i.networks.registry import input_side_rule
from keras_i2i.registry import Registry

MODELS: Registry = Registry("model")


def register_model(name: str, config_class: type):
    """Class decorator: register a model and the dataclass of its ``model:`` config section."""

    def decorator(cls):
        cls.config_class = config_class
        cls.registered_name = name
        MODELS.register(name)(cls)
        MODEL_CONFIGS.register(name)(config_class)
        return keras.saving.register_keras_serializable(package="keras_i2i")(cls)

    return decorator


def check_crop_size(data, *networks) -> None:
    """Raise :class:`~keras_i2i.config.ConfigError` unless every network takes
    ``data.crop_size`` as its input side (model config classes call it from their
    ``validate(data)`` hook, which runs when a config is loaded).

    Args:
        data: the ``DataConfig``.
        *networks: ``(label, builder, kwargs)``: e.g. ``("model.generator resnet_9blocks",
            GENERATORS.get("resnet_9blocks"), {})``; the builders declare their sides with
            :func:`keras_i2i.networks.registry.input_sides`.
    """
    side = data.crop_size
    rules = [(label, *input_side_rule(builder, **kwargs)) for label, builder, kwargs in networks]
    failing = [label for label, multiple, minimum in rules if side % multiple or side < minimum]
    if not failing:
        return
    multiple = math.lcm(*(m for _, m, _ in rules))
    minimum = max(n for _, _, n in rules)
    example = max(multiple * math.ceil(side / multiple), multiple * math.ceil(minimum / multiple))
    rule = ([f"a multiple of {multiple}"] if multiple > 1 else []) + ([f"at least {minimum}"] if minimum > multiple else [])
    raise ConfigError(f"data.crop_size: {side} does not fit {' and '.join(failing)}; it must be {' and '.join(rule)} "
                      f"(e.g. {example}).")


def build_model(model_config, image_size: int, seed: int = 0, domains=None) -> "TranslationModel":
    """Instantiate the registered model named by ``model_config.name`` for the data's
    ``domains`` (names in id order; default ``("a", "b")``)."""
    cls = MODELS.get(model_config.name)
    return cls(model_config, image_size=image_size, seed=seed, domains=domains)


class TranslationModel(keras.Model):
    """Base class: a ``keras.Model`` with players, optimizers and translators.

    Args:
        config: the model's config dataclass (or a dict of its fields).
        image_size: training crop size (height = width).
        seed: seed for the model's own random draws (e.g. the image pool).
        domains: the names of the data's domains in id order (label ``i`` is
            ``domains[i]``); default ``("a", "b")``. Two-domain models need two.
    """

    config_class: ClassVar[type]
    registered_name: ClassVar[str]
    dataset_kind: ClassVar[str] = "unpaired"

    #: how many domains the model translates between (None: any number, at least two)
    num_domains: ClassVar[Optional[int]] = 2

    def __init__(self, config, image_size: int = 256, seed: int = 0, domains=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = self.config_class(**config)
        self.config = config
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.domains = tuple(domains) if domains else ("a", "b")
        wanted = self.num_domains
        if (wanted is not None and len(self.domains) != wanted) or len(self.domains) < 2:
            raise ConfigError(
                f"model.name {self.registered_name} translates between {wanted or 'at least two'} domains; the data "
                f"has {len(self.domains)} ({', '.join(self.domains)}). Choose them with data.domains.NAME=FOLDER."
            )

    # -- what subclasses provide ----------------------------------------------------
    def directions(self) -> dict[str, Direction]:
        """The model's directions by name (see :mod:`keras_i2i.directions`); ``translators()``
        has one translator under each of these names."""
        raise NotImplementedError

    def translators(self) -> dict[str, keras.Model]:
        raise NotImplementedError

    def make_optimizers(self, learning_rate, beta1: float, beta2: float) -> dict[str, keras.optimizers.Optimizer]:
        raise NotImplementedError

    def variables_for(self, optimizer_name: str) -> list:
        raise NotImplementedError

    def sample(self, batch) -> dict[str, tf.Tensor]:
        """Named image tensors for sample grids (``real_a``, ``fake_b`` ...)."""
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------------------
    def compile(self, learning_rate=2e-4, beta1: float = 0.5, beta2: float = 0.999, loss_scale: bool = False,
                jit_compile: bool = False):
        """Create (and build) one optimizer per player. Call inside the strategy scope."""
        super().compile(optimizer=None, jit_compile=jit_compile)
        opts = self.make_optimizers(learning_rate, beta1, beta2)
        if loss_scale:
            opts = {k: keras.optimizers.LossScaleOptimizer(v, name=f"{k}_loss_scale") for k, v in opts.items()}
        self._optimizers = opts
        for name, opt in opts.items():
            setattr(self, f"opt_{name}", opt)
            opt.build(self.variables_for(name))

    def optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        return dict(self._optimizers)

    @property
    def step(self):
        """Training steps taken (the first optimizer's iteration count)."""
        return next(iter(self._optimizers.values())).iterations

    def scaled_loss(self, name: str, loss):
        """The loss to differentiate for player ``name`` (call inside the tape): the
        replica's mean loss divided by the number of replicas, so that the gradients
        summed over replicas are those of the global-batch mean whatever the number of
        replicas, then multiplied by the loss scale under float16."""
        replicas = tf.distribute.get_replica_context()
        n = replicas.num_replicas_in_sync if replicas is not None else 1
        return self._optimizers[name].scale_loss(loss / n)

    def apply_gradients(self, name: str, tape: tf.GradientTape, scaled_loss, when=None):
        """Differentiate ``scaled_loss`` (from :meth:`scaled_loss`) and update player ``name``.

        ``when``: an optional boolean scalar, the same on every replica (reduce it across
        replicas first). Where it is false the update is skipped altogether: weights,
        optimizer moments and the player's iteration count stay as they were (a
        gradient multiplied by zero would still move Adam's weights through its
        momentum).
        """
        variables = self.variables_for(name)
        grads = tape.gradient(scaled_loss, variables)
        optimizer = self._optimizers[name]
        if when is None:
            optimizer.apply(grads, variables)
            return
        _apply_when(optimizer, grads, variables, when)

    def get_config(self):
        return {"config": dataclasses.asdict(self.config), "image_size": self.image_size, "seed": self.seed,
                "domains": list(self.domains)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _apply_when(optimizer, grads, variables, when):
    """``optimizer.apply(grads, variables)`` only where ``when`` is true.

    Strategies that synchronize through ``merge_call`` (MirroredStrategy) cannot run it
    inside a ``cond`` built in a replica context, so the ``cond`` is built in the
    cross-replica context and applies the update on each replica from there, as
    ``keras.optimizers.LossScaleOptimizer`` does to skip non-finite steps.
    """

    def update(g):
        optimizer.apply(g, variables)

    if tf.distribute.in_cross_replica_context():
        raise ValueError("apply_gradients(when=...) must be called in a replica context (inside train_step).")
    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        def apply_here():
            update(grads)
            return tf.constant(True)

        tf.cond(when, apply_here, lambda: tf.constant(False))
        return

    def cross_replica(distribution, grads, when):
        flag = distribution.experimental_local_results(when)[0]

        def apply_on_replicas():
            distribution.extended.call_for_each_replica(update, args=(grads,))
            return tf.constant(True)

        tf.cond(flag, apply_on_replicas, lambda: tf.constant(False))

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(grads, when))
