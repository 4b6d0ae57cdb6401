"""The ``model.json`` schema, defined once: :mod:`keras_i2i.export.metadata` writes entries
through these definitions and the runtime reads them back, without importing the exporters.

``model.json`` (one per export folder) holds one entry per exported file::

    {
      "schema": "keras_i2i.export/1",
      "updated": "2026-01-01T12:00:00Z",
      "models": [
        {
          "name": "quickstart", "model": "cyclegan",
          "direction": "a2b", "source_domain": "a", "target_domain": "b",
          "sources": ["a"], "conditions": {},
          "file": "a2b.int8.tflite", "format": "tflite", "runtime": "litert", "io": "uint8",
          "input":  {"name": "image", "shape": [1, 64, 64, 3], "layout": "NHWC", "dtype": "uint8",
                     "range": [0, 255], "color": "RGB", "quantization": null},
          "output": {... the same keys ...},
          "preprocess": "none: feed RGB pixel values (uint8)",
          "postprocess": "none: the output is RGB pixel values (uint8)",
          "quantization": {"mode": "int8", "weights": "int8 per channel", "activations": "int8",
                           "io": "...how uint8 I/O is realised...",
                           "calibration": {"images": 100, "requested": 100, "available": 562,
                                           "source": "/data/emoji/trainA", "resize": "bicubic to 64x64"}},
          "parity": {"psnr_db": 36.2, "max_abs_error": 41, "mean_abs_error": 2.1, "images": 16,
                     "min_psnr_db": 28.0, "source": "/data/emoji/testA", "runtime": "keras_i2i.runtime"},
          "size_bytes": 123456, "sha256": "...",
          "keras_i2i_version": "0.1.0", "source_checkpoint": "/runs/quickstart/checkpoints/ckpt-800",
          "created": "2026-01-01T12:00:00Z",
          "tools": {"tensorflow": "2.21.0", ...}
        }
      ]
    }

``direction`` names the file's direction (free-form: ``a2b``, ``noto2fluent``,
``to_fluent``); ``source_domain`` is its primary source domain and ``target_domain`` its
target; ``sources`` (every source domain) and ``conditions`` (what is fixed inside the
translator: a target label, a noise seed, a style code) complete
:meth:`keras_i2i.directions.Direction.as_dict`. ``sources`` and ``conditions`` were added
without changing the schema version: entries written before them are read with
``sources = [source_domain]`` (or, without domains, CycleGAN's ``a2b``/``b2a`` meaning)
and no conditions. A direction with several sources (DeepI2I's ``to_<target>``) is
calibrated and parity-checked on images of every source domain: its ``calibration`` and
``parity`` blocks then add ``domains`` (``{domain: {"images", "available", "source"}}``)
and their ``source`` joins the folders with ``", "``.

``input.quantization`` / ``output.quantization`` are ``{"scale", "zero_point"}`` when a
tensor is quantized (``real = scale * (q - zero_point)``); the exports of this package
never quantize their I/O tensors (uint8 I/O *is* pixel values), so they are ``null``.

Only the fields the runtime needs are validated: the entry's ``file``, and its ``input``
and ``output`` blocks (``shape`` ``[1, H, W, 3]``, ``dtype``, ``range``, optional
``quantization``). Integrity fields (``size_bytes``, ``sha256``) are checked when present.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.directions import Direction, DirectionError, legacy_direction
from keras_i2i.runtime.errors import RuntimeLoadError

SCHEMA = "keras_i2i.export/1"
MODEL_JSON = "model.json"
#: The I/O conventions of exported files: ``float`` ([-1, 1] in and out) or ``uint8`` (pixels).
PREPROCESS = {
    "float": "x = rgb / 127.5 - 1 (float32 in [-1, 1])",
    "uint8": "none: feed RGB pixel values (uint8)",
}
POSTPROCESS = {
    "float": "rgb = clip(round((y + 1) * 127.5), 0, 255)",
    "uint8": "none: the output is RGB pixel values (uint8)",
}
#: The runtime (``Backend.name``) of each exported format.
RUNTIMES = {"tflite": "litert", "onnx": "onnx"}
REEXPORT = "re-export it with `keras-i2i export --run RUN_DIR --out DIR`"
_DTYPES = ("uint8", "int8", "int16", "float32", "float16")


@dataclass(frozen=True)
class TensorSpec:
    """An input or output tensor as ``model.json`` describes it.

    Args:
        name: tensor name in the model file.
        shape: ``(1, height, width, 3)``.
        dtype: numpy dtype name (``"uint8"``, ``"float32"`` ...).
        range: ``(low, high)`` real values that map to pixels 0 and 255
            (``(-1, 1)`` for float I/O, ``(0, 255)`` for pixel I/O).
        quantization: ``(scale, zero_point)`` when the tensor is quantized
            (``real = scale * (q - zero_point)``), else ``None``.
    """

    name: str
    shape: tuple
    dtype: str
    range: tuple
    quantization: Optional[tuple] = None

    @property
    def height(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    @property
    def is_pixels(self) -> bool:
        """True when the tensor holds the pixel values themselves (no conversion at all)."""
        return self.dtype == "uint8" and self.quantization is None and tuple(self.range) == (0, 255)


def model_json_path(model_path: Path) -> Path:
    return Path(model_path).parent / MODEL_JSON


def read_models(path: Path, model_path: Optional[Path] = None) -> list[dict]:
    """The entries (the ``models`` list) of the ``model.json`` at ``path``; ``model_path``
    names the model file it was looked up for, in the error when there is no such json."""
    path = Path(path)
    if not path.is_file():
        beside = f"next to {model_path}" if model_path is not None else f"in {path.parent}"
        raise RuntimeLoadError(
            f"No {MODEL_JSON} {beside}: the runtime reads the input size, dtype and value range from "
            f"the {MODEL_JSON} that `keras-i2i export` writes beside the model files. Copy it along with the "
            f"model file, or {REEXPORT}."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RuntimeLoadError(f"{path} is not valid JSON ({err}); {REEXPORT}.") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise RuntimeLoadError(f"{path} is not a keras-i2i model.json (no 'models' list); {REEXPORT}.")
    return [entry for entry in models if isinstance(entry, dict)]


def read_entry(model_path: Path) -> tuple[dict, Path]:
    """The ``model.json`` entry of ``model_path`` (found by file name) and the json's path."""
    model_path = Path(model_path)
    path = model_json_path(model_path)
    models = read_models(path, model_path)
    for entry in models:
        if entry.get("file") == model_path.name:
            return entry, path
    listed = [str(e.get("file")) for e in models]
    raise RuntimeLoadError(
        f"{path} has no entry for {model_path.name!r} (it lists: {', '.join(listed) or 'nothing'}), so "
        f"{model_path.name} was not exported by keras-i2i into this folder, or was renamed. Keep the exported file "
        f"names, or {REEXPORT}."
    )


