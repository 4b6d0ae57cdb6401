"""Learning-rate schedules (step-based, so the position is the optimizer's iteration count)."""

from __future__ import annotations

import dataclasses

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_i2i")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant for ``n_epochs`` epochs, then linear decay over ``n_epochs_decay`` epochs,
    the CycleGAN reference's ``linear`` policy: during 0-based epoch ``e`` the rate is
    ``lr * (1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1))`` (never below 0).

    Args:
        initial_learning_rate: the constant rate.
        steps_per_epoch: optimizer steps in one epoch.
        n_epochs: epochs at the constant rate.
        n_epochs_decay: epochs of linear decay.
    """

    def __init__(self, initial_learning_rate: float, steps_per_epoch: int, n_epochs: int, n_epochs_decay: int):
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.n_epochs = int(n_epochs)
        self.n_epochs_decay = int(n_epochs_decay)

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / float(self.steps_per_epoch))
        decayed = ops.maximum(0.0, epoch + 1.0 - float(self.n_epochs)) / float(self.n_epochs_decay + 1)
        return self.initial_learning_rate * ops.maximum(0.0, 1.0 - decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "n_epochs": self.n_epochs,
            "n_epochs_decay": self.n_epochs_decay,
        }


def make_schedule(train, steps_per_epoch: int):
    """The learning rate (or schedule) for a ``TrainConfig``."""
    if train.lr_policy == "constant":
        return train.lr
    return LinearDecay(train.lr, steps_per_epoch, train.n_epochs, train.n_epochs_decay)


def optimizer_settings(train, steps_per_epoch: int) -> dict[str, dict]:
    """``train.optimizers`` as the model's ``compile(optimizers=...)`` takes it: per player,
    only the keys it sets (``learning_rate`` a rate or schedule from its ``lr`` and
    ``lr_policy``, falling back to ``train.lr`` and ``train.lr_policy``; ``beta1``,
    ``beta2``, ``epsilon``, ``weight_decay``). The rest come from the train-wide values."""
    settings = {}
    for player, opt in (train.optimizers or {}).items():
        mine = {k: v for k, v in (("beta1", opt.beta1), ("beta2", opt.beta2), ("epsilon", opt.epsilon),
                                  ("weight_decay", opt.weight_decay)) if v is not None}
        if opt.lr is not None or opt.lr_policy is not None:
            own = dataclasses.replace(train, lr=train.lr if opt.lr is None else opt.lr,
                                      lr_policy=opt.lr_policy or train.lr_policy)
            mine["learning_rate"] = make_schedule(own, steps_per_epoch)
        settings[player] = mine
    return settings
