"""How the trainer splits training into ``fit`` calls: the progress bar's count
(``steps_per_epoch``) of every epoch is the number of steps it really runs."""

from __future__ import annotations

import pytest

from keras_i2i.training.trainer import Trainer


class _Step:
    def __init__(self):
        self.value = 0

    def numpy(self):
        return self.value


class FakeModel:
    """Records ``fit`` calls and advances its step as a real fit would."""

    def __init__(self, start: int):
        self.step = _Step()
        self.step.value = start
        self.stop_training = False
        self.calls = []

    def fit(self, dataset, initial_epoch, epochs, steps_per_epoch, **kwargs):
        self.calls.append((initial_epoch, epochs, steps_per_epoch))
        self.step.value += (epochs - initial_epoch) * steps_per_epoch


class FakeData:
    def dataset(self, start):
        return start


@pytest.mark.parametrize("start, total, spe, calls", [
    (0, 2, 140, [(0, 1, 2)]),                              # max_steps inside the first epoch: 2/2, not 140/140
    (0, 280, 140, [(0, 2, 140)]),                          # whole epochs: one fit
    (0, 300, 140, [(0, 2, 140), (2, 3, 20)]),              # two whole epochs, then a last one of 20 steps
    (150, 300, 140, [(1, 2, 130), (2, 3, 20)]),            # resumed inside epoch 1
    (150, 200, 140, [(1, 2, 50)]),                         # resumed, and ending inside the same epoch
    (300, 300, 140, []),                                   # nothing left
])
def test_every_epoch_counts_the_steps_it_runs(start, total, spe, calls):
    trainer = Trainer.__new__(Trainer)
    trainer.chief, trainer.verbose = True, 0
    model = FakeModel(start)
    trainer._fit(model, FakeData(), start, total, spe, callbacks=[])
    assert model.calls == calls
    assert model.step.value == max(start, total)
