"""Keras callbacks the trainer attaches: checkpoints, divergence guard, step limit,
JSON-lines/TensorBoard logs and sample grids.

Steps are the model's own counter (``model.step``), so logs and checkpoints of a
resumed run continue where they were instead of restarting at zero.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_i2i.utils import unit_to_pixels


def _step(model) -> int:
    return int(model.step.numpy())


def _ema_weights(model):
    """``model.ema_weights()`` (the EMA generator within the block, with ``train.ema_decay``)."""
    swap = getattr(model, "ema_weights", None)
    return swap() if swap is not None else contextlib.nullcontext()


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or Inf loss and remembers which loss and step."""

    def __init__(self):
        super().__init__()
        self.diverged: tuple[str, int] | None = None

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                self.diverged = (name, _step(self.model))
                self.model.stop_training = True
                return


class StepLimit(keras.callbacks.Callback):
    """Stops training once ``model.step`` reaches ``max_steps``."""

    def __init__(self, max_steps: int):
        super().__init__()
        self.max_steps = int(max_steps)

    def on_train_batch_end(self, batch, logs=None):
        if _step(self.model) >= self.max_steps:
            self.model.stop_training = True


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves a ``tf.train.CheckpointManager`` checkpoint every ``every`` steps and at the
    end of training, never after a divergence. TensorFlow writes the checkpoint files
    first and the ``checkpoint`` index last (atomically), so a run killed mid-save
    resumes from the previous checkpoint."""

    def __init__(self, manager: tf.train.CheckpointManager, every: int, guard: DivergenceGuard):
        super().__init__()
        self.manager = manager
        self.every = max(1, int(every))
        self.guard = guard
        self.last_saved = -1

    def save(self):
        if self.guard.diverged is not None:
            return
        step = _step(self.model)
        if step != self.last_saved:
            self.manager.save(checkpoint_number=step)
            self.last_saved = step

    def on_train_batch_end(self, batch, logs=None):
        if self.guard.diverged is None and _step(self.model) % self.every == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()


class RunLogger(keras.callbacks.Callback):
    """Appends losses to ``metrics.jsonl`` and writes TensorBoard scalars every
    ``every`` steps and at each epoch end (the values are the epoch's running means)."""

    def __init__(self, run_dir: Path, every: int, writer):
        super().__init__()
        self.path = Path(run_dir) / "metrics.jsonl"
        self.every = max(1, int(every))
        self.writer = writer
        self.epoch = 0
        self.start = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _write(self, logs, kind):
        step = _step(self.model)
        values = {k: float(v) for k, v in (logs or {}).items()}
        record = {"kind": kind, "step": step, "epoch": self.epoch + 1, "time": round(time.time() - self.start, 3), **values}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(f"train/{name}", value)
            lr = self._learning_rate(step)
            if lr is not None:
                tf.summary.scalar("train/learning_rate", lr)

    def _learning_rate(self, step):
        opt = next(iter(self.model.optimizers().values()))
        lr = getattr(opt, "_learning_rate", None)
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            return float(lr(step))
        return float(opt.learning_rate.numpy())

    def on_train_batch_end(self, batch, logs=None):
        if _step(self.model) % self.every == 0:
            self._write(logs, "step")

    def on_epoch_end(self, epoch, logs=None):
        self._write(logs, "epoch")
        self.writer.flush()


LABEL_HEIGHT = 12  # pixels of the header strip that names each column


def column_labels(names, width: int) -> np.ndarray:
    """A white ``(LABEL_HEIGHT, width * len(names), 3)`` uint8 strip with each name drawn
    in black over its column (Pillow's built-in bitmap font, cut to the column's width)."""
    from PIL import ImageDraw, ImageFont

    strip = Image.new("RGB", (width * len(names), LABEL_HEIGHT), "white")
    draw, font = ImageDraw.Draw(strip), ImageFont.load_default()
    for i, name in enumerate(names):
        text = str(name)
        while text and draw.textlength(text, font=font) > width - 2:
            text = text[:-1]
        draw.text((i * width + 1, 0), text, fill="black", font=font)
    return np.asarray(strip)


def image_grid(named: dict[str, np.ndarray], labels: bool = True) -> np.ndarray:
    """Rows = samples, columns = the named images, as uint8 (H*n, W*k, 3); with
    ``labels``, a header strip names each column."""
    columns = [unit_to_pixels(v) for v in named.values()]
    rows = [np.concatenate([col[i] for col in columns], axis=1) for i in range(columns[0].shape[0])]
    if labels:
        rows.insert(0, column_labels(list(named), columns[0].shape[2]))
    return np.concatenate(rows, axis=0)


class SampleGrids(keras.callbacks.Callback):
    """Translates a fixed batch every ``every`` epochs: a PNG grid in ``samples/`` (a
    column per named image, labelled in a header strip) and TensorBoard images
    (``real_a``, ``fake_b``, ``rec_a``, ``idt_b`` and the B side)."""

    def __init__(self, run_dir: Path, batch, every: int, writer):
        super().__init__()
        self.dir = Path(run_dir) / "samples"
        self.batch = batch
        self.every = max(1, int(every))
        self.writer = writer

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self.write(epoch)

    def write(self, epoch):
        step = _step(self.model)
        with _ema_weights(self.model):
            named = {k: np.asarray(v) for k, v in self.model.sample(self.batch).items()}
        grid = image_grid(named)
        self.dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(self.dir / f"epoch{epoch + 1:04d}_step{step:07d}.png")
        with self.writer.as_default(step=step):
            for name, images in named.items():
                tf.summary.image(f"samples/{name}", (images + 1.0) / 2.0, max_outputs=len(images))
            tf.summary.image("samples/grid", grid[None].astype(np.float32) / 255.0)


class PeriodicEvaluation(keras.callbacks.Callback):
    """Every ``every`` epochs and after the last step (``total_steps``), unless ``guard``
    saw a divergence, runs ``evaluate(model)`` (anything returning an object with ``flat()``, a
    dict such as ``{"a2b/fid": ...}``), appends the values to ``metrics.jsonl`` (kind
    ``eval``) and TensorBoard (``eval/...``), and with ``keep`` keeps the checkpoint of
    the best value of that key in ``best_manager`` and ``best.json`` beside it.

    Args:
        evaluate: model -> result with ``flat()``.
        every: epochs between evaluations.
        run_dir: the run directory (``metrics.jsonl``).
        writer: a TensorBoard summary writer.
        keep: the key to keep the best checkpoint by (``"mean/fid"``), or None.
        higher_is_better: which way ``keep`` improves.
        best_manager: a ``tf.train.CheckpointManager`` for the best checkpoint.
        total_steps: the last step of training.
        guard: the :class:`DivergenceGuard`.
    """

    def __init__(self, evaluate, every: int, run_dir: Path, writer, keep: str | None = None,
                 higher_is_better: bool = False, best_manager: tf.train.CheckpointManager | None = None,
                 total_steps: int | None = None, guard: DivergenceGuard | None = None):
        super().__init__()
        self.evaluate = evaluate
        self.every = max(1, int(every))
        self.total_steps = total_steps if total_steps is not None else float("inf")
        self.guard = guard
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = writer
        self.keep = keep
        self.higher_is_better = higher_is_better
        self.best_manager = best_manager
        self.best_json = Path(best_manager.directory) / "best.json" if best_manager is not None else None
        self.best = None
        if self.best_json is not None and self.best_json.is_file():  # a resumed run keeps its best so far
            previous = json.loads(self.best_json.read_text())
            if previous.get("metric") == keep:
                self.best = previous.get("value")
        self.last_step = -1

    def _better(self, value) -> bool:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.higher_is_better else value < self.best

    def run(self, epoch: int):
        step = _step(self.model)
        if step == self.last_step:
            return
        self.last_step = step
        start = time.time()
        with _ema_weights(self.model):
            values = self.evaluate(self.model).flat()
        record = {"kind": "eval", "step": step, "epoch": epoch + 1, "seconds": round(time.time() - start, 3), **values}
        with self.writer.as_default(step=step):
            for name, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    tf.summary.scalar(f"eval/{name}", value)
        if self.keep is not None:
            value = values.get(self.keep)
            if value is None:
                logging.getLogger(__name__).warning("The evaluation at step %d has no value for %s; keys: %s", step,
                                                    self.keep, ", ".join(values))
            if self._better(value):
                self.best = value
                path = self.best_manager.save(checkpoint_number=step)
                from keras_i2i.utils import atomic_write_text

                atomic_write_text(self.best_json, json.dumps(
                    {"metric": self.keep, "value": value, "step": step, "epoch": epoch + 1, "checkpoint": path}, indent=2))
                record["best"] = True
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.diverged is not None:
            return
        if (epoch + 1) % self.every == 0 or _step(self.model) >= self.total_steps:
            self.run(epoch)
