"""Learning-rate schedules (step-based, so the position is the optimizer's iteration count)."""

from __future__ import annotations

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
