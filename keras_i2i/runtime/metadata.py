"""Reading the ``model.json`` written by ``keras-i2i export`` (see
:mod:`keras_i2i.export.metadata` for the format) without importing the exporters.

Only the fields the runtime needs are validated: the entry's ``file``, and its ``input``
and ``output`` blocks (``shape`` ``[1, H, W, 3]``, ``dtype``, ``range``, optional
``quantization`` ``{"scale", "zero_point"}``). Integrity fields (``size_bytes``,
``sha256``) are checked when present.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.runtime.errors import RuntimeLoadError

MODEL_JSON = "model.json"
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


def read_entry(model_path: Path) -> tuple[dict, Path]:
    """The ``model.json`` entry of ``model_path`` (found by file name) and the json's path."""
    model_path = Path(model_path)
    path = model_json_path(model_path)
    if not path.is_file():
        raise RuntimeLoadError(
            f"No {MODEL_JSON} next to {model_path}: the runtime reads the input size, dtype and value range from "
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
    for entry in models:
        if isinstance(entry, dict) and entry.get("file") == model_path.name:
            return entry, path
    listed = [str(e.get("file")) for e in models if isinstance(e, dict)]
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
