"""Writing ``model.json`` (what the runtimes read) and ``export_report.json`` (what happened).

The ``model.json`` schema is defined once, in :mod:`keras_i2i.runtime.metadata` (which
the runtime reads with); this module builds entries through its definitions
(:func:`model_entry`), merges them across exports into the same folder (an entry is
replaced when its file is exported again) and writes the file atomically under a lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from keras_i2i.directions import Direction
from keras_i2i.export.common import ExportError, atomic_write
from keras_i2i.utils import utc_now  # noqa: F401 - export.metadata.utc_now is used by the pipeline
from keras_i2i.runtime.metadata import (  # noqa: F401 - the schema's definitions, re-exported for the exporters
    MODEL_JSON,
    POSTPROCESS,
    PREPROCESS,
    RUNTIMES,
    SCHEMA,
    direction_fields,
    tensor_entry,
)

REPORT_JSON = "export_report.json"


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


def model_entry(*, name: str, model: str | None, direction: Direction, file: str, fmt: str, io: str,
                inp: dict, outp: dict, quantization: dict, parity: dict, content: bytes, checkpoint: str) -> dict:
    """The ``model.json`` entry of an exported file (the schema of
    :mod:`keras_i2i.runtime.metadata`).

    Args:
        name: the run's name; model: the model's registered name.
        direction: the file's :class:`~keras_i2i.directions.Direction`.
        file: the file name; fmt: ``"tflite"`` or ``"onnx"``; io: ``"uint8"`` or ``"float"``.
        inp, outp: the file's tensor details (``name``, ``shape``, ``dtype``, ``quantization``).
        quantization: the mode's description (``mode``, ``weights``, ``activations`` ...).
        parity: the parity measurement (filled in once measured; may start empty).
        content: the file's bytes (for ``size_bytes`` and ``sha256``).
        checkpoint: the checkpoint it was exported from.
    """
    from keras_i2i import __version__

    return {
        "name": name,
        "model": model,
        **direction_fields(direction),
        "file": file,
        "format": fmt,
        "runtime": RUNTIMES[fmt],
        "io": io,
        "input": tensor_entry(inp, io),
        "output": tensor_entry(outp, io),
        "preprocess": PREPROCESS[io],
        "postprocess": POSTPROCESS[io],
        "quantization": quantization,
        "parity": parity,
        **file_digest(content),
        "keras_i2i_version": __version__,
        "source_checkpoint": checkpoint,
        "created": utc_now(),
        "tools": tool_versions(fmt),
    }


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
