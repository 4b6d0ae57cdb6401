"""The run directory: its layout, the checks before anything is written into it, and
loading a run (its config and the newest checkpoint that loads).

A run directory holds ``config.yaml`` (resolved; data paths absolute), ``checkpoints/``
(``ckpt-<step>.index`` and ``ckpt-<step>.data-*`` per save, the ``checkpoint`` index,
``best/``), ``metrics.jsonl``, ``samples/``, ``logs/``, ``data_report.json``,
``test_results/``, ``eval/`` and ``export/``.

Checkpoints are found by listing the ``ckpt-<step>.index`` files, not through the
``checkpoint`` index file: that file names the newest save even when its files went
missing. A checkpoint that does not load (truncated, damaged, incomplete) is skipped
with a warning for the next older one and never deleted.

This module imports no TensorFlow at import time, so the CLI checks a run directory
before TensorFlow starts.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
CHECKPOINT_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"
INDEX_FILE = "checkpoint"  # TensorFlow's CheckpointManager state (text protobuf)
#: Data keys that are file-system paths, resolved to absolute paths in a run's config.yaml.
DATA_PATH_KEYS = ("root", "a", "b", "test_a", "test_b")

_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
_DATA = re.compile(r"^ckpt-(\d+)\.data-(\d+)-of-(\d+)$")
_ANY = re.compile(r"^ckpt-(\d+)[._]")


class RunError(ValueError):
    """A run directory is missing something (config, checkpoint) or cannot be loaded."""


class RunDirError(RunError):
    """The run directory cannot be used as asked (trained into, resumed)."""


# ----------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointFiles:
    """One ``ckpt-<step>`` save in a checkpoint folder.

    Args:
        prefix: the checkpoint prefix (``.../checkpoints/ckpt-4``).
        step: its number (the training step).
        problem: why it cannot load (a data file is missing), or None when its files are all there.
    """

    prefix: Path
    step: int
    problem: Optional[str] = None

    @property
    def name(self) -> str:
        return self.prefix.name


def list_checkpoints(directory) -> list[CheckpointFiles]:
    """The ``ckpt-<step>`` saves in ``directory`` that have an index file, newest first,
    each with the problem of its files, if any (not loaded: see :func:`restore_checkpoint`)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    steps, shards = [], {}
    for entry in directory.iterdir():
        if m := _INDEX.match(entry.name):
            steps.append(int(m.group(1)))
        elif m := _DATA.match(entry.name):
            shards.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3))))
    found = []
    for step in sorted(steps, reverse=True):
        parts = shards.get(step, [])
        problem = None
        if not parts:
            problem = "its data file (ckpt-%d.data-*) is missing" % step
        else:
            total = max(n for _, n in parts)
            missing = total - len({i for i, n in parts if n == total})
            if missing:
                problem = f"{missing} of its {total} data files are missing"
        found.append(CheckpointFiles(directory / f"ckpt-{step}", step, problem))
    return found


def newest_checkpoint(directory) -> Optional[str]:
    """The prefix of the newest checkpoint in ``directory`` whose files are all there (not
    loaded), or None."""
    return next((str(c.prefix) for c in list_checkpoints(directory) if c.problem is None), None)


def latest_checkpoint(run_dir) -> Optional[str]:
    """The newest complete checkpoint of run ``run_dir`` (``checkpoints/ckpt-<step>``), or None."""
    return newest_checkpoint(Path(run_dir) / CHECKPOINT_DIR)


def describe_checkpoints(found: list[CheckpointFiles], limit: int = 8) -> str:
    """``"ckpt-6, ckpt-4, ckpt-2"`` (newest first), or ``"no checkpoint"``."""
    if not found:
        return "no checkpoint"
    names = [c.name + (" (incomplete)" if c.problem else "") for c in found[:limit]]
    return ", ".join(names) + (f" and {len(found) - limit} older" if len(found) > limit else "")


