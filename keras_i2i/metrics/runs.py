"""Evaluating runs and exported files, and recording the results (JSON file, a line in
the run's ``metrics.jsonl``); the trainer's periodic evaluation is built here too."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence

from keras_i2i.data.images import DataError
from keras_i2i.config import keep_best_key
from keras_i2i.metrics.base import METRICS
from keras_i2i.metrics.evaluate import (
    EvalReport, ImageStore, append_jsonl, checkpoint_step, evaluate, keras_translator, resolve_metrics,
    runtime_translator, utc_now,
)
from keras_i2i.metrics.features import feature_extractor

logger = logging.getLogger(__name__)

BEST_DIR = "best"  # checkpoints/best/: the best checkpoint by train.keep_best, and best.json


def data_domains(data: str | os.PathLike):
    """The domains of a folder (trainA/trainB/testA/testB, or train/<domain>/ and
    test/<domain>/) or a dataset name."""
    from keras_i2i.config import DataConfig
    from keras_i2i.data.domains import resolve_domains

    path = Path(data).expanduser()
    return resolve_domains(DataConfig(root=str(path)) if path.is_dir() else DataConfig(dataset=str(data)))


def run_data_domains(cfg):
    """The domains of a run's own data (never downloading anything)."""
    import dataclasses

    from keras_i2i.data.domains import resolve_domains

    return resolve_domains(dataclasses.replace(cfg.data, download=False))


def exported_direction(metadata: dict):
    """The :class:`~keras_i2i.directions.Direction` of an exported file from its
    ``model.json`` entry (exports made before directions were recorded: ``a2b``/``b2a``)."""
    from keras_i2i.directions import Direction, legacy_direction

    name = metadata.get("direction")
    if metadata.get("source_domain") and metadata.get("target_domain"):
        sources = metadata.get("sources") or [metadata["source_domain"]]
        return Direction(name, tuple(str(s).lower() for s in sources), str(metadata["target_domain"]).lower(),
                         metadata.get("conditions") or {})
    return legacy_direction(name)


def best_checkpoint(run_dir) -> Optional[str]:
    """The checkpoint kept by ``train.keep_best`` (None when there is none)."""
    from keras_i2i.runs import CHECKPOINT_DIR, newest_checkpoint

    return newest_checkpoint(Path(run_dir) / CHECKPOINT_DIR / BEST_DIR)


def _select(translators: dict, directions, declared) -> dict:
    """The translators of the ``directions`` asked for (None/"all": every one ``declared``)."""
    from keras_i2i.directions import select

    return {name: translators[name] for name in select(declared, None if directions == () else directions)}


def _check_reference(translators: dict, options: dict) -> None:
    """Before the feature network is built: a --reference folder serves one direction."""
    if options.get("reference") is not None and len(translators) != 1:
        raise DataError("A --reference folder is for one direction at a time; pick one with --direction.")


def evaluate_run(run_dir, checkpoint: Optional[str] = None, directions=None, data=None,
                 metrics: Sequence[str] | str = ("fid", "kid"), inception_weights="imagenet",
                 feature_size: Optional[int] = None, z_seed: Optional[int] = None, **options) -> EvalReport:
    """Evaluate the Keras translators of a run (its latest checkpoint, ``checkpoint``, or
    ``"best"``) on its own data (or ``data``). ``z_seed`` overrides a DeepI2I run's
    ``model.z_seed`` (see :func:`keras_i2i.runs.load_run`); the latent used is recorded in
    the report's ``source``."""
    from keras_i2i.translate import RunError, load_run

    if checkpoint == "best":
        checkpoint = best_checkpoint(run_dir)
        if checkpoint is None:
            raise RunError(f"{run_dir} has no best checkpoint (train with train.eval_every and train.keep_best).")
    cfg, model = load_run(run_dir, checkpoint, z_seed=z_seed)
    declared = model.directions()
    translators = _select({d: keras_translator(t) for d, t in model.translators().items()}, directions, declared)
    _check_reference(translators, options)
    domains = data_domains(data) if data is not None else run_data_domains(cfg)
    source = {"run": str(run_dir), "checkpoint": str(model.restored_from), "step": checkpoint_step(model.restored_from),
              "translator": "keras"}
    if hasattr(cfg.model, "z_seed"):  # the latent fixed inside the translators (None: zeros)
        source["z_seed"] = cfg.model.z_seed
    return evaluate(translators, domains, cfg.data.crop_size, metrics, source=source, directions=declared,
                    inception_weights=inception_weights, feature_size=feature_size, **options)


