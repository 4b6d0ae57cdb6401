"""YAML configs -> frozen dataclasses, with dotted overrides and type checking.

A config has four sections: ``name``, ``data``, ``model`` and ``train``. The
``model`` section's schema belongs to the model named by ``model.name`` (each
model registers its config dataclass in :data:`MODEL_CONFIGS`), so a key that is
valid for one model is an error for another.

    cfg = load_config("quickstart", overrides=["train.max_steps=10"])
    dump_config(cfg, "runs/quickstart/config.yaml")
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Optional

import yaml

from keras_i2i.registry import Registry

MODEL_CONFIGS: Registry[type] = Registry("model")


class ConfigError(ValueError):
    """A config file or override is wrong; the message says which key and why."""


def choices(*values: str, default: str) -> Any:
    """A string field restricted to ``values``."""
    return dataclasses.field(default=default, metadata={"choices": values})


def bounded(default: Any, *, at_least: float | None = None, above: float | None = None,
            below: float | None = None) -> Any:
    """A number field restricted to a range (``None`` stays allowed for optional fields)."""
    bounds = {k: v for k, v in (("at_least", at_least), ("above", above), ("below", below)) if v is not None}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def check_bounds(key: str, value: Any, bounds: dict) -> None:
    """Raise :class:`ConfigError` naming ``key``, ``value`` and the allowed range when
    ``value`` is outside ``bounds`` (from :func:`bounded`)."""
    if value is None or not bounds:
        return
    low, high = bounds.get("at_least"), bounds.get("below")
    above = bounds.get("above")
    if (low is not None and value < low) or (above is not None and value <= above) or (
            high is not None and value >= high):
        allowed = [f">= {low:g}" if low is not None else None, f"> {above:g}" if above is not None else None,
                   f"< {high:g}" if high is not None else None]
        raise ConfigError(f"{key}: {value!r} is not allowed; it must be {' and '.join(a for a in allowed if a)}.")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the domains come from and how images are prepared.

    Set one of: ``dataset`` (``emoji``, ``emoji4`` or ``emoji4_categories``, bundled, or
    a standard CycleGAN dataset name such as ``horse2zebra``), ``root`` (a folder with trainA/trainB and
    optionally testA/testB, or with train/<domain>/ and test/<domain>/), ``a`` and
    ``b`` (two folders of images), or ``domains`` (``{name: folder}``, any number).
    """

    dataset: Optional[str] = None
    root: Optional[str] = None
    a: Optional[str] = None
    b: Optional[str] = None
    test_a: Optional[str] = None
    test_b: Optional[str] = None
    # Named domains, {name: folder}, for any number of domains (see keras_i2i.data.domains).
    domains: Optional[dict[str, str]] = None
    # The domains' names in id order, recorded by the trainer in a run's config.yaml (so a
    # run knows them when its data is gone); leave unset in your own configs.
    domain_names: Optional[tuple[str, ...]] = None
    download: bool = False
    load_size: int = bounded(286, at_least=1)
    crop_size: int = bounded(256, at_least=1)
    preprocess: str = choices("resize_and_crop", "scale_width_and_crop", "crop", default="resize_and_crop")
    flip: bool = True
    cache: bool = True
    max_images: Optional[int] = bounded(None, at_least=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """What every model's ``model:`` section has besides its own keys (each model's config
    dataclass derives from this one); the trainer acts on them, the models never see files.

    ``init_from``: ``{sub_network: source}`` loads named sub-networks (attributes of the
    model that are Keras layers, e.g. ``gen_a2b``, ``disc_b``) before step 0, from another
    run (``RUN_DIR``, ``RUN_DIR:ckpt-N``; ``...#other_name`` takes the source run's
    sub-network of that name) or from a Keras file (``.weights.h5``, or ``.keras``, whose
    weights are copied). ``--resume`` never applies it again.
    ``init_from_class_map``: how the rows of class-indexed variables (a BigGAN's class
    embeddings) start from a source run of another label space: ``mean`` (every class
    starts from the mean of all the source's rows) or ``{class: source class or [source
    classes]}`` for every class of this model (a list: the mean of those rows); the
    source's class names are its run's domains. Needed when the class counts differ;
    unused for a source with this model's classes (same names and order).
    ``frozen``: sub-networks that are never trained (no optimizer touches or keeps
    state for them; their weights stay bit-identical).
    ``init_from_record``: written by the trainer into a run's ``config.yaml``: for each
    loaded sub-network its ``source``, ``checkpoint`` and ``sha256`` (and ``class_map``,
    ``{class: [source classes]}``, where rows were mapped); leave it unset.
    """

    init_from: Optional[dict[str, str]] = None
    init_from_class_map: Any = None  # "mean" or {class: source class or [source classes]}
    frozen: tuple[str, ...] = ()
    init_from_record: Optional[dict[str, dict[str, Any]]] = None

    #: Whether the model has translators (a class attribute, not a key): a generative model
    #: such as ``biggan`` draws images and has nothing for ``train.eval_every`` to evaluate.
    translates = True


#: The keys of :class:`ModelConfig` (written after a model's own keys in ``config.yaml``).
MODEL_COMMON_KEYS = tuple(f.name for f in dataclasses.fields(ModelConfig))


def check_model_common(model) -> None:
    """Raise :class:`ConfigError` for a ``model.init_from`` or ``model.frozen`` entry that
    cannot name a sub-network or a source (the names themselves are checked against the
    model when it is built)."""
    for name, source in (getattr(model, "init_from", None) or {}).items():
        if not str(name).isidentifier():
            raise ConfigError(f"model.init_from: {name!r} is not a sub-network name (e.g. gen_a2b).")
        if not str(source).strip():
            raise ConfigError(f"model.init_from.{name}: give a run directory (RUN_DIR or RUN_DIR:ckpt-N) "
                              "or a weights file (.weights.h5, .keras).")
    for name in getattr(model, "frozen", ()):
        if not str(name).isidentifier():
            raise ConfigError(f"model.frozen: {name!r} is not a sub-network name (e.g. gen_a2b).")
    check_class_map(getattr(model, "init_from_class_map", None))


def check_class_map(class_map) -> None:
    """Raise :class:`ConfigError` when ``model.init_from_class_map`` is neither ``mean`` nor
    ``{class: source class or [source classes]}`` (the names are checked against both label
    spaces when the sources are loaded; without ``model.init_from`` it is unused)."""
    key = "model.init_from_class_map"
    if class_map is None or class_map == "mean":
        return
    if not isinstance(class_map, dict) or not class_map:
        raise ConfigError(f"{key}: expected mean or a mapping {{class: source class or [source classes]}}, "
                          f"got {class_map!r}.")
    for target, value in class_map.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) for v in values):
            raise ConfigError(f"{key}.{target}: expected a source class name or a non-empty list of them, "
                              f"got {value!r}.")