def _reason(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def find_checkpoint(prefix, directory) -> str:
    """The checkpoint ``prefix`` names: a prefix path (``runs/x/checkpoints/ckpt-4``) or a
    name in ``directory`` (``ckpt-4``).

    Raises:
        RunError: there is no such checkpoint; the message lists those ``directory`` has.
    """
    directory = Path(directory)
    for path in (Path(prefix).expanduser(), directory / str(prefix)):
        if Path(f"{path}.index").is_file():
            return str(path)
    found = list_checkpoints(directory)
    has = (f"{directory} has {describe_checkpoints(found)}; give one of them (a name like {found[0].name} is enough)"
           if found else f"{directory} has no checkpoint")
    raise RunError(f"No checkpoint {prefix} (there is no {prefix}.index). {has}, or leave out --checkpoint to "
                   "use the newest one that loads.")


def _restore(checkpoint, prefix: str, exact: bool):
    status = checkpoint.restore(prefix)
    if exact:
        status.assert_existing_objects_matched()
    else:
        status.expect_partial()


def restore_checkpoint(checkpoint, directory, prefix=None, *, exact: bool = False,
                       none_message: Optional[str] = None) -> str:
    """Restore ``checkpoint`` (a ``tf.train.Checkpoint``) from ``prefix``, or else from the
    newest checkpoint in ``directory`` that loads; returns the prefix it restored.

    Without ``prefix``, checkpoints are tried newest first (:func:`list_checkpoints`);
    one that is incomplete or fails to load (truncated, damaged, not of this model) is
    skipped with a warning saying why, and left as it is. A later restore overrides
    everything a failed one may have assigned, so the result is that of the older
    checkpoint alone.

    Args:
        checkpoint: the ``tf.train.Checkpoint`` to restore into.
        directory: the checkpoint folder.
        prefix: a checkpoint to restore instead (:func:`find_checkpoint`); no fallback.
        exact: every object of ``checkpoint`` must be restored (resuming training);
            else a partial restore is fine (inference needs only the networks).
        none_message: the error when ``directory`` has no checkpoint.

    Raises:
        RunError: no checkpoint, ``prefix`` not found or not loadable, or none loads.
    """
    directory = Path(directory)
    if prefix is not None:
        path = find_checkpoint(prefix, directory)
        try:
            _restore(checkpoint, path, exact)
        except Exception as err:  # noqa: BLE001 (TensorFlow raises many kinds for a bad file)
            found = list_checkpoints(directory)
            raise RunError(f"Checkpoint {path} cannot be loaded ({_reason(err)}). {directory} has "
                           f"{describe_checkpoints(found)}; give another one, or leave out --checkpoint to use "
                           "the newest one that loads.") from None
        return path
    found = list_checkpoints(directory)
    if not found:
        raise RunError(none_message or f"{directory} has no checkpoint.")
    skipped = []
    for candidate in found:
        reason = candidate.problem
        if reason is None:
            try:
                _restore(checkpoint, str(candidate.prefix), exact)
            except Exception as err:  # noqa: BLE001
                reason = _reason(err)
            else:
                if skipped:
                    logger.warning("Using %s, the newest checkpoint that loads.", candidate.prefix)
                return str(candidate.prefix)
        skipped.append(f"{candidate.name} ({reason})")
        logger.warning("Skipping checkpoint %s, which does not load (%s); it is kept as it is.", candidate.prefix,
                       reason)
    raise RunError(f"None of the checkpoints in {directory} loads: {'; '.join(skipped)}.")


def set_aside_newer(directory, restored: str) -> list[Path]:
    """Before a resumed run saves into ``directory``: move the files of every save newer
    than ``restored`` (skipped as incomplete or damaged) into ``skipped-<time>/`` there, as
    they are, so that saving the same step again cannot overwrite them, and rewrite the
    ``checkpoint`` index to list the saves that remain, ``restored`` newest. The saves
    that remain are rotated as before (``train.keep_checkpoints``) only as new ones are
    written. Returns the moved files."""
    directory = Path(directory)
    step = int(re.search(r"ckpt-(\d+)$", str(restored)).group(1))
    newer = sorted(p for p in directory.iterdir() if (m := _ANY.match(p.name)) and int(m.group(1)) > step)
    moved = []
    if newer:
        stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
        target = directory / f"skipped-{stamp}"
        while target.exists():
            n += 1
            target = directory / f"skipped-{stamp}-{n}"
        target.mkdir()
        for path in newer:
            os.replace(path, target / path.name)
            moved.append(target / path.name)
        logger.warning("Moved %s (newer than %s, not loadable) to %s: the resumed run saves these steps again.",
                       ", ".join(p.name for p in newer), Path(restored).name, target)
    _write_index(directory, Path(restored).name)
    return moved


def _read_index(directory: Path) -> dict:
    """The ``checkpoint`` index file's fields (paths, timestamps), {} when it is missing or unreadable."""
    try:
        text = (directory / INDEX_FILE).read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    fields: dict = {}
    for key, value in re.findall(r"^(\w+):\s*(.+?)\s*$", text, flags=re.M):
        fields.setdefault(key, []).append(value.strip('"'))
    return fields


def _write_index(directory: Path, latest: str) -> None:
    """Rewrite the ``checkpoint`` index to the complete saves up to ``latest`` (kept as it
    is when it already says exactly that), keeping their recorded timestamps."""
    from keras_i2i.utils import atomic_write_text

    keep = [c for c in reversed(list_checkpoints(directory)) if c.problem is None and c.step <= int(latest[5:])]
    names = [c.name for c in keep]
    old = _read_index(directory)
    if old.get("model_checkpoint_path") == [latest] and old.get("all_model_checkpoint_paths") == names:
        return
    recorded = dict(zip(old.get("all_model_checkpoint_paths", []), old.get("all_model_checkpoint_timestamps", [])))
    stamps = []
    for c in keep:
        try:
            stamps.append(float(recorded[c.name]))
        except (KeyError, ValueError):
            stamps.append(Path(f"{c.prefix}.index").stat().st_mtime)
    preserved = min(stamps, default=time.time()) - 1.0  # every listed save is rotated normally
    lines = [f'model_checkpoint_path: "{latest}"', *(f'all_model_checkpoint_paths: "{n}"' for n in names),
             *(f"all_model_checkpoint_timestamps: {s!r}" for s in stamps), f"last_preserved_timestamp: {preserved!r}"]
    atomic_write_text(directory / INDEX_FILE, "\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- new runs


def is_chief_process() -> bool:
    """Whether this process writes the run directory, from ``TF_CONFIG`` (the chief, or
    worker 0 without one), without starting TensorFlow."""
    try:
        spec = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return True
    task = spec.get("task") or {}
    kind = task.get("type")
    if not kind or kind == "chief":
        return True
    return kind == "worker" and int(task.get("index") or 0) == 0 and "chief" not in (spec.get("cluster") or {})


def _contents(run_dir: Path) -> tuple[list[CheckpointFiles], bool, list[str]]:
    """(its checkpoints, whether it has a config.yaml, every entry's name) of ``run_dir``."""
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in run_dir.iterdir())
    return list_checkpoints(run_dir / CHECKPOINT_DIR), (run_dir / CONFIG_FILE).is_file(), entries


def check_new_run_dir(run_dir) -> None:
    """A new run is trained only into a folder that does not exist or is empty.

    Raises:
        RunDirError: ``run_dir`` is a file, or holds anything (a run's checkpoints or
            config.yaml, or any other file); the message says what and how to go on.
    """
    from keras_i2i.outputs import check_writable_dir

    run_dir = Path(run_dir)
    if not run_dir.exists():
        check_writable_dir(run_dir, "--run-dir")  # not under a file, not in a read-only folder
        return
    if not run_dir.is_dir():
        raise RunDirError(f"--run-dir {run_dir} is a file, not a folder; choose another --run-dir.")
    if not any(run_dir.iterdir()):
        return
    checkpoints, has_config, entries = _contents(run_dir)
    aside = f"{run_dir}.old-<time>"
    if checkpoints or has_config:
        held = ([CONFIG_FILE] if has_config else []) + \
               ([f"checkpoints {describe_checkpoints(checkpoints, 3)}"] if checkpoints else [])
        raise RunDirError(f"{run_dir} already holds a training run ({', '.join(held)}). Continue it with "
                          f"`keras-i2i train --resume {run_dir}`, start over with --overwrite (its contents move to "
                          f"{aside}), or choose another --run-dir.")
    shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
    raise RunDirError(f"{run_dir} is not empty (it holds {shown}); a new run needs a new or empty folder. Choose "
                      f"another --run-dir, or pass --overwrite to move its contents to {aside} first.")


def move_aside(run_dir) -> Path:
    """Rename ``run_dir`` to the sibling ``<run_dir>.old-<time>`` (``-2``, ``-3`` ... if
    taken) and return that path; nothing is deleted."""
    run_dir = Path(run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = run_dir.with_name(f"{run_dir.name}.old-{stamp}"), 1
    while target.exists() or target.is_symlink():
        n += 1
        target = run_dir.with_name(f"{run_dir.name}.old-{stamp}-{n}")
    try:
        os.replace(run_dir, target)
    except OSError as err:
        raise RunDirError(f"Cannot move {run_dir} aside to {target} ({err.strerror or err}); move or remove it "
                          "yourself, or choose another --run-dir.") from None
    return target


def prepare_new_run_dir(run_dir, overwrite: bool = False) -> Optional[Path]:
    """Check that a new run may be trained into ``run_dir`` (:func:`check_new_run_dir`);
    with ``overwrite``, a folder that is not empty is first moved aside whole
    (:func:`move_aside`) instead. Writes nothing else. Returns where the old contents
    went (None when nothing moved)."""
    run_dir = Path(run_dir)
    try:
        check_new_run_dir(run_dir)
        return None
    except RunDirError:
        if not overwrite or not run_dir.is_dir():
            raise
    target = move_aside(run_dir)
    logger.warning("--overwrite: moved the old contents of %s to %s.", run_dir, target)
    return target


# ----------------------------------------------------------------------------- data paths


def _is_dataset_name(key: str, value: str) -> bool:
    """Whether ``data.a``/``data.b``/``data.domains.NAME`` = ``value`` names a one-domain
    dataset, not a folder."""
    if not (key in ("a", "b") or key.startswith("domains.")) or Path(value).expanduser().exists():
        return False
    from keras_i2i.data import datasets

    if key.startswith("domains.") and "/" in value:  # DATASET/DOMAIN of a bundled or derived dataset
        from keras_i2i.data.pipeline import BUNDLED_DATASETS
        from keras_i2i.data.derived import DERIVED_DATASETS

        head = value.split("/", 1)[0]
        if head in BUNDLED_DATASETS or head in DERIVED_DATASETS:
            return True
    return value in datasets.DOMAIN_DATASETS


def _used_path_keys(data) -> list[str]:
    """The ``data.*`` path keys that choose the data (``domains``, then ``a``/``b``, win
    over ``root``); a domain's key is ``domains.NAME``."""
    if getattr(data, "domains", None):
        return [f"domains.{name}" for name in data.domains]
    if data.a or data.b:
        return [k for k in ("a", "b", "test_a", "test_b") if getattr(data, k)]
    return ["root"] if data.root else []


def absolute_data_paths(cfg):
    """``cfg`` with its data paths (:data:`DATA_PATH_KEYS`, not dataset names) made absolute
    against the current folder, so the run's config.yaml works from anywhere."""
    def absolute(key, value):
        return value if not value or _is_dataset_name(key, value) else os.path.abspath(os.path.expanduser(value))

    changes = {key: absolute(key, getattr(cfg.data, key)) for key in DATA_PATH_KEYS}
    changes = {key: value for key, value in changes.items() if value != getattr(cfg.data, key)}
    domains = getattr(cfg.data, "domains", None)
    if domains:
        resolved = {name: absolute(f"domains.{name}", value) for name, value in domains.items()}
        if resolved != domains:
            changes["domains"] = resolved
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **changes)) if changes else cfg


