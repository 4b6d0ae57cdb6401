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

A sub-network's *class tables* (its ``class_tables``: a BigGAN's class embeddings, one
row per class) may come from a run of another label space, as DeepI2I transfers from a
GAN pretrained on other classes: ``model.init_from_class_map`` says which source rows
each class starts from (``mean``: the mean of them all; ``{class: source class or
[source classes]}``: that row, or the mean of those rows), the source's classes being
its run's domains. A spectral-norm table's power-iteration state (``u``, ``sv``) becomes
the mapped table's top singular vector and value. Every other variable is copied as it
is, and so are the tables of a source with this model's classes (same names and order).
Different class counts without a map stop the run before its first step.

The record of what was loaded (absolute source, checkpoint, sha256 of the checkpoint's
index and data files or of the file, and the class map applied) goes into the run's
``config.yaml`` as ``model.init_from_record``. ``--resume`` restores the run's own checkpoint and never
applies ``init_from`` again.

    check_sources(cfg.model)                 # before anything is built
    freeze(model, cfg.model.frozen)          # before model.compile (no optimizer state)
    record = apply_init_from(model, cfg.model.init_from, class_map=cfg.model.init_from_class_map)
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
import numpy as np
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


def _source_config(source: Source, key: str):
    from keras_i2i.config import load_config

    try:
        return load_config(source.path / CONFIG_FILE)
    except ConfigError as err:
        raise ConfigError(f"{key}: {source.path / CONFIG_FILE}: {err}") from None


def _run_classes(source: Source, key: str) -> tuple[str, ...]:
    """The classes of the run ``source.path``: its domains, as its ``config.yaml`` records them."""
    return tuple(run_domains(_source_config(source, key)))


def _run_weights(source: Source, key: str, built: Optional[dict] = None) -> list:
    """The weights of sub-network ``source.sub_network`` of the run ``source.path`` at
    ``source.checkpoint``: the source model is rebuilt from its ``config.yaml`` (once per
    run in ``built``, ``{run: model}``, when given) and only that sub-network is restored."""
    from keras_i2i.models import build_model

    built = {} if built is None else built
    other = built.get(source.path)
    if other is None:
        cfg = _source_config(source, key)
        other = built[source.path] = build_model(cfg.model, image_size=cfg.data.crop_size, seed=cfg.train.seed,
                                                 domains=run_domains(cfg))
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


def _describe(names) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= 12 else f"{', '.join(names[:12])} ... ({len(names)} in all)"


