"""The config of a distillation run (``keras-i2i distill``): a distill config (the
student, the losses, training) joined with what the teacher run says (its data, its
model section, its direction, its discriminator's settings) and ``model.init_from``
entries that load the teacher's translator and discriminator from its checkpoint
before step 0. The run is then trained, resumed, evaluated and exported like any other.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import yaml

from keras_i2i.config import (
    Config, ConfigError, apply_overrides, config_from_dict, load_config, resolve_config_path, to_dict,
)
from keras_i2i.runs import CHECKPOINT_DIR, CONFIG_FILE, RunError, find_checkpoint, newest_checkpoint, run_domains

logger = logging.getLogger(__name__)


def widest_student(max_gmac: float, n_blocks: int, side: int) -> int:
    """The largest ``ngf`` whose mobile ResNet student with ``n_blocks`` blocks costs at most
    ``max_gmac`` GMAC on a ``side`` x ``side`` image (the closed-form count, which the
    counted graph matches).

    Raises:
        ConfigError: not even ``ngf`` 1 fits.
    """
    from keras_i2i.networks.mobile_resnet import mobile_resnet_macs

    budget, best = max_gmac * 1e9, 0
    while best < 1024 and mobile_resnet_macs(best + 1, n_blocks, side) <= budget:
        best += 1
    if best == 0:
        raise ConfigError(f"--max-gmac {max_gmac:g}: even the narrowest student (ngf 1, {n_blocks} blocks) costs "
                          f"{mobile_resnet_macs(1, n_blocks, side) / 1e9:.4f} GMAC at {side}x{side}; raise the "
                          "budget or lower model.n_blocks.")
    return best


def distill_config(teacher_dir, config_name: str = "distill/emoji64", direction: Optional[str] = None,
                   checkpoint: Optional[str] = None, overrides: Sequence[str] = (),
                   max_gmac: Optional[float] = None) -> Config:
    """The resolved config of a new run that distils ``teacher_dir``'s translator.

    Args:
        teacher_dir: a trained (or imported) run directory.
        config_name: a distill config (``model.name: distill``): a name under configs/ or a path.
        direction: the teacher's direction to distil. [default: its first]
        checkpoint: the teacher's checkpoint (name or prefix). [default: its newest complete one]
        overrides: ``key=value`` overrides applied last (``--set``).
        max_gmac: choose the student's width (``model.ngf``): the widest whose MACs at
            ``data.crop_size`` are at most this many GMAC (:func:`widest_student`).

    Raises:
        RunError: ``teacher_dir`` is not a run or has no checkpoint.
        ConfigError: the distill config is not one, or the direction is unknown.
    """
    from keras_i2i.directions import pick
    from keras_i2i.models import build_model
    from keras_i2i.models.distill import TEACHER_DISC_KEYS, teacher_discriminator
    from keras_i2i.networks.mobile_resnet import mobile_resnet_macs

    teacher_dir = Path(teacher_dir).expanduser().absolute()
    if not (teacher_dir / CONFIG_FILE).is_file():
        raise RunError(f"--teacher {teacher_dir} is not a run directory (it has no {CONFIG_FILE}); give a trained "
                       "or imported run.")
    try:
        teacher_cfg = load_config(teacher_dir / CONFIG_FILE)
    except ConfigError as err:
        raise RunError(f"{teacher_dir / CONFIG_FILE}: {err}") from None
    directory = teacher_dir / CHECKPOINT_DIR
    prefix = find_checkpoint(checkpoint, directory) if checkpoint else newest_checkpoint(directory)
    if prefix is None:
        raise RunError(f"--teacher {teacher_dir} has no complete checkpoint; train it first (keras-i2i train).")
    path = resolve_config_path(config_name)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict) or (raw.get("model") or {}).get("name") != "distill":
        raise ConfigError(f"--config {config_name}: {path} is not a distill config (model.name: distill); use one "
                          "under configs/distill/, e.g. distill/emoji64.")

    import keras

    keras.mixed_precision.set_global_policy("float32")
    domains = run_domains(teacher_cfg)
    teacher = build_model(teacher_cfg.model, image_size=teacher_cfg.data.crop_size, domains=domains)
    chosen = pick(teacher.directions(), direction) if direction else next(iter(teacher.directions().values()))
    teacher_raw = to_dict(teacher_cfg)
    model = dict(raw["model"])
    model.update(teacher=str(teacher_dir), teacher_model=teacher_raw["model"],
                 teacher_image_size=teacher_cfg.data.crop_size, teacher_domains=list(domains), direction=chosen.name)
    init_from = {"teacher": f"{teacher_dir}:{Path(prefix).name}#{chosen.name}"}
    disc = teacher_discriminator(teacher, chosen)
    if disc is not None and all(k in teacher_raw["model"] for k in TEACHER_DISC_KEYS):
        model.update({ours: teacher_raw["model"][theirs] for theirs, ours in TEACHER_DISC_KEYS.items()})
        init_from["disc"] = f"{teacher_dir}:{Path(prefix).name}#{disc}"
    model["init_from"] = {**init_from, **(model.get("init_from") or {})}
    data = {k: v for k, v in teacher_raw["data"].items()}
    data.update(raw.get("data") or {})
    raw = {**raw, "name": raw.get("name") or f"distill_{path.stem}", "data": data, "model": model}
    cfg = config_from_dict(apply_overrides(raw, list(overrides)))
    if max_gmac is not None:
        if any(o.partition("=")[0].strip() == "model.ngf" for o in overrides):
            raise ConfigError("Give either --max-gmac (which chooses model.ngf) or --set model.ngf, not both.")
        ngf = widest_student(max_gmac, cfg.model.n_blocks, cfg.data.crop_size)
        cfg = config_from_dict(apply_overrides(raw, [*overrides, f"model.ngf={ngf}"]))
        logger.info("--max-gmac %g: student ngf %d (%.4f GMAC at %dx%d).", max_gmac, ngf,
                    mobile_resnet_macs(ngf, cfg.model.n_blocks, cfg.data.crop_size) / 1e9, cfg.data.crop_size,
                    cfg.data.crop_size)
    logger.info("Distilling %s (%s, %s) into a mobile ResNet student (ngf %d, %d blocks)%s.", teacher_dir,
                chosen.name, Path(prefix).name, cfg.model.ngf, cfg.model.n_blocks,
                f"; discriminator from its {disc}" if "disc" in init_from else "")
    return cfg


__all__ = ["distill_config", "widest_student"]
