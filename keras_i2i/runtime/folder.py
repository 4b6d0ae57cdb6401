"""An export folder: the directions its ``model.json`` declares and the model file of one
of them (``keras-i2i export`` writes one file per direction and mode into one folder).

Example::

    from keras_i2i.runtime import directions, load

    directions("runs/emoji4/export")          # {"noto2fluent": Direction(...), ...}
    translator = load("runs/emoji4/export", direction="noto2fluent", format="tflite")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from keras_i2i.directions import Direction
from keras_i2i.runtime.errors import RuntimeLoadError
from keras_i2i.runtime.metadata import MODEL_JSON, REEXPORT, RUNTIMES, entry_direction, read_models

#: Model file formats and the names ``format=`` also accepts for them (their runtimes).
FORMATS = {"tflite": "tflite", "litert": "tflite", "onnx": "onnx"}
#: The mode chosen when a direction has several files of one format and none is asked for.
PREFERRED_MODE = "fp32"


def _entries(folder: Path) -> list[dict]:
    """The entries of ``folder``'s ``model.json`` whose model files are present."""
    if not folder.is_dir():
        raise RuntimeLoadError(f"Export folder {folder} does not exist.")
    entries = read_models(folder / MODEL_JSON)
    return [e for e in entries if isinstance(e.get("file"), str) and (folder / e["file"]).is_file()]


def directions(folder: str | os.PathLike) -> dict[str, Direction]:
    """The directions ``folder``'s ``model.json`` declares (those with a file present), by
    name, in file order. Exports made before directions were recorded give CycleGAN's
    ``a2b``/``b2a`` their domains, and other names a direction of unknown domains
    (``source == ("?",)``).

    Raises:
        RuntimeLoadError: no folder, no ``model.json`` or an unreadable one.
    """
    found: dict[str, Direction] = {}
    for entry in _entries(Path(folder)):
        name = entry.get("direction")
        if not isinstance(name, str) or name in found:
            continue
        direction = entry_direction(entry)
        if direction is None:
            try:
                direction = Direction(name, ("?",), "?")
            except ValueError:
                continue
        found[name] = direction
    return found


def _mode(entry: dict) -> Optional[str]:
    quantization = entry.get("quantization")
    return quantization.get("mode") if isinstance(quantization, dict) else None


def _format(entry: dict) -> str:
    fmt = entry.get("format")
    return fmt if isinstance(fmt, str) else Path(entry["file"]).suffix.lstrip(".")


def find_model_file(folder: str | os.PathLike, direction: str, format: Optional[str] = None,
                    mode: Optional[str] = None) -> Path:
    """The model file of ``direction`` in the export folder ``folder``.

    Args:
        folder: a folder written by ``keras-i2i export`` (holding ``model.json``).
        direction: a direction name that ``model.json`` declares.
        format: ``"tflite"`` (or ``"litert"``) or ``"onnx"``; ``None``: any.
        mode: ``"fp32"``, ``"int8"`` ... (``model.json``'s ``quantization.mode``); ``None``:
            the ``fp32`` file when there is one, else the only file there is.

    Raises:
        RuntimeLoadError: the direction is not in the folder (the message lists the ones
            that are), it has no file of that format or mode, or several fit.
    """
    folder = Path(folder)
    if format is not None and format not in FORMATS:
        raise RuntimeLoadError(f"Unknown model format {format!r}; choose from {', '.join(FORMATS)}.")
    fmt = FORMATS.get(format) if format is not None else None
    entries = _entries(folder)
    known = list(dict.fromkeys(e["direction"] for e in entries if isinstance(e.get("direction"), str)))
    if direction not in known:
        raise RuntimeLoadError(
            f"{folder} has no model for direction {direction!r}; its {MODEL_JSON} declares: "
            f"{', '.join(known) or 'none'}. Pick one of those, or {REEXPORT}."
        )
    ofdir = [e for e in entries if e.get("direction") == direction]
    fitting = [e for e in ofdir if (fmt is None or _format(e) == fmt) and (mode is None or _mode(e) == mode)]
    if not fitting:
        what = " ".join(x for x in (mode, f".{fmt}" if fmt else None) if x) or "model"
        have = ", ".join(sorted(e["file"] for e in ofdir))
        flag = f" --{fmt}" if fmt else ""
        raise RuntimeLoadError(
            f"{folder} has no exported {what} file for {direction} (it has {have}); export one with "
            f"`keras-i2i export --run RUN_DIR{flag} --direction {direction}`, or choose another format or mode."
        )
    if len(fitting) > 1 and mode is None:
        preferred = [e for e in fitting if _mode(e) == PREFERRED_MODE]
        if len(preferred) == 1:
            fitting = preferred
    if len(fitting) > 1:
        options = ", ".join(f"{e['file']} ({RUNTIMES.get(_format(e), _format(e))}, {_mode(e)})" for e in fitting)
        raise RuntimeLoadError(
            f"{folder} has several files for {direction}: {options}; choose one with format= and mode= "
            "(or pass the file itself)."
        )
    return folder / fitting[0]["file"]