def check_data_paths(cfg, run_dir) -> None:
    """Before resuming ``run_dir``: the data paths in its config exist.

    Raises:
        RunDirError: one does not (the data moved, or a relative path of an older run
            read from another folder), naming the ``--set data.<key>=`` to give.
    """
    def value_of(key):
        return cfg.data.domains[key.partition(".")[2]] if key.startswith("domains.") else getattr(cfg.data, key)

    values = {k: value_of(k) for k in _used_path_keys(cfg.data)}
    missing = [k for k, v in values.items() if not _is_dataset_name(k, v) and not Path(v).expanduser().exists()]
    if not missing:
        return
    def said(key):
        value = values[key]
        absolute = os.path.abspath(os.path.expanduser(value))
        return f"data.{key}={value}" + (f" ({absolute} from here)" if absolute != value else "")

    sets = " ".join(f"--set data.{k}=NEW_PATH" for k in missing)
    raise RunDirError(f"The data of {run_dir} is not where its config says: {', '.join(map(said, missing))} "
                      f"{'does' if len(missing) == 1 else 'do'} not exist. If it moved, resume with {sets}.")


# ----------------------------------------------------------------------------- loading


def run_domains(cfg) -> tuple[str, ...]:
    """A run's domain names in id order: as its ``config.yaml`` records them
    (``data.domain_names``), else ``("a", "b")`` (runs trained before domains were recorded
    had those two)."""
    names = getattr(cfg.data, "domain_names", None)
    return tuple(names) if names else ("a", "b")