def tensor_spec(entry: dict, key: str, where: str) -> TensorSpec:
    """The validated ``input`` or ``output`` block of an entry."""

    def bad(what: str) -> RuntimeLoadError:
        return RuntimeLoadError(f"{where}: the {key!r} block of the entry for {entry.get('file')!r} {what}; {REEXPORT}.")

    block = entry.get(key)
    if not isinstance(block, dict):
        raise bad("is missing")
    shape = block.get("shape")
    if (not isinstance(shape, list) or len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape)
            or shape[0] != 1 or shape[3] != 3):
        raise bad(f"has shape {shape!r}, not [1, H, W, 3] (NHWC RGB, batch 1, fixed size)")
    layout = block.get("layout", "NHWC")
    if layout != "NHWC":
        raise bad(f"has layout {layout!r}; only NHWC is supported")
    dtype = block.get("dtype")
    if dtype not in _DTYPES:
        raise bad(f"has dtype {dtype!r}; supported: {', '.join(_DTYPES)}")
    value_range = block.get("range")
    if (not isinstance(value_range, list) or len(value_range) != 2
            or not all(isinstance(v, (int, float)) for v in value_range) or not value_range[1] > value_range[0]):
        raise bad(f"has range {value_range!r}, not [low, high]")
    quant = block.get("quantization")
    if quant:
        scale, zero_point = (quant.get("scale"), quant.get("zero_point")) if isinstance(quant, dict) else (None, None)
        if not isinstance(scale, (int, float)) or scale <= 0 or not isinstance(zero_point, (int, float)):
            raise bad(f"has quantization {quant!r}, not {{'scale': > 0, 'zero_point': int}}")
        quant = (float(scale), int(zero_point))
    elif np.issubdtype(np.dtype(dtype), np.integer) and tuple(value_range) != (0, 255):
        raise bad(f"is {dtype} with range {value_range} but no quantization parameters")
    return TensorSpec(str(block.get("name", key)), tuple(shape), dtype,
                      (float(value_range[0]), float(value_range[1])), quant or None)


