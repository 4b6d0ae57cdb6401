"""Load a trained run and translate image files with one of its translators."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from keras_i2i.data.images import DataError, list_image_files, read_image, resize
from keras_i2i.utils import atomic_write_bytes

logger = logging.getLogger(__name__)


class RunError(ValueError):
    """A run directory is missing something (config, checkpoint)."""


def load_run(run_dir, checkpoint: str | None = None):
    """``(config, model)`` of a run: the model rebuilt from ``config.yaml`` with the
    weights of its latest checkpoint (or ``checkpoint``), in float32."""
    import keras
    import tensorflow as tf

    from keras_i2i.config import ConfigError, load_config
    from keras_i2i.models import build_model
    from keras_i2i.training.trainer import latest_checkpoint

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise RunError(f"{run_dir} is not a run directory: it has no config.yaml.")
    try:
        cfg = load_config(config_path)
    except ConfigError as err:
        raise RunError(f"{config_path}: {err}") from None
    path = checkpoint or latest_checkpoint(run_dir)
    if path is None:
        raise RunError(f"{run_dir} has no checkpoint yet; train it first (keras-i2i train).")
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(cfg.model, image_size=cfg.data.crop_size, seed=cfg.train.seed)
    tf.train.Checkpoint(model=model).restore(path).expect_partial()
    model.restored_from = path
    return cfg, model


def translate_array(translator, image: np.ndarray, size: int) -> np.ndarray:
    """Translate one uint8 RGB image of any size: resized to ``size``, translated,
    resized back to its own size."""
    h, w = image.shape[:2]
    x = resize(image, size, size).astype(np.float32)[None] / 127.5 - 1.0
    y = np.asarray(translator(x, training=False))[0]
    y = np.clip(np.rint((y + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return resize(y, w, h)


def collect_inputs(path) -> tuple[list[Path], Path]:
    """Image files of a file or folder, and the base their output names are relative to."""
    path = Path(path)
    if path.is_file():
        return [path], path.parent
    if path.is_dir():
        files, _ = list_image_files(path)
        if not files:
            raise DataError(f"{path} holds no image files.")
        return files, path
    raise DataError(f"{path} does not exist.")


def translate_files(translator, files, output_dir, size: int, base: Path | None = None):
    """Translate ``files`` into PNGs under ``output_dir`` (keeping sub-folders relative
    to ``base``). Unreadable files are skipped and reported. Returns (written, skipped)."""
    output_dir = Path(output_dir)
    written, skipped = 0, []
    for path in files:
        path = Path(path)
        try:
            image = read_image(path)
        except DataError as err:
            skipped.append((path, str(err)))
            logger.warning("Skipping %s: %s", path, err)
            continue
        result = translate_array(translator, image, size)
        relative = path.relative_to(base) if base is not None else Path(path.name)
        buffer = io.BytesIO()
        Image.fromarray(result).save(buffer, format="PNG")
        atomic_write_bytes(output_dir / relative.with_suffix(".png"), buffer.getvalue())
        written += 1
    if skipped:
        logger.warning("Skipped %d unreadable file(s).", len(skipped))
    return written, skipped