def load_run(run_dir, checkpoint: Optional[str] = None, z_seed: Optional[int] = None):
    """``(config, model)`` of a run: the model rebuilt from ``config.yaml`` with the
    weights of its newest checkpoint that loads (or of ``checkpoint``), in float32.
    ``model.restored_from`` is the checkpoint prefix used. A run trained with
    ``train.ema_decay`` has the EMA generator weights in its generator. ``z_seed``
    overrides ``model.z_seed`` (the latent fixed inside DeepI2I translators).

    Raises:
        RunError: no config.yaml, no checkpoint, ``checkpoint`` not found or not
            loadable, no checkpoint loads, or ``z_seed`` given for a model without
            ``model.z_seed``.
    """
    import keras
    import tensorflow as tf

    from keras_i2i.config import ConfigError, load_config
    from keras_i2i.models import build_model

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise RunError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}.")
    try:
        cfg = load_config(config_path)
        if z_seed is not None:
            if not hasattr(cfg.model, "z_seed"):
                raise RunError(f"--z-seed: model {cfg.model.name} has no fixed latent (only deepi2i runs have "
                               "model.z_seed); leave it out.")
            cfg = load_config(config_path, overrides=[f"model.z_seed={int(z_seed)}"])
    except ConfigError as err:
        raise RunError(f"{config_path}: {err}") from None
    directory = run_dir / CHECKPOINT_DIR
    none_message = f"{run_dir} has no checkpoint yet; train it first (keras-i2i train)."
    if checkpoint is not None:
        checkpoint = find_checkpoint(checkpoint, directory)  # before the model is built
    elif not list_checkpoints(directory):
        raise RunError(none_message)
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(cfg.model, image_size=cfg.data.crop_size, seed=cfg.train.seed, domains=run_domains(cfg),
                        ema_decay=getattr(cfg.train, "ema_decay", None))
    model.restored_from = restore_checkpoint(tf.train.Checkpoint(model=model, **model.checkpoint_state()), directory,
                                             checkpoint, none_message=none_message)
    if model.ema_decay and any(name.startswith("ema/") for name, _ in tf.train.list_variables(model.restored_from)):
        model.use_ema_weights()  # with train.ema_decay, the translators translate with the EMA generator
    return cfg, model
