"""Starting sub-networks from elsewhere (``model.init_from``) and keeping some fixed
(``model.frozen``): the trainer's side of the rule that models never read files.

A model's *sub-networks* are its public attributes that are Keras layers with weights
(``gen_a2b``, ``disc_a``, ``encoder_a``, ``teacher`` ...). Before step 0 of a new run
the trainer fills those named in ``model.init_from`` from

- another run: ``RUN_DIR`` (its newest complete checkpoint) or ``RUN_DIR:ckpt-N`` (a
  checkpoint name or prefix); ``...#NAME`` takes the source's sub-network ``NAME``
  instead of the one of the same name, or, where ``NAME`` is one of the source's
  directions, its translator for that direction (as ``load_run`` gives it: a distilled
  student's teacher). Only that sub-network is read from the checkpoint (a partial
  restore into a model rebuilt from the source's ``config.yaml``), then copied variable
  by variable, each shape checked;
- a Keras weights file of that sub-network (``.weights.h5``, from ``save_weights``);
- a saved Keras model (``.keras``) whose weights are copied in the same way.

The record of what was loaded (absolute source, checkpoint, sha256 of the checkpoint's
index and data files or of the file) goes into the run's ``config.yaml`` as
``model.init_from_record``. ``--resume`` restores the run's own checkpoint and never
applies ``init_from`` again.

    check_sources(cfg.model)                 # before anything is built
    freeze(model, cfg.model.frozen)          # before model.compile (no optimizer state)
    record = apply_init_from(model, cfg.model.init_from)
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import tensorflow as tf

from keras_i2i.config import ConfigError
from keras_i2i.runs import (
    CHECKPOINT_DIR, CONFIG_FILE, RunError, describe_checkpoints, find_checkpoint, list_checkpoints, newest_checkpoint,
    run_domains,
)

logger = logging.getLogger(__name__)

WEIGHTS_SUFFIXES = (".weights.h5", ".keras")


@dataclass(frozen=True)
class Source:
    """Where one sub-network comes from.

    Args:
        path: the run directory or the file (absolute).
        checkpoint: the checkpoint prefix of a run source (resolved: the newest complete
            one unless the spec named one); None for a file.
        sub_network: the source run's sub-network to take.
    """

    path: Path
    checkpoint: Optional[str] = None
    sub_network: Optional[str] = None

    @property
    def is_run(self) -> bool:
        return self.path.is_dir()


def sub_networks(model) -> dict:
    """``{attribute name: layer}``: the model's public attributes that are Keras layers
    with weights (a model's metrics and optimizers are not layers)."""
    found = {}
    for name, value in vars(model).items():
        if name.startswith("_") or not isinstance(value, keras.layers.Layer) or value is model:
            continue
        if value.weights:
            found[name] = value
    return dict(sorted(found.items()))


def _sub_network(model, name: str, key: str, where: str = "this model"):
    networks = sub_networks(model)
    if name not in networks:
        kind = getattr(model, "registered_name", type(model).__name__)
        raise ConfigError(f"{key}: {where} ({kind}) has no sub-network {name!r}; its sub-networks are: "
                          f"{', '.join(networks)}.")
    return networks[name]


def parse_source(name: str, spec: str) -> Source:
    """The :class:`Source` of ``model.init_from.<name>: spec`` (checked: the run or file
    exists, the checkpoint is there). Reads nothing but directory listings.

    Raises:
        ConfigError: no such file or run, a file of an unknown kind, a run without a
            usable checkpoint or without the one named (the message lists those it has).
    """
    key = f"model.init_from.{name}"
    text = str(spec).strip()
    text, _, sub = text.partition("#") if "#" in text else (text, "", "")
    path, checkpoint = Path(text).expanduser(), None
    if not path.exists() and ":" in text:
        head, _, tail = text.rpartition(":")
        if Path(head).expanduser().is_dir():
            path, checkpoint = Path(head).expanduser(), tail
    path = path.absolute()
    if not path.exists():
        raise ConfigError(f"{key}: {spec} does not exist; give a run directory (RUN_DIR or RUN_DIR:ckpt-N) or a "
                          "weights file (.weights.h5, .keras).")
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise ConfigError(f"{key}: {path} is not a run directory (it has no {CONFIG_FILE}).")
        directory = path / CHECKPOINT_DIR
        if checkpoint is not None:
            try:
                checkpoint = find_checkpoint(checkpoint, directory)
            except RunError:
                raise ConfigError(f"{key}: {path} has no checkpoint {checkpoint}; it has "
                                  f"{describe_checkpoints(list_checkpoints(directory))} (or leave out "
                                  f":{checkpoint} for its newest).") from None
        else:
            checkpoint = newest_checkpoint(directory)
            if checkpoint is None:
                raise ConfigError(f"{key}: {path} has no complete checkpoint; train it first or give another run.")
        return Source(path, checkpoint, sub or name)
    if sub:
        raise ConfigError(f"{key}: #{sub} names a sub-network of a run; a weights file holds one network.")
    if not path.name.endswith(WEIGHTS_SUFFIXES):
        raise ConfigError(f"{key}: {path} is neither a run directory nor a Keras weights file "
                          f"({', '.join(WEIGHTS_SUFFIXES)}).")
    return Source(path)


def check_sources(model_config) -> dict[str, Source]:
    """Every ``model.init_from`` source of ``model_config``, checked before anything is
    built (see :func:`parse_source`), and every ``model.frozen`` name listed once."""
    frozen = list(getattr(model_config, "frozen", ()))
    twice = sorted({n for n in frozen if frozen.count(n) > 1})
    if twice:
        raise ConfigError(f"model.frozen: {', '.join(twice)} listed twice.")
    return {name: parse_source(name, spec) for name, spec in (getattr(model_config, "init_from", None) or {}).items()}


def sha256_of(paths) -> str:
    """sha256 of the files' contents, one after the other (in the order given)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def checkpoint_files(prefix: str) -> list[Path]:
    """A checkpoint's ``.index`` file and its data shards, in name order."""
    prefix = Path(prefix)
    return [prefix.with_name(prefix.name + ".index"),
            *sorted(prefix.parent.glob(prefix.name + ".data-*"))]


def freeze(model, names) -> None:
    """Make the sub-networks ``names`` untrainable. Call before ``model.compile``: the
    models' ``variables_for`` hand optimizers only trainable variables, so no optimizer
    builds state for these or updates them (and their batch norms stay in inference mode).

    Raises:
        ConfigError: a name is not one of the model's sub-networks (the message lists them).
    """
    for name in names:
        _sub_network(model, name, "model.frozen").trainable = False


def check_frozen(model, names) -> None:
    """Raise ``RuntimeError`` when an optimizer of ``model`` was built for a variable of a
    frozen sub-network (a model whose ``variables_for`` ignores ``trainable``)."""
    frozen = {id(v) for name in names for v in _sub_network(model, name, "model.frozen").weights}
    for player, optimizer in model.optimizers().items():
        if any(id(v) in frozen for v in model.variables_for(player)):
            raise RuntimeError(f"{type(model).__name__}.variables_for({player!r}) returns variables of a frozen "
                               f"sub-network ({', '.join(names)}); it must return only trainable variables.")


def _copy_weights(target, source_weights, key: str, name: str, where: str) -> None:
    """Assign ``source_weights`` (arrays, in ``target.weights`` order) to ``target``,
    every shape checked first."""
    targets = target.weights
    if len(targets) != len(source_weights):
        raise ConfigError(f"{key}: {where} has {len(source_weights)} variables; this model's {name} has "
                          f"{len(targets)}. Give a source built like this model's {name}.")
    for variable, value in zip(targets, source_weights):
        if tuple(variable.shape) != tuple(value.shape):
            raise ConfigError(
                f"{key}: {where} does not fit this model's {name}: variable {variable.path} has shape "
                f"{tuple(value.shape)} there and {tuple(variable.shape)} here. Give a source built with the same "
                "network settings.")
    for variable, value in zip(targets, source_weights):
        variable.assign(value)


def _run_weights(source: Source, key: str) -> list:
    """The weights of sub-network ``source.sub_network`` of the run ``source.path`` at
    ``source.checkpoint``: the source model is rebuilt from its ``config.yaml`` and only
    that sub-network is restored."""
    from keras_i2i.config import load_config
    from keras_i2i.models import build_model

    try:
        cfg = load_config(source.path / CONFIG_FILE)
    except ConfigError as err:
        raise ConfigError(f"{key}: {source.path / CONFIG_FILE}: {err}") from None
    other = build_model(cfg.model, image_size=cfg.data.crop_size, seed=cfg.train.seed, domains=run_domains(cfg))
    if source.sub_network not in sub_networks(other) and source.sub_network in other.directions():
        return _translator_weights(source, key)
    network = _sub_network(other, source.sub_network, key, where=str(source.path))
    status = tf.train.Checkpoint(model=tf.train.Checkpoint(**{source.sub_network: network})).restore(
        source.checkpoint)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise ConfigError(f"{key}: {source.checkpoint} does not hold all of {source.sub_network} "
                          f"({str(err).splitlines()[0][:200]}).") from None
    status.expect_partial()  # the rest of the source run is not wanted
    return [v.numpy() for v in network.weights]


def _translator_weights(source: Source, key: str) -> list:
    """The weights of the source run's translator for direction ``source.sub_network``
    at ``source.checkpoint``, as :func:`keras_i2i.runs.load_run` gives them (the EMA
    weights where the run has them): what a distilled student's teacher needs from any
    model, an imported one included."""
    from keras_i2i.runs import load_run

    policy = keras.mixed_precision.global_policy()  # load_run builds in float32
    try:
        _, other = load_run(source.path, source.checkpoint)
    except RunError as err:
        raise ConfigError(f"{key}: {err}") from None
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return [v.numpy() for v in other.translators()[source.sub_network].weights]


def load_sub_network(model, name: str, source: Source) -> dict[str, str]:
    """Fill ``model``'s sub-network ``name`` from ``source``; returns its record
    (``source``, ``checkpoint``, ``sha256``).

    Raises:
        ConfigError: unknown sub-network, or a source that does not fit (the message
            names the sub-network and both shapes).
    """
    key = f"model.init_from.{name}"
    target = _sub_network(model, name, "model.init_from")
    if source.is_run:
        where = f"{source.path}'s {source.sub_network}"
        _copy_weights(target, _run_weights(source, key), key, name, where)
        files = checkpoint_files(source.checkpoint)
    elif source.path.name.endswith(".keras"):
        loaded = keras.saving.load_model(source.path, compile=False)
        _copy_weights(target, [v.numpy() for v in loaded.weights], key, name, str(source.path))
        files = [source.path]
    else:
        _load_weights_file(target, source.path, key, name)
        files = [source.path]
    record = {"source": str(source.path), "checkpoint": str(source.checkpoint) if source.checkpoint else None,
              "sha256": sha256_of(files)}
    if source.is_run and source.sub_network != name:
        record["sub_network"] = source.sub_network
    logger.info("init_from: %s <- %s%s (sha256 %s)", name, source.path,
                f" {Path(source.checkpoint).name}" if source.checkpoint else "", record["sha256"][:12])
    return {k: v for k, v in record.items() if v is not None}


def _load_weights_file(target, path: Path, key: str, name: str) -> None:
    """``target.load_weights(path)``; a file that does not fit fails with one line that
    names the first variable and both shapes (training stops before its first step)."""
    try:
        with warnings.catch_warnings():  # Keras warns about each unmatched container before it raises
            warnings.simplefilter("ignore")
            target.load_weights(path)
    except Exception as err:  # noqa: BLE001 (Keras raises ValueError, KeyError, OSError ...)
        text = " ".join(str(err).split())
        shapes = _SHAPES.search(text)
        if shapes:
            raise ConfigError(
                f"{key}: {path} does not fit this model's {name}: variable {shapes.group('path')} has shape "
                f"{shapes.group('theirs')} in the file and {shapes.group('ours')} here. Give weights saved from a "
                "network built with the same settings.") from None
        raise ConfigError(f"{key}: {path} does not fit this model's {name}: "
                          f"{text[:300]}{'...' if len(text) > 300 else ''}") from None


#: Keras' message for a variable whose saved value has another shape.
_SHAPES = re.compile(r"variable\.shape=(?P<ours>\([^)]*\)), Received: value\.shape=(?P<theirs>\([^)]*\))"
                     r".*?Target variable: <Variable path=(?P<path>[^,]+),")


def apply_init_from(model, init_from, sources: Optional[dict[str, Source]] = None) -> Optional[dict]:
    """Load every sub-network of ``init_from`` (``{name: spec}``) into ``model``; returns
    the record for ``model.init_from_record`` (None when there is nothing to load).
    ``sources``: the result of :func:`check_sources`, when already checked."""
    if not init_from:
        return None
    names = sub_networks(model)
    unknown = [n for n in init_from if n not in names]
    if unknown:
        kind = getattr(model, "registered_name", type(model).__name__)
        raise ConfigError(f"model.init_from: {kind} has no sub-network {unknown[0]!r}; its sub-networks are: "
                          f"{', '.join(names)}.")
    sources = sources or {name: parse_source(name, spec) for name, spec in init_from.items()}
    return {name: load_sub_network(model, name, sources[name]) for name in init_from}


__all__ = ["Source", "apply_init_from", "check_frozen", "check_sources", "checkpoint_files", "freeze",
           "load_sub_network", "parse_source", "sha256_of", "sub_networks"]
