"""``model.json`` (what the runtimes read) and ``export_report.json`` (what happened).

``model.json`` holds one entry per exported file, merged across exports into the same
folder (an entry is replaced when its file is exported again) and written atomically
under a lock::

    {
      "schema": "keras_i2i.export/1",
      "updated": "2026-01-01T12:00:00Z",
      "models": [
        {
          "name": "quickstart", "model": "cyclegan", "direction": "a2b",
          "source_domain": "a", "target_domain": "b",
          "file": "a2b.int8.tflite", "format": "tflite", "runtime": "litert",
          "io": "uint8",
          "input":  {"name": "image", "shape": [1, 64, 64, 3], "layout": "NHWC", "dtype": "uint8",
                     "range": [0, 255], "color": "RGB", "quantization": null},
          "output": {... the same keys ...},
          "preprocess": "none: feed RGB pixel values",
          "postprocess": "none: the output is RGB pixel values",
          "quantization": {"mode": "int8", "weights": "int8 per channel", "activations": "int8",
                           "io": "...how uint8 I/O is realised...",
                           "calibration": {"images": 100, "requested": 100, "available": 562,
                                           "source": "/data/emoji/trainA", "resize": "bicubic to 64x64"}},
          "parity": {"psnr_db": 36.2, "max_abs_error": 41, "mean_abs_error": 2.1, "images": 16,
                     "min_psnr_db": 28.0, "source": "/data/emoji/testA"},
          "size_bytes": 123456, "sha256": "...",
          "keras_i2i_version": "0.1.0", "source_checkpoint": "/runs/quickstart/checkpoints/ckpt-800",
          "created": "2026-01-01T12:00:00Z",
          "tools": {"tensorflow": "2.21.0", ...}
        }
      ]
    }

``input.quantization`` / ``output.quantization`` are ``{"scale", "zero_point"}`` when a
tensor is quantized (``real = scale * (q - zero_point)``); the exports of this package
never quantize their I/O tensors (uint8 I/O *is* pixel values), so they are ``null``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from keras_i2i.export.common import ExportError, atomic_write

SCHEMA = "keras_i2i.export/1"
MODEL_JSON = "model.json"
REPORT_JSON = "export_report.json"

PREPROCESS = {
    "float": "x = rgb / 127.5 - 1 (float32 in [-1, 1])",
    "uint8": "none: feed RGB pixel values (uint8)",
}
POSTPROCESS = {
    "float": "rgb = clip(round((y + 1) * 127.5), 0, 255)",
    "uint8": "none: the output is RGB pixel values (uint8)",
}
RUNTIMES = {"tflite": "litert", "onnx": "onnx"}


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tensor_entry(details: dict, io: str) -> dict:
    """The ``input``/``output`` block of an entry from a runtime's tensor details."""
    return {
        "name": details["name"],
        "shape": [int(d) for d in details["shape"]],
        "layout": "NHWC",
        "dtype": details["dtype"],
        "range": [0, 255] if io == "uint8" else [-1, 1],
        "color": "RGB",
        "quantization": details.get("quantization"),
    }


def file_digest(content: bytes) -> dict:
    return {"size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def tool_versions(fmt: str) -> dict:
    from importlib import metadata

    names = {"tflite": ("tensorflow", "ai-edge-litert"), "onnx": ("tensorflow", "tf2onnx", "onnx", "onnxruntime")}[fmt]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            pass
    return versions


@contextlib.contextmanager
def _locked(out_dir: Path):
    """An exclusive lock on the folder ``out_dir`` itself around a read-modify-write
    (POSIX ``flock`` on the directory, so no lock file is left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_model_json(out_dir: str | os.PathLike) -> dict:
    """The ``model.json`` of ``out_dir`` (an empty one if there is none)."""
    path = Path(out_dir) / MODEL_JSON
    if not path.is_file():
        return {"schema": SCHEMA, "updated": None, "models": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"{path} is not valid JSON ({err}); move it away and export again.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ExportError(f"{path} is not a keras-i2i model.json (no 'models' list); move it away and export again.")
    return data


def update_model_json(out_dir: str | os.PathLike, entries: Iterable[dict], remove: Iterable[str] = ()) -> dict:
    """Merge ``entries`` into ``out_dir/model.json`` (replacing entries of the same file, and
    dropping those of the files in ``remove``), then write it atomically. Returns it."""
    out_dir = Path(out_dir)
    with _locked(out_dir):
        data = read_model_json(out_dir)
        by_file = {e.get("file"): e for e in data["models"]}
        for name in remove:
            by_file.pop(name, None)
        for entry in entries:
            by_file[entry["file"]] = entry
        data = {"schema": SCHEMA, "updated": utc_now(), "models": [by_file[k] for k in sorted(by_file)]}
        atomic_write(out_dir / MODEL_JSON, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    return data


def write_report(out_dir: str | os.PathLike, report: dict) -> Path:
    path = Path(out_dir) / REPORT_JSON
    atomic_write(path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    return path
