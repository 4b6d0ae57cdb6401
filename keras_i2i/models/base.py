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
- two-stage training switches on ``self.step`` inside ``train_step``: an explicit
  counter of train steps (optimizer updates), checkpointed by the trainer, counted by
  the base class around every subclass's ``train_step``;
- per-player optimizer settings (``train.optimizers``), gradient accumulation
  (``train.accumulate``, through :meth:`TranslationModel.update`) and an EMA copy of the
  generator weights (``train.ema_decay``) are the base class's, not each model's;
- ``dataset_kind`` tells the trainer which batches to feed (``"unpaired"``:
  ``(real_a, real_b)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import threading
from typing import Callable, ClassVar, Optional

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


def build_model(model_config, image_size: int, seed: int = 0, domains=None,
                ema_decay: Optional[float] = None, ema_start: int = 0) -> "TranslationModel":
    """Instantiate the registered model named by ``model_config.name`` for the data's
    ``domains`` (names in id order; default ``("a", "b")``); with ``ema_decay``, with an
    EMA copy of its generator weights starting at ``ema_start``
    (:meth:`TranslationModel.enable_ema`)."""
    cls = MODELS.get(model_config.name)
    model = cls(model_config, image_size=image_size, seed=seed, domains=domains)
    if ema_decay:
        model.enable_ema(ema_decay, start=ema_start)
    return model


#: Adam's settings a player gets unless ``train.optimizers.<player>`` says otherwise
#: (``learning_rate``, ``beta1`` and ``beta2`` come from ``compile``'s arguments).
OPTIMIZER_DEFAULTS = {"epsilon": 1e-7, "weight_decay": 0.0}


def make_optimizer(name: str, learning_rate, beta1: float, beta2: float, epsilon: float = 1e-7,
                   weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """Adam, or AdamW (decoupled weight decay) where ``weight_decay`` > 0, named
    ``adam_<name>`` / ``adamw_<name>``."""
    if weight_decay and weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, beta_1=beta1, beta_2=beta2,
                                      epsilon=epsilon, name=f"adamw_{name}")
    return keras.optimizers.Adam(learning_rate, beta_1=beta1, beta_2=beta2, epsilon=epsilon, name=f"adam_{name}")


class AtModelStep(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` evaluated at the model's step counter rather than at the optimizer's
    iteration count (which float16 loss scaling holds back on the steps it skips).

    Args:
        schedule: a ``LearningRateSchedule``.
        step: the model's step variable.
    """

    def __init__(self, schedule, step):
        self.schedule = schedule
        self.step = step

    def __call__(self, iterations):
        return self.schedule(self.step)

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule)}


class _Held:
    """Holds training state (the step counter, the EMA weights) on the model without
    making it one of the model's checkpoint dependencies: the trainer checkpoints it
    beside the model (``step``, ``ema``), so a checkpoint written before it existed still
    restores exactly and the missing part is filled in (:meth:`TranslationModel.fill_missing_state`)."""

    def __init__(self, value, variables=None):
        self.value = value
        self.variables = variables


_TRAIN_STEPS = threading.local()


def _counting_steps(train_step):
    """``train_step`` followed by the base class's bookkeeping (step counter, EMA), once
    per call from ``fit`` (a subclass calling ``super().train_step`` is counted once)."""

    @functools.wraps(train_step)
    def wrapped(self, data):
        inside = _TRAIN_STEPS.__dict__.setdefault("models", set())  # per thread: replicas trace in threads
        if id(self) in inside:
            return train_step(self, data)
        inside.add(id(self))
        try:
            logs = train_step(self, data)
        finally:
            inside.discard(id(self))
        self._end_step()
        return logs

    wrapped._counts_steps = True
    return wrapped


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
    #: the players (``"gen"``, ``"disc"`` ...), each with its own optimizer over
    #: :meth:`variables_for` and its own ``train.optimizers.<player>`` settings
    players: ClassVar[tuple[str, ...]] = ()
    #: whether ``train_step`` updates its players through :meth:`update` (which splits the
    #: batch for ``train.accumulate``)
    accumulates: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("train_step")
        if step is not None and not getattr(step, "_counts_steps", False):
            cls.train_step = _counting_steps(step)

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
        self.accumulate = 1
        self._step_held = self._ema_held = None
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

    def variables_for(self, optimizer_name: str) -> list:
        raise NotImplementedError

    def sample(self, batch) -> dict[str, tf.Tensor]:
        """Named image tensors for sample grids (``real_a``, ``fake_b`` ...)."""
        raise NotImplementedError

    def prepare(self, dataset) -> None:
        """Called by the trainer once before step 0 of a new run (never on ``--resume``),
        after ``init_from``, with the training stream (``tf.data``, batches as
        ``dataset_kind`` says): measure what the model needs from the data, e.g. feature
        statistics held in non-trainable, checkpointed weights. Default: nothing."""

    # -- shared machinery -------------------------------------------------------------
    def make_optimizers(self, settings: dict[str, dict]) -> dict[str, keras.optimizers.Optimizer]:
        """One optimizer per player from its resolved ``settings`` (the keyword arguments
        of :func:`make_optimizer`)."""
        return {name: make_optimizer(name, **settings[name]) for name in self.players}

    def compile(self, learning_rate=2e-4, beta1: float = 0.5, beta2: float = 0.999, loss_scale: bool = False,
                jit_compile: bool = False, optimizers: Optional[dict[str, dict]] = None, accumulate: int = 1):
        """Create (and build) one optimizer per player, and the step counter. Call inside
        the strategy scope.

        Args:
            learning_rate, beta1, beta2: every player's Adam settings unless ``optimizers``
                says otherwise (a float or a schedule).
            loss_scale: wrap each optimizer in a ``LossScaleOptimizer`` (float16).
            jit_compile: compile the train step with XLA.
            optimizers: ``{player: {learning_rate, beta1, beta2, epsilon, weight_decay}}``,
                any subset of players and keys (``train.optimizers``); an unknown player is
                a :class:`~keras_i2i.config.ConfigError` listing the model's players.
            accumulate: micro-batches each train step's batch is split into (see :meth:`update`).
        """
        super().compile(optimizer=None, jit_compile=jit_compile)
        optimizers = dict(optimizers or {})
        unknown = sorted(set(optimizers) - set(self.players))
        if unknown:
            raise ConfigError(f"train.optimizers.{unknown[0]}: model {self.registered_name} has no player "
                              f"{unknown[0]!r}; its players are {', '.join(self.players) or '(none)'}.")
        if accumulate > 1 and not self.accumulates:
            raise ConfigError(f"train.accumulate: model {self.registered_name} does not split its batch into "
                              "micro-batches; set train.accumulate=1.")
        if self._step_held is None:
            self._step_held = _Held(keras.Variable(0, dtype="int64", trainable=False, name="step",
                                                   aggregation="only_first_replica"))
        base = {"learning_rate": learning_rate, "beta1": beta1, "beta2": beta2, **OPTIMIZER_DEFAULTS}
        settings = {name: {**base, **optimizers.get(name, {})} for name in self.players}
        for player in settings.values():  # schedules follow the model's step, not an optimizer's iterations
            if isinstance(player["learning_rate"], keras.optimizers.schedules.LearningRateSchedule):
                player["learning_rate"] = AtModelStep(player["learning_rate"], self.step)
        opts = self.make_optimizers(settings)
        if loss_scale:
            opts = {k: keras.optimizers.LossScaleOptimizer(v, name=f"{k}_loss_scale") for k, v in opts.items()}
        self._optimizers = opts
        self.accumulate = int(accumulate)
        for name, opt in opts.items():
            setattr(self, f"opt_{name}", opt)
            opt.build(self.variables_for(name))

    def optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        return dict(self._optimizers)

    @property
    def step(self):
        """Training steps taken: an int64 variable, one per ``train_step`` (an update of
        every player, whether or not float16 loss scaling skipped it), checkpointed by
        the trainer as ``step``."""
        if self._step_held is None:
            raise ValueError("The model has no step counter before compile().")
        return self._step_held.value

    def checkpoint_state(self) -> dict:
        """The training state the trainer checkpoints beside the model and its
        optimizers: ``step`` and, with EMA, ``ema``."""
        state = {}
        if self._step_held is not None:
            state["step"] = self._step_held.value
        if self._ema_held is not None:
            state["ema"] = self._ema_held.value
        return state

    def fill_missing_state(self, missing) -> None:
        """After restoring a checkpoint that lacks parts of :meth:`checkpoint_state`
        (written before they existed): a missing ``step`` is the first optimizer's
        iteration count (those runs counted steps that way); a missing ``ema`` starts
        from the restored generator weights."""
        if "step" in missing:
            self.step.assign(next(iter(self._optimizers.values())).iterations)
        if "ema" in missing and self._ema_held is not None:
            for shadow, variable in zip(self._ema_held.value.shadows, self._ema_held.variables):
                shadow.assign(variable)

    def _end_step(self):
        """Bookkeeping after every train step: the EMA, then the step counter."""
        if self._ema_held is not None:
            self._ema_held.value.update(self._ema_held.variables, self.step)
        if self._step_held is not None:
            self.step.assign_add(1)

    # -- generator EMA ------------------------------------------------------------------
    def ema_variables(self) -> list:
        """The weights the EMA follows: the trainable variables of the translators'
        networks (the generator), in a fixed order."""
        seen, variables = set(), []
        for translator in self.translators().values():
            for v in translator.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    variables.append(v)
        return variables

    def enable_ema(self, decay: float, start: int = 0) -> None:
        """Keep an exponential moving average of the generator weights, updated after
        every train step: ``ema = decay * ema + (1 - decay) * weights`` (the first step
        copies the weights, so a sub-network loaded before step 0 starts it; so do the
        steps below ``start``, see :class:`EMAWeights`). Call inside the strategy scope,
        before compile."""
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.ema_decay: {decay!r} must be between 0 and 1 (e.g. 0.999), or null for no EMA.")
        variables = self.ema_variables()
        self._ema_held = _Held(EMAWeights(variables, decay, start), variables)

    @property
    def ema_decay(self) -> Optional[float]:
        return None if self._ema_held is None else self._ema_held.value.decay

    @contextlib.contextmanager
    def ema_weights(self):
        """Within the block the generator holds its EMA weights (sample grids, evaluation,
        test translations during training); they are put back after. Without EMA, nothing
        changes."""
        if self._ema_held is None:
            yield self
            return
        variables = self._ema_held.variables
        live = [tf.identity(v) for v in variables]
        for v, shadow in zip(variables, self._ema_held.value.shadows):
            v.assign(shadow)
        try:
            yield self
        finally:
            for v, value in zip(variables, live):
                v.assign(value)

    def use_ema_weights(self) -> None:
        """Copy the EMA weights into the generator for good (a model loaded for inference:
        its ``translators()`` then translate with them)."""
        if self._ema_held is not None:
            for v, shadow in zip(self._ema_held.variables, self._ema_held.value.shadows):
                v.assign(shadow)

    # -- gradient accumulation ----------------------------------------------------------
    def update(self, name, losses: Callable, *batch, when=None) -> dict:
        """Update player ``name`` once with the gradient of ``losses(*batch)["loss"]``.

        With ``accumulate`` k > 1 the batch is split into k equal micro-batches along the
        first axis; the gradients of the micro-batch losses, each divided by k, are summed
        and applied once: for a loss that is a batch mean, the update of the whole batch,
        holding only one micro-batch's activations at a time. Sparse gradients (an
        embedding's ``IndexedSlices``) are made dense. ``losses`` returns a dict
        with the player's ``loss`` and any other tensors: scalars come back averaged over
        the micro-batches, batched tensors concatenated in order.

        Args:
            name: the player, or a tuple of players that the one loss updates (one forward
                pass per micro-batch; each player's own optimizer and loss scale).
            losses: micro-batch tensors -> dict with ``loss``.
            *batch: tensors with the batch on the first axis.
            when: optional boolean scalar, or a callable of the merged outputs giving one
                (the same on every replica): the update happens only where it is true
                (see :meth:`apply_gradients`); with several players, a dict of them by
                player (players not in it always update).
        """
        k = self.accumulate
        names = (name,) if isinstance(name, str) else tuple(name)
        variables = {n: self.variables_for(n) for n in names}
        parts = [tf.split(x, k, axis=0) for x in batch] if k > 1 else [[x] for x in batch]
        totals, outputs = {n: None for n in names}, []
        for i in range(k):
            with tf.GradientTape(persistent=len(names) > 1) as tape:
                out = losses(*(p[i] for p in parts))
                scaled = {n: self.scaled_loss(n, out["loss"] / k if k > 1 else out["loss"]) for n in names}
            for n in names:
                grads = tape.gradient(scaled[n], variables[n])
                # A gather's (an embedding's) IndexedSlices, dense: they add up across micro-batches, and
                # Adam squares the summed gradient of a repeated row (Keras squares each slice).
                grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
                total = totals[n]
                totals[n] = grads if total is None else [g if t is None else (t if g is None else t + g)
                                                         for t, g in zip(total, grads)]
            del tape
            outputs.append(out)
        merged = _merge(outputs)
        for n in names:
            condition = when.get(n) if isinstance(when, dict) else when
            if callable(condition):
                condition = condition(merged)
            optimizer = self._optimizers[n]
            if condition is None:
                optimizer.apply(totals[n], variables[n])
            else:
                _apply_when(optimizer, totals[n], variables[n], condition)
        return merged

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


def _merge(outputs: list[dict]) -> dict:
    """The outputs of :meth:`TranslationModel.update`'s micro-batches as one: scalars
    averaged, batched tensors concatenated."""
    if len(outputs) == 1:
        return outputs[0]
    merged = {}
    for key, first in outputs[0].items():
        values = [o[key] for o in outputs]
        if len(first.shape) == 0:
            merged[key] = tf.add_n([tf.cast(v, "float32") for v in values]) / len(values)
        else:
            merged[key] = tf.concat(values, axis=0)
    return merged


class EMAWeights(tf.Module):
    """Shadow copies of ``variables`` kept as their exponential moving average.

    Each shadow is float32, non-trainable and aggregated from the first replica (every
    replica computes the same average from mirrored weights).

    Args:
        variables: the weights to follow.
        decay: the average's decay (0.999: about the last thousand steps).
        start: BigGAN-PyTorch's ``ema_start``: after the steps numbered (from 1) below it
            the shadows are copies of the weights; from step ``start`` on they average
            (0 or 1: from step 2, the first step always copies).
    """

    def __init__(self, variables, decay: float, start: int = 0):
        super().__init__(name="ema")
        self.decay = float(decay)
        self.start = int(start)
        self.shadows = [
            tf.Variable(tf.cast(v, "float32"), trainable=False, name=v.name.replace(":", "_") + "_ema",
                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            for v in variables
        ]

    def update(self, variables, step):
        """One step of the average after the step counted ``step`` (from 0); at step 0 and
        before ``start`` the shadows become the weights."""
        copy = tf.logical_or(tf.equal(step, 0), step + 1 < self.start)
        rate = tf.where(copy, 1.0, 1.0 - self.decay)
        for shadow, v in zip(self.shadows, variables):
            shadow.assign_sub(rate * (shadow - tf.cast(v, "float32")))