def exported_run_dir(translator) -> Optional[Path]:
    """The run an exported file came from (its ``model.json`` ``source_checkpoint``), if it still exists."""
    checkpoint = translator.metadata.get("source_checkpoint")
    if not checkpoint:
        return None
    run_dir = Path(checkpoint).parent.parent
    return run_dir if (run_dir / "config.yaml").is_file() else None


def evaluate_exported(files: Sequence[str | os.PathLike], data=None, metrics: Sequence[str] | str = ("fid", "kid"),
                      inception_weights="imagenet", feature_size: Optional[int] = None, num_threads=None,
                      **options) -> tuple[EvalReport, Optional[Path]]:
    """Evaluate exported files (``.tflite``/``.onnx``) through :mod:`keras_i2i.runtime`,
    one per direction; the data is ``data`` or that of the run they were exported from.
    Returns the report and that run directory (None when unknown)."""
    from keras_i2i.config import load_config
    from keras_i2i.runtime import load

    loaded = [load(f, num_threads=num_threads) for f in files]
    translators, declared, sizes, run_dirs = {}, {}, set(), set()
    for t in loaded:
        direction = t.metadata.get("direction")
        if not direction:
            raise DataError(f"{t.path}: its model.json entry names no direction.")
        if direction in translators:
            raise DataError(f"Two files for direction {direction}; give one file per direction.")
        if t.input_size.height != t.input_size.width:
            raise DataError(f"{t.path}: evaluation needs a square model input, not {tuple(t.input_size)}.")
        translators[direction] = runtime_translator(t)
        declared[direction] = exported_direction(t.metadata)
        sizes.add(t.input_size.height)
        run_dir = exported_run_dir(t)
        if run_dir is not None:
            run_dirs.add(run_dir)
    _check_reference(translators, options)
    if len(sizes) != 1:
        raise DataError(f"The files have different input sizes ({sorted(sizes)}); evaluate them one at a time.")
    run_dir = run_dirs.pop() if len(run_dirs) == 1 else None
    if data is not None:
        domains = data_domains(data)
    elif run_dir is not None:
        domains = run_data_domains(load_config(run_dir / "config.yaml"))
    else:
        raise DataError("The run these files were exported from is not found; give the data with --data ROOT.")
    source = {"models": [{"file": str(t.path), "direction": t.metadata.get("direction"), "backend": t.backend,
                          "quantization": (t.metadata.get("quantization") or {}).get("mode"),
                          "conditions": t.metadata.get("conditions") or {},
                          "source_checkpoint": t.metadata.get("source_checkpoint")} for t in loaded],
              "translator": "runtime", "run": str(run_dir) if run_dir else None,
              "step": checkpoint_step(loaded[0].metadata.get("source_checkpoint"))}
    known = {name: d for name, d in declared.items() if d is not None}
    report = evaluate(translators, domains, sizes.pop(), metrics, source=source, inception_weights=inception_weights,
                      feature_size=feature_size, directions=known if len(known) == len(declared) else None, **options)
    return report, run_dir