def verify_file(content: bytes, entry: dict, model_path: Path) -> None:
    """Check ``size_bytes`` and ``sha256`` of the entry (those present) against the file."""
    size = entry.get("size_bytes")
    if isinstance(size, int) and size != len(content):
        raise RuntimeLoadError(
            f"{model_path} has {len(content)} bytes but its {MODEL_JSON} entry says {size}: the file was replaced, "
            f"truncated or corrupted after export. Copy it again from the export folder, or {REEXPORT}."
        )
    digest = entry.get("sha256")
    if isinstance(digest, str) and hashlib.sha256(content).hexdigest() != digest.lower():
        raise RuntimeLoadError(
            f"{model_path} does not match the sha256 in its {MODEL_JSON} entry: the file was modified or corrupted "
            f"after export. Copy it again from the export folder, or {REEXPORT}."
        )


# ------------------------------------------------------------------------------ writing
def tensor_entry(details: dict, io: str) -> dict:
    """The ``input``/``output`` block of an entry from a runtime's tensor details
    (``name``, ``shape``, ``dtype``, ``quantization``) and the file's I/O convention."""
    return {
        "name": details["name"],
        "shape": [int(d) for d in details["shape"]],
        "layout": "NHWC",
        "dtype": details["dtype"],
        "range": [0, 255] if io == "uint8" else [-1, 1],
        "color": "RGB",
        "quantization": details.get("quantization"),
    }


def direction_fields(direction: Direction) -> dict:
    """What an entry records of its direction: ``direction``, ``source_domain`` (the
    primary source), ``target_domain``, ``sources`` and ``conditions``."""
    return {
        "direction": direction.name,
        "source_domain": direction.primary_source,
        "target_domain": direction.target,
        "sources": list(direction.source),
        "conditions": dict(direction.conditions),
    }


def entry_direction(entry: dict) -> Optional[Direction]:
    """The :class:`~keras_i2i.directions.Direction` an entry records; entries written
    before ``sources``/``conditions`` existed are read from ``source_domain`` and
    ``target_domain`` (or as CycleGAN's ``a2b``/``b2a`` without them). ``None`` when the
    entry names no usable direction."""
    name = entry.get("direction")
    if not isinstance(name, str):
        return None
    sources = entry.get("sources")
    if not isinstance(sources, list) or not sources:
        sources = [entry["source_domain"]] if isinstance(entry.get("source_domain"), str) else None
    target = entry.get("target_domain")
    if sources is None or not isinstance(target, str):
        return legacy_direction(name)
    conditions = entry.get("conditions") if isinstance(entry.get("conditions"), dict) else {}
    try:
        return Direction(name, tuple(str(s).lower() for s in sources), target.lower(), conditions)
    except DirectionError:
        return None
