"""Small shared helpers (no TensorFlow): the pixel <-> [-1, 1] convention, UTC time stamps,
atomic file writes, replacing a folder."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def pixels_to_unit(pixels) -> np.ndarray:
    """uint8 RGB pixels in [0, 255] as the models take them: float32 in [-1, 1],
    ``x = rgb / 127.5 - 1`` (the convention every translator, export and metric uses)."""
    return np.asarray(pixels).astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def unit_to_pixels(y) -> np.ndarray:
    """A model output in [-1, 1] back to uint8 pixels: ``clip(round((y + 1) * 127.5), 0, 255)``."""
    return np.clip(np.rint((np.asarray(y, np.float32) + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def utc_now() -> str:
    """The current UTC time to the second, ISO 8601 with a ``Z`` (``2024-05-01T12:00:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


#: Prefix of the hidden sibling (``.<name>.old-*``) that :func:`replace_dir` moves a
#: replaced folder to; one left by a crash can be found by it and removed.
OLD_DIR_PREFIX = "old-"


def replace_dir(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the finished folder ``new`` to ``target``, replacing what was there only once
    ``new`` is complete: the old ``target`` is moved aside (``.<name>.old-*`` beside it),
    put back if the move fails, and deleted after."""
    new, target = Path(new), Path(target)
    aside = None
    if target.exists() or target.is_symlink():
        logging.getLogger(__name__).info("Replacing existing folder %s", target)
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.{OLD_DIR_PREFIX}", dir=target.parent))
        os.replace(target, aside / target.name)
    try:
        os.replace(new, target)
    except OSError:
        if aside is not None:
            os.replace(aside / target.name, target)
            aside.rmdir()
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
