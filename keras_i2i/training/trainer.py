"""The trainer: everything around a model (strategy, precision, data, checkpoints,
resume, logs, the run directory). Models never read files or configs.

A run directory holds ``config.yaml`` (resolved), ``checkpoints/``,
``metrics.jsonl``, ``samples/``, ``logs/`` (TensorBoard), ``data_report.json`` and,
after training, ``test_results/<direction>/``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from keras_i2i.config import Config, dump_config
from keras_i2i.data.pipeline import sample_images
from keras_i2i.data.streams import LabelledData, make_stream
from keras_i2i.models import MODELS, build_model
from keras_i2i.runs import (  # noqa: F401  (CHECKPOINT_DIR, RunDirError and latest_checkpoint are used from here too)
    CHECKPOINT_DIR, RunDirError, absolute_data_paths, check_data_paths, latest_checkpoint, list_checkpoints,
    prepare_new_run_dir, restore_checkpoint, set_aside_newer,
)
from keras_i2i.training.callbacks import DivergenceGuard, PeriodicCheckpoint, RunLogger, SampleGrids, StepLimit
from keras_i2i.training.init_from import apply_init_from, check_frozen, check_sources, freeze
from keras_i2i.training.schedules import make_schedule, optimizer_settings
from keras_i2i.training.strategy import is_chief, make_strategy, set_precision, worker_id
from keras_i2i.utils import atomic_write_text

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    total_steps: int
    interrupted: bool = False
    skipped_files: int = 0


def checkpoint_for(model, without=()) -> tf.train.Checkpoint:
    """Everything a resumed run needs: all network weights, the image pools (model
    weights), every optimizer's state and iteration count (the LR schedule position),
    the step counter (``step``: the data position and all random draws follow from it)
    and, with EMA, the generator's average (``ema``); ``without`` leaves out parts of
    the latter two (a checkpoint written before they existed)."""
    state = {k: v for k, v in model.checkpoint_state().items() if k not in without}
    return tf.train.Checkpoint(model=model, **state, **{f"optimizer_{k}": v for k, v in model.optimizers().items()})


class Resumable:
    """What ``--resume`` restores: :func:`checkpoint_for` of ``model``, less the parts of
    ``model.checkpoint_state()`` the checkpoint does not have (saved before the step
    counter existed, or before ``train.ema_decay`` was set); :attr:`missing` names them,
    for ``model.fill_missing_state``. Every part it does restore must match exactly."""

    def __init__(self, model):
        self.model = model
        self.missing: tuple[str, ...] = ()

    def restore(self, prefix):
        saved = {name.split("/", 1)[0] for name, _ in tf.train.list_variables(prefix)}
        self.missing = tuple(k for k in self.model.checkpoint_state() if k not in saved)
        return checkpoint_for(self.model, without=self.missing).restore(prefix)


def _interrupt_on_sigterm():
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


class Trainer:
    """Trains ``cfg`` in ``run_dir`` (new, or resumed from its newest checkpoint that loads).

    A new run needs a folder that does not exist or is empty (:func:`keras_i2i.runs.check_new_run_dir`),
    checked before anything is built. The config is written with absolute data paths.

    Args:
        cfg: the resolved config.
        run_dir: the run directory.
        resume: continue from the newest checkpoint in ``run_dir`` that loads (newer ones
            that do not are moved to ``checkpoints/skipped-<time>/``, never deleted).
        strategy: overrides ``cfg.train.strategy``.
        verbose: Keras progress bar mode (``"auto"``, 0, 1, 2).
        overwrite: a new run in a folder that is not empty first moves it to
            ``<run_dir>.old-<time>`` (:func:`keras_i2i.runs.move_aside`).
    """

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False, strategy: str | None = None,
                 verbose="auto", overwrite: bool = False):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.verbose = verbose
        self.strategy = make_strategy(strategy or cfg.train.strategy)
        self.chief = is_chief(self.strategy)
        if resume:
            if not list_checkpoints(self.run_dir / CHECKPOINT_DIR):
                raise RunDirError(f"{self.run_dir} has no checkpoint to resume from.")
            check_data_paths(cfg, self.run_dir)
        elif not self.chief and latest_checkpoint(self.run_dir):  # the chief checks the whole folder below
            raise RunDirError(f"{self.run_dir} already holds a training run; continue it with --resume.")
        self.cfg = cfg = absolute_data_paths(cfg)  # config.yaml works from any folder
        if cfg.train.eval_every or cfg.train.keep_best:
            from keras_i2i.metrics.runs import check_train_eval

            check_train_eval(cfg.train, multiworker=isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy))
        # model.init_from's runs and files exist (a resumed run never applies it again)
        self.init_sources = {} if resume else check_sources(cfg.model)
        if not resume and self.chief:  # last: the only check that may change the folder (--overwrite)
            prepare_new_run_dir(self.run_dir, overwrite=overwrite)

    def run(self) -> TrainResult:
        cfg, strategy = self.cfg, self.strategy
        if cfg.train.deterministic:
            tf.config.experimental.enable_op_determinism()
        policy = set_precision(cfg.train.precision)
        replicas = strategy.num_replicas_in_sync
        global_batch = cfg.train.batch_size * replicas * cfg.train.accumulate  # one step, one update
        kind = MODELS.get(cfg.model.name).dataset_kind
        data = make_stream(kind, cfg.data, global_batch, seed=cfg.train.seed)
        self.cfg = cfg = self._record_domains(cfg, [d.name for d in data.domains])
        spe = data.steps_per_epoch
        scheduled = spe * (cfg.train.n_epochs + cfg.train.n_epochs_decay)
        total_steps = cfg.train.max_steps or scheduled
        if total_steps > scheduled and cfg.train.lr_policy == "linear":
            logger.warning("train.max_steps (%d) is past the end of the learning-rate decay (%d steps = %d epochs): "
                           "the rate is 0 after that. Raise train.n_epochs/n_epochs_decay.", total_steps, scheduled,
                           cfg.train.n_epochs + cfg.train.n_epochs_decay)
        logger.info(
            "%s: %s images, %d replica(s), global batch %d, %d steps/epoch, %d steps, policy %s",
            cfg.name, " + ".join(f"{len(f)} {d.name}" for d, f in zip(data.domains, data.folders)), replicas,
            global_batch, spe, total_steps, policy,
        )

        keras.utils.set_random_seed(cfg.train.seed)
        with strategy.scope():
            model = build_model(cfg.model, image_size=cfg.data.crop_size, seed=cfg.train.seed,
                                domains=cfg.data.domain_names, ema_decay=cfg.train.ema_decay,
                                ema_start=cfg.train.ema_start)
            frozen = getattr(cfg.model, "frozen", ())
            freeze(model, frozen)  # before compile: no optimizer keeps state for a frozen sub-network
            model.compile(
                make_schedule(cfg.train, spe), cfg.train.beta1, cfg.train.beta2,
                loss_scale=policy == "mixed_float16", jit_compile=cfg.train.jit_compile,
                optimizers=optimizer_settings(cfg.train, spe), accumulate=cfg.train.accumulate,
            )
        check_frozen(model, frozen)
        checkpoint = checkpoint_for(model)
        ckpt_dir = self.run_dir / CHECKPOINT_DIR
        if self.resume:
            resumable = Resumable(model)
            path = restore_checkpoint(resumable, ckpt_dir, exact=True)
            if resumable.missing:  # saved before the step counter (or with no EMA): fill them in
                model.fill_missing_state(resumable.missing)
                logger.info("%s has no %s; filled in (the step from the optimizer's iterations, the EMA from "
                            "the weights).", path, " or ".join(resumable.missing))
            logger.info("Resumed from %s at step %d", path, int(model.step.numpy()))
        elif hasattr(cfg.model, "init_from"):  # before step 0; what was loaded (or nothing) goes into config.yaml
            record = apply_init_from(model, cfg.model.init_from, self.init_sources,
                                     class_map=getattr(cfg.model, "init_from_class_map", None))
            self.cfg = cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from_record=record))
        if not self.resume:  # what the model measures on the data before step 0 (checkpointed)
            model.prepare(data.dataset(0))
        if self.chief:
            if self.resume:  # before the manager reads the index: a newer save that failed to load is kept
                set_aside_newer(ckpt_dir, path)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, self.run_dir / "config.yaml")
            atomic_write_text(self.run_dir / "data_report.json", json.dumps({
                "kind": kind,
                "domains": {d.name: {"id": d.id, "train": str(d.train), "test": str(d.test) if d.test else None,
                                     "images": len(f)} for d, f in zip(data.domains, data.folders)},
                "skipped": [{"file": str(p), "reason": r} for p, r in data.skipped],
            }, indent=2))
            manager = tf.train.CheckpointManager(checkpoint, str(ckpt_dir), max_to_keep=cfg.train.keep_checkpoints)
        else:  # every worker must take part in saving; the others keep only their latest
            manager_dir = self.run_dir / f"worker{worker_id(strategy)}"
            manager = tf.train.CheckpointManager(checkpoint, str(manager_dir), max_to_keep=1)

        guard = DivergenceGuard()
        saver = PeriodicCheckpoint(manager, cfg.train.checkpoint_every, guard)
        callbacks = [guard, StepLimit(total_steps), saver]
        if self.chief:
            writer = tf.summary.create_file_writer(str(self.run_dir / "logs"))
            samples = self._sample_batch(data)
            callbacks += [RunLogger(self.run_dir, cfg.train.log_every, writer), SampleGrids(self.run_dir, samples, cfg.train.sample_every, writer)]
            if cfg.train.eval_every:  # metrics every N epochs, the best checkpoint by train.keep_best
                from keras_i2i.metrics.runs import periodic_evaluation

                callbacks.append(periodic_evaluation(cfg, data.domains, checkpoint, self.run_dir, writer, total_steps, guard))

        start = int(model.step.numpy())
        interrupted = False
        previous = _interrupt_on_sigterm()
        try:
            self._fit(model, data, start, total_steps, spe, callbacks)
        except KeyboardInterrupt:
            interrupted = True
            if guard.diverged is None:
                saver.save()
            logger.warning("Interrupted at step %d; checkpoint saved. Resume with `keras-i2i train --resume %s`.",
                           int(model.step.numpy()), self.run_dir)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if guard.diverged is not None:
            name, step = guard.diverged
            raise TrainingDiverged(
                f"{name} became NaN/Inf at step {step}; training stopped. The last good checkpoint is "
                f"{latest_checkpoint(self.run_dir) or '(none yet)'}. Try a lower train.lr, or "
                "train.precision=fp32 if you trained in fp16."
            )
        step = int(model.step.numpy())
        if data.skipped:
            logger.warning("%d unreadable image file(s) were skipped (see data_report.json).", len(data.skipped))
        if self.chief and not interrupted and step >= total_steps and cfg.train.translate_test:
            self._translate_test(model, data)
        self.model = model
        return TrainResult(self.run_dir, step, total_steps, interrupted, len(data.skipped))

    def _fit(self, model, data, start: int, total: int, spe: int, callbacks):
        if start >= total:
            logger.info("Already at step %d of %d; nothing to train.", start, total)
            return
        epoch, into = divmod(start, spe)
        verbose = self.verbose if self.chief else 0
        if into:  # finish the interrupted epoch first, so later epochs stay aligned
            steps = min(spe - into, total - start)
            model.fit(data.dataset(start), initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=steps,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
            if model.stop_training or int(model.step.numpy()) >= total:
                return
            epoch, start = epoch + 1, int(model.step.numpy())
        full = total // spe  # epochs that end at an epoch boundary
        if epoch < full:
            model.fit(data.dataset(start), initial_epoch=epoch, epochs=full, steps_per_epoch=spe,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
            if model.stop_training or int(model.step.numpy()) >= total:
                return
            epoch, start = full, int(model.step.numpy())
        while start < total:  # a last epoch cut short by train.max_steps: its progress bar counts its own steps
            model.fit(data.dataset(start), initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=total - start,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
            step = int(model.step.numpy())
            if model.stop_training or step == start:
                return
            start = step

    def _record_domains(self, cfg, names):
        """``cfg`` with the data's domain names recorded (their ids are their order); a
        resumed run must see the domains it was trained on."""
        import dataclasses

        recorded = cfg.data.domain_names
        if recorded and tuple(recorded) != tuple(names):
            raise RunDirError(
                f"{self.run_dir} was trained on the domains {', '.join(recorded)}; the data now has "
                f"{', '.join(names)}. Point the data.* paths at the same domains."
            )
        return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, domain_names=tuple(names)))

    def _sample_batch(self, data):
        """A fixed batch for sample grids: ``num_samples`` images of each domain (test
        split, else train), as the stream's kind batches them."""
        n, size = self.cfg.train.num_samples, self.cfg.data.crop_size
        per_domain = [sample_images(d.test, d.train, size, n) for d in data.domains]
        k = min(len(images) for images in per_domain)
        if isinstance(data, LabelledData):
            images = [image for i in range(k) for image in (d[i] for d in per_domain)]  # domains interleaved
            labels = [d.id for _ in range(k) for d in data.domains]
            return tf.constant(images), tf.constant(labels, tf.int32)
        return tuple(tf.constant(images[:k]) for images in per_domain)

    def _translate_test(self, model, data):
        from keras_i2i.translate import translate_files
        from keras_i2i.data.images import list_image_files

        domains = {d.name: d for d in data.domains}
        if not model.directions():  # a model that translates nothing (BigGAN generates)
            return
        with model.ema_weights():  # the EMA generator, with train.ema_decay
            for direction, translator in model.translators().items():
                sources = model.directions()[direction].source
                for name in sources:
                    source = domains[name].test
                    if source is None:
                        continue
                    files, _ = list_image_files(source)
                    # One source: test_results/<direction>/ as always; several (DeepI2I's to_<target>):
                    # test_results/<direction>/<source domain>/, so same-named files never collide.
                    out = self.run_dir / "test_results" / direction
                    out = out / name if len(sources) > 1 else out
                    # test_results/ is the run's own folder: replace what an earlier training left there.
                    written, _ = translate_files(translator, files, out, self.cfg.data.crop_size, base=source,
                                                 force=True)
                    logger.info("Translated %d test images %s -> %s", written, direction, out)


def train(cfg: Config, run_dir, resume: bool = False, strategy: str | None = None, verbose="auto",
          overwrite: bool = False) -> TrainResult:
    """Train ``cfg`` into ``run_dir`` (see :class:`Trainer`)."""
    return Trainer(cfg, run_dir, resume=resume, strategy=strategy, verbose=verbose, overwrite=overwrite).run()