#: The metrics of ``keras_i2i.metrics.METRICS`` (``train.eval_metrics`` is checked against them
#: without importing the metrics; a test keeps them in step).
METRIC_NAMES = ("fc", "fid", "kid", "lpips", "psnr", "rc", "ssim")
#: ``train.strategy`` names (``train --strategy``); built by :mod:`keras_i2i.training.strategy`.
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
#: The image-to-image generators of ``keras_i2i.networks.GENERATORS`` (model configs and
#: ``import-torch --arch`` offer them without importing Keras; a test keeps them in step).
GENERATOR_NAMES = ("resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128", "cut_resnet")
#: The feature networks of ``keras_i2i.metrics.FEATURES`` (``train.eval_features``,
#: ``evaluate --features``), TF-free; a test keeps them in step.
FEATURE_NETWORKS = ("inception", "vgg16")


#: ``train.lr_policy`` names (:func:`keras_i2i.training.schedules.make_schedule`).
LR_POLICIES = ("linear", "constant")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """One player's optimizer, ``train.optimizers.<player>`` (Adam; AdamW where
    ``weight_decay`` > 0). A key left unset takes ``train.lr``, ``train.beta1``,
    ``train.beta2``, ``train.lr_policy``, Adam's epsilon 1e-7 and no weight decay."""

    lr: Optional[float] = bounded(None, above=0)
    beta1: Optional[float] = bounded(None, at_least=0, below=1)
    beta2: Optional[float] = bounded(None, at_least=0, below=1)
    epsilon: Optional[float] = bounded(None, above=0)
    weight_decay: Optional[float] = bounded(None, at_least=0)
    lr_policy: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything around the model: schedule, batch, precision, checkpoints, logs."""

    batch_size: int = bounded(1, at_least=1)
    n_epochs: int = bounded(100, at_least=0)
    n_epochs_decay: int = bounded(100, at_least=0)
    max_steps: Optional[int] = bounded(None, at_least=1)
    lr: float = bounded(2e-4, above=0)
    beta1: float = bounded(0.5, at_least=0, below=1)
    beta2: float = bounded(0.999, at_least=0, below=1)
    lr_policy: str = choices(*LR_POLICIES, default="linear")
    # Per-player optimizer settings, {player: OptimizerConfig}, e.g. {gen: {lr: 1e-4, beta1: 0.0},
    # disc: {lr: 4e-4}} (the players are the model's: cyclegan gen, disc; xgan gen, disc_a, disc_b).
    optimizers: Optional[dict[str, OptimizerConfig]] = None
    # Micro-batches per step: each step reads accumulate * batch_size images (per replica) and
    # sums the gradients of accumulate slices of batch_size, one update (exact for batch-mean
    # losses without batch norm). Steps, schedules and the data position count updates.
    accumulate: int = bounded(1, at_least=1)
    # Decay of an EMA of the generator weights (e.g. 0.999), used for samples, evaluation,
    # test translations, translate and export; null: none.
    ema_decay: Optional[float] = bounded(None, above=0, below=1)
    # Steps (counted from 1, as BigGAN-PyTorch's ema_start) below which the EMA is a copy of
    # the generator; it averages from step ema_start on (0: from the start).
    ema_start: int = bounded(0, at_least=0)
    checkpoint_every: int = bounded(1000, at_least=1)
    keep_checkpoints: int = bounded(3, at_least=1)
    log_every: int = bounded(100, at_least=1)
    sample_every: int = bounded(1, at_least=1)
    num_samples: int = bounded(4, at_least=1)
    precision: str = choices("auto", "fp32", "bf16", "fp16", default="auto")
    jit_compile: bool = False
    strategy: str = choices(*STRATEGIES, default="auto")
    seed: int = 0
    deterministic: bool = False
    translate_test: bool = True
    # Evaluation during training (keras-i2i evaluate's metrics): every eval_every epochs
    # (0: never) on eval_split; keep_best keeps the best checkpoint by a metric, e.g.
    # "fid" (the mean over directions) or "a2b/fid", in checkpoints/best/.
    eval_every: int = bounded(0, at_least=0)
    eval_metrics: tuple[str, ...] = ("fid", "kid")
    eval_split: str = choices("test", "train", default="test")
    keep_best: Optional[str] = None
    eval_inception_weights: str = "imagenet"
    # FID/KID/RC/FC features (keras-i2i evaluate --features): "inception" (ImageNet weights,
    # downloaded once) or "vgg16" (offline; not comparable with published FIDs), at
    # eval_feature_size (null: the network's own, 299 or 224).
    eval_features: str = choices(*FEATURE_NETWORKS, default="inception")
    eval_feature_size: Optional[int] = bounded(None, at_least=32)


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run: ``name`` names the default run directory ``runs/<name>``."""

    name: str
    data: DataConfig
    model: Any
    train: TrainConfig