def record(report: EvalReport, run_dir=None, json_path=None) -> Optional[Path]:
    """Write the JSON report (atomically) to ``json_path`` (default, for a run:
    ``RUN_DIR/eval/<split>_step<N>.json``) and append a line to the run's ``metrics.jsonl``.
    Returns the JSON path (None when there is neither a path nor a run)."""
    if json_path is None and run_dir is not None:
        step = report.source.get("step")
        kind = "keras" if report.source.get("translator") == "keras" else \
            "+".join(Path(m["file"]).name for m in report.source.get("models", []))
        if report.source.get("z_seed") is not None:  # one report per latent, none over another's
            kind += f"_z{report.source['z_seed']}"
        json_path = Path(run_dir) / "eval" / f"{report.protocol['split']}_{kind}_step{step}.json"
    if json_path is not None:
        report.write_json(json_path)
    if run_dir is not None:
        append_jsonl(Path(run_dir) / "metrics.jsonl", {
            "kind": "evaluate", "step": report.source.get("step"), "created": utc_now(),
            "translator": report.source.get("translator"), "split": report.protocol["split"],
            "feature_network": (report.protocol["features"] or {}).get("name"),
            "features": (report.protocol["features"] or {}).get("weights"),
            "feature_size": (report.protocol["features"] or {}).get("size"),
            "report": str(json_path) if json_path else None,
            **({"z_seed": report.source["z_seed"]} if "z_seed" in report.source else {}), **report.flat(),
        })
    return Path(json_path) if json_path is not None else None


def make_evaluator(cfg, domains):
    """``model -> EvalReport`` for the trainer: ``cfg.train.eval_metrics`` of every
    translator on ``cfg.train.eval_split``, features built once, images read once.
    ``domains``: the data's :class:`~keras_i2i.data.domains.Domain` list."""
    from keras_i2i.config import ConfigError

    t = cfg.train
    missing = [d.name for d in domains if (d.test if t.eval_split == "test" else d.train) is None]
    if missing:
        raise ConfigError(f"train.eval_split={t.eval_split}, but the data has no {t.eval_split} folder for domain "
                          f"{', '.join(missing)}; set train.eval_split=train or add the folders.")
    metrics = resolve_metrics(t.eval_metrics)
    needed = any(METRICS.get(name).needs_features for name in metrics)
    weights = t.eval_inception_weights if t.eval_features == "inception" else None
    features = feature_extractor(t.eval_features, weights, t.eval_feature_size) if needed else None
    images = ImageStore(cfg.data.crop_size)

    def run(model) -> EvalReport:
        translators = {d: keras_translator(tr) for d, tr in model.translators().items()}
        return evaluate(translators, domains, cfg.data.crop_size, metrics, features, images=images,
                        split=t.eval_split, directions=model.directions())

    return run


def check_train_eval(train, multiworker: bool = False) -> None:
    """Fail before training when the ``train.eval_*``/``keep_best`` settings cannot work:
    :func:`keras_i2i.config.check_train_eval`, and keep_best needs a single worker."""
    from keras_i2i.config import ConfigError, check_train_eval as check_config

    check_config(train)
    if multiworker and train.keep_best is not None:
        raise ConfigError("train.keep_best is not supported with several workers (every worker would have to "
                          "take part in saving the best checkpoint); evaluate the saved checkpoints afterwards.")


def periodic_evaluation(cfg, domains, checkpoint, run_dir, writer, total_steps=None, guard=None):
    """The trainer's :class:`~keras_i2i.training.callbacks.PeriodicEvaluation` for ``cfg``
    (the best checkpoint, with ``train.keep_best``, in ``checkpoints/best/``)."""
    import tensorflow as tf

    from keras_i2i.training.callbacks import PeriodicEvaluation
    from keras_i2i.training.trainer import CHECKPOINT_DIR

    t = cfg.train
    keep, higher, manager = None, False, None
    if t.keep_best:
        keep = keep_best_key(t.keep_best)
        higher = METRICS.get(keep.rsplit("/", 1)[1]).higher_is_better
        manager = tf.train.CheckpointManager(checkpoint, str(Path(run_dir) / CHECKPOINT_DIR / BEST_DIR), max_to_keep=1)
    return PeriodicEvaluation(make_evaluator(cfg, domains), t.eval_every, run_dir, writer, keep, higher, manager,
                              total_steps=total_steps, guard=guard)