def class_map_rows(class_map, targets, sources, key: str, where: str) -> Optional[dict[str, list[str]]]:
    """``{target class: [source classes]}``: the source rows each of ``targets`` starts
    from under ``model.init_from_class_map`` = ``class_map``; None (rows copied as they are)
    when the source has this model's classes (same names, same order), or when there is
    no map and both label spaces have as many classes.

    Raises:
        ConfigError: the counts differ and there is no map, a class of this model is not
            mapped, or a name is not a class of its label space (the message names both
            label spaces and the key to set).
    """
    targets, sources = list(targets), list(sources)
    spaces = (f"{where} has {len(sources)} classes ({_describe(sources)}), this model {len(targets)} "
              f"({_describe(targets)})")
    if targets == sources or (class_map is None and len(targets) == len(sources)):
        return None
    if class_map is None:
        raise ConfigError(f"{key}: {spaces}; set model.init_from_class_map to mean (each class starts from the mean "
                          "of the source's class rows) or to {class: source class or [source classes]} for each "
                          "of this model's classes.")
    if class_map == "mean":
        return {t: list(sources) for t in targets}
    unknown = [t for t in class_map if t not in targets]
    missing = [t for t in targets if t not in class_map]
    if unknown or missing:
        what = (f"{', '.join(map(str, unknown))} {'is' if len(unknown) == 1 else 'are'} not a class of this model"
                if unknown else f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no source class")
        raise ConfigError(f"model.init_from_class_map: {what} ({spaces}); map every class of this model, or set "
                          "it to mean.")
    rows = {}
    for target in targets:
        value = class_map[target]
        names = [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        bad = [n for n in names if n not in sources]
        if bad or not names:
            raise ConfigError(f"model.init_from_class_map.{target}: {', '.join(bad) or 'nothing'} is not a class of "
                              f"{where} ({spaces}).")
        rows[target] = names
    return rows


def map_class_tables(target, weights: list, rows: dict[str, list[str]], targets, sources) -> list:
    """``weights`` (a source's, in ``target.weights`` order) with the rows of ``target``'s
    class tables mapped: row ``i`` becomes the mean of the source rows ``rows[targets[i]]``;
    a spectral-norm table's ``u`` and ``sv`` become the mapped table's top left singular
    vector and value (what its power iteration converges to). Other weights are kept."""
    index = {id(v): i for i, v in enumerate(target.weights)}
    sources = list(sources)
    matrix = np.zeros((len(targets), len(sources)))
    for i, name in enumerate(targets):
        for source in rows[name]:
            matrix[i, sources.index(source)] += 1.0 / len(rows[name])
    out = list(weights)
    for layer in getattr(target, "class_tables", ()):
        i = index[id(layer.embeddings)]
        table = matrix @ np.asarray(out[i], np.float64)
        out[i] = table.astype(out[i].dtype)
        if hasattr(layer, "u"):
            left, singular, _ = np.linalg.svd(table, full_matrices=False)
            out[index[id(layer.u)]] = left[:, :1].T.astype(out[index[id(layer.u)]].dtype)
            out[index[id(layer.sv)]] = singular[:1].astype(out[index[id(layer.sv)]].dtype)
    return out


def load_sub_network(model, name: str, source: Source, class_map=None,
                     built: Optional[dict] = None) -> dict[str, str]:
    """Fill ``model``'s sub-network ``name`` from ``source``; returns its record
    (``source``, ``checkpoint``, ``sha256``; ``class_map`` where class rows were mapped).
    ``class_map``: ``model.init_from_class_map``, for a run source of another label space
    (see the module docstring); ``built``: source models already rebuilt, ``{run: model}``.

    Raises:
        ConfigError: unknown sub-network, a source that does not fit (the message names
            the sub-network and both shapes), or class tables of another class count
            without a usable ``class_map``.
    """
    key = f"model.init_from.{name}"
    target = _sub_network(model, name, "model.init_from")
    rows = None
    if source.is_run:
        where = f"{source.path}'s {source.sub_network}"
        targets = tuple(getattr(model, "domains", ()))
        if getattr(target, "class_tables", None):  # the map is checked before the source is loaded
            classes = _run_classes(source, key)
            rows = class_map_rows(class_map, targets, classes, key, str(source.path))
        weights = _run_weights(source, key, built)
        if rows is not None and len(weights) == len(target.weights):
            weights = map_class_tables(target, weights, rows, targets, classes)
        _copy_weights(target, weights, key, name, where)
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
    if rows is not None:
        record["class_map"] = rows
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


def apply_init_from(model, init_from, sources: Optional[dict[str, Source]] = None,
                    class_map=None) -> Optional[dict]:
    """Load every sub-network of ``init_from`` (``{name: spec}``) into ``model``; returns
    the record for ``model.init_from_record`` (None when there is nothing to load).
    ``sources``: the result of :func:`check_sources`, when already checked;
    ``class_map``: ``model.init_from_class_map``."""
    if not init_from:
        return None
    names = sub_networks(model)
    unknown = [n for n in init_from if n not in names]
    if unknown:
        kind = getattr(model, "registered_name", type(model).__name__)
        raise ConfigError(f"model.init_from: {kind} has no sub-network {unknown[0]!r}; its sub-networks are: "
                          f"{', '.join(names)}.")
    sources = sources or {name: parse_source(name, spec) for name, spec in init_from.items()}
    built: dict = {}  # each source run's model is rebuilt once
    return {name: load_sub_network(model, name, sources[name], class_map, built) for name in init_from}


__all__ = ["Source", "apply_init_from", "check_frozen", "check_sources", "checkpoint_files", "class_map_rows",
           "freeze", "load_sub_network", "map_class_tables", "parse_source", "sha256_of", "sub_networks"]