# ----------------------------------------------------------------------------- coercion


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    if origin in (tuple, list):
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    if tp is Any:  # kept as YAML gives it (e.g. another run's whole model section)
        return value
    if dataclasses.is_dataclass(tp):  # a nested section, e.g. the values of train.optimizers
        return from_dict(tp, value, key + ".")
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {_type_name(key_type)} to {_type_name(value_type)}, "
                              f"got {value!r}")
        return {_coerce(k, key_type, key): _coerce(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        (inner,) = typing.get_args(tp)[:1]
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported field type {tp!r}")


def from_dict(cls: type, raw: Any, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a dict, checking keys, types and choices."""
    where = prefix.rstrip(".") or "config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"Unknown key '{prefix}{unknown[0]}' in {where}. Valid keys: "
            + ", ".join(f"{prefix}{k}" for k in fields)
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, raw[name], key + ".")
            continue
        value = _coerce(raw[name], tp, key)
        allowed = field.metadata.get("choices")
        if allowed and value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
        check_bounds(key, value, field.metadata.get("bounds", {}))
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{where}: {err}") from None


# ----------------------------------------------------------------------------- loading


def project_root() -> Path:
    """The source checkout this package lives in."""
    return Path(__file__).resolve().parent.parent


def bundled_configs() -> Path:
    """The configs shipped inside the package (``configs/`` at the top of the checkout
    is a link to this folder)."""
    return Path(__file__).resolve().parent / "configs"


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A config file path, or a name relative to ``configs/`` (``quickstart``,
    ``cyclegan/horse2zebra``), looked up in the current folder's ``configs/`` and then
    in the configs shipped with the package."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for base in (Path.cwd() / "configs", bundled_configs()):
        for suffix in ("", ".yaml", ".yml"):
            cand = base / f"{name_or_path}{suffix}"
            if cand.is_file():
                return cand
    known = sorted(str(p.relative_to(bundled_configs()).with_suffix("")) for p in bundled_configs().rglob("*.yaml"))
    raise ConfigError(f"No config file {str(name_or_path)!r}. Give a YAML path or one of: {', '.join(known)}")


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-4"`` -> (["train", "lr"], "1e-4" parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"Override {item!r} must look like key.sub=value")
    key, _, text = item.partition("=")
    keys = [k for k in key.strip().split(".") if k]
    if not keys:
        raise ConfigError(f"Override {item!r} has no key")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return keys, value


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    raw = _deepcopy(raw)
    for item in overrides:
        keys, value = parse_override(item)
        node = raw
        for k in keys[:-1]:
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"Override {item!r}: {k!r} is not a section")
            node = child
        node[keys[-1]] = value
    return raw


def _deepcopy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deepcopy(v) for v in raw]
    return raw


def config_from_dict(raw: dict) -> Config:
    """Validate a raw mapping (from YAML plus overrides) into a :class:`Config`."""
    import keras_i2i.models  # noqa: F401  (registers the model config classes)

    if not isinstance(raw, dict):
        raise ConfigError("A config must be a mapping with sections name, data, model, train")
    unknown = sorted(set(raw) - {"name", "data", "model", "train"})
    if unknown:
        raise ConfigError(f"Unknown key {unknown[0]!r}. Valid keys: name, data, model, train")
    model_raw = dict(raw.get("model") or {})
    model_name = model_raw.get("name", "cyclegan")
    try:
        model_cls = MODEL_CONFIGS.get(str(model_name))
    except ValueError as err:
        raise ConfigError(f"model.name: {err}") from None
    model_raw["name"] = str(model_name)
    name = raw.get("name") or "run"
    cfg = Config(
        name=_coerce(name, str, "name"),
        data=from_dict(DataConfig, raw.get("data"), "data."),
        model=from_dict(model_cls, model_raw, "model."),
        train=from_dict(TrainConfig, raw.get("train"), "train."),
    )
    validate(cfg)
    return cfg


def check_optimizers(train: TrainConfig, model_name: str) -> None:
    """Raise :class:`ConfigError` for a ``train.optimizers`` key that is not one of the
    model's players (listing them) or an ``lr_policy`` that is not a policy."""
    if not train.optimizers:
        return
    from keras_i2i.models import MODELS

    players = MODELS.get(model_name).players
    for player, settings in train.optimizers.items():
        if player not in players:
            raise ConfigError(f"train.optimizers.{player}: model {model_name} has no player {player!r}; its players "
                              f"are {', '.join(players) or '(none: it cannot be trained)'}.")
        if settings.lr_policy is not None and settings.lr_policy not in LR_POLICIES:
            raise ConfigError(f"train.optimizers.{player}.lr_policy: {settings.lr_policy!r} is not one of "
                              f"{', '.join(LR_POLICIES)}")


def validate(cfg: Config) -> None:
    """Checks that involve several keys (each key's own range is checked as it is read),
    then the model's own: its config class's ``validate(data)`` says whether its
    networks take ``data.crop_size``. Raises :class:`ConfigError`."""
    data, train = cfg.data, cfg.train
    if data.preprocess == "resize_and_crop" and data.load_size < data.crop_size:
        raise ConfigError(
            f"data.load_size: {data.load_size} is less than data.crop_size ({data.crop_size}); with "
            f"data.preprocess=resize_and_crop it must be at least the crop size."
        )
    if train.max_steps is None and train.n_epochs + train.n_epochs_decay < 1:
        raise ConfigError(
            f"train.n_epochs + train.n_epochs_decay: {train.n_epochs} + {train.n_epochs_decay} trains no step; "
            "make their sum at least 1, or set train.max_steps."
        )
    check_optimizers(train, cfg.model.name)
    if train.ema_start and train.ema_decay is None:
        raise ConfigError(f"train.ema_start: {train.ema_start} needs an EMA; set train.ema_decay too (e.g. 0.9999).")
    if train.eval_every or train.keep_best:  # metric names and keep_best (the trainer checks the strategy too)
        check_train_eval(train)
        if not type(cfg.model).translates:
            raise ConfigError(f"train.eval_every: model {cfg.model.name} draws images and has no translators to "
                              "evaluate; leave train.eval_every and train.keep_best unset (keras-i2i sample draws "
                              "images from the run).")
    check_model_common(cfg.model)
    check = getattr(cfg.model, "validate", None)
    if check is not None:
        check(data)


def keep_best_key(keep_best: str) -> str:
    """``"fid"`` -> ``"mean/fid"``; ``"a2b/fid"`` stays."""
    return keep_best if "/" in keep_best else f"mean/{keep_best}"


def check_train_eval(train) -> None:
    """Fail at load time when the ``train.eval_*``/``keep_best`` settings cannot work (metric
    names from :data:`METRIC_NAMES`, so the config imports no metrics code)."""
    if train.eval_every < 0:
        raise ConfigError(f"train.eval_every must be 0 (off) or a number of epochs; got {train.eval_every}.")
    metrics = list(dict.fromkeys(train.eval_metrics))
    known = ", ".join(sorted(METRIC_NAMES))
    if train.eval_every:
        if not metrics:
            raise ConfigError(f"train.eval_metrics: No metrics given. Known metrics: {known}")
        for name in metrics:
            if name not in METRIC_NAMES:
                raise ConfigError(f"train.eval_metrics: Unknown metric {name!r}. Known metrics: {known}")
    if train.keep_best is None:
        return
    if not train.eval_every:
        raise ConfigError("train.keep_best needs train.eval_every (epochs between evaluations).")
    name = keep_best_key(train.keep_best).rsplit("/", 1)[1]
    if name not in metrics:
        raise ConfigError(f"train.keep_best: {name!r} is not one of train.eval_metrics ({', '.join(metrics)}). "
                          f"Known metrics: {known}")


def load_config(name_or_path: str | os.PathLike = "quickstart", overrides=()) -> Config:
    """Load a YAML config (path or name under ``configs/``) and apply ``key=value`` overrides."""
    path = resolve_config_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping with sections name, data, model, train")
    raw.setdefault("name", path.stem)
    return config_from_dict(apply_overrides(raw, list(overrides)))


def to_dict(cfg: Config) -> dict:
    raw = dataclasses.asdict(cfg)
    model = raw.get("model")
    if isinstance(model, dict):  # a model's own keys first, then those all models share
        raw["model"] = {**{k: v for k, v in model.items() if k not in MODEL_COMMON_KEYS},
                        **{k: model[k] for k in MODEL_COMMON_KEYS if k in model}}
    return raw


def dump_config(cfg: Config, path: str | os.PathLike | None = None) -> str:
    """YAML text of ``cfg``; written atomically to ``path`` when given."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    if path is not None:
        from keras_i2i.utils import atomic_write_text

        atomic_write_text(path, text)
    return text


def with_overrides(cfg: Config, overrides) -> Config:
    """A copy of ``cfg`` with dotted overrides applied (and validated)."""
    return config_from_dict(apply_overrides(to_dict(cfg), list(overrides)))
