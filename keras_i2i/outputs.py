"""Output paths that are safe to write: never an input, never under a file, checked first.

Every command that writes checks its outputs with these before it starts work (before
TensorFlow or a model is loaded where it can):

- :func:`check_not_input` refuses an output that resolves (symbolic links followed) to
  something the command reads, or to a folder that it reads recursively;
- :func:`check_writable_dir` and :func:`check_writable_file` refuse a path that cannot be
  created or written (a path under a regular file, a folder without write permission),
  without creating anything;
- :func:`make_dir` creates an output folder when the work is done and there is something
  to write.

All raise :class:`OutputError`, whose message the CLI prints as one ``Error: ...`` line.
This module imports neither TensorFlow nor Keras (the runtime and the webcam use it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from keras_i2i.runs import CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE

#: A run directory's own files, which no output may replace: its config, its checkpoint
#: folder and its metrics log.
RUN_FILES = (CONFIG_FILE, CHECKPOINT_DIR, METRICS_FILE)
#: Suffixes of exported model files (``keras-i2i export``).
MODEL_SUFFIXES = (".tflite", ".onnx")


class OutputError(ValueError):
    """An output path would overwrite an input, or cannot be created or written; the
    message says which path, why, and what to do."""


def _resolved(path) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def run_inputs(run_dir) -> list[Path]:
    """What an output must never replace in run directory ``run_dir``: ``config.yaml``, the
    checkpoint folder, ``metrics.jsonl`` and the exported model files with their
    ``model.json`` in ``export/``."""
    run_dir = Path(run_dir)
    export = run_dir / "export"
    exported = sorted(p for p in export.iterdir() if p.suffix in MODEL_SUFFIXES) if export.is_dir() else []
    return [*(run_dir / name for name in RUN_FILES), *exported, export / "model.json"]


def model_inputs(model) -> list[Path]:
    """What ``--model`` reads: an exported file and the ``model.json`` beside it, or a run
    directory's files (:func:`run_inputs`)."""
    path = Path(model)
    if path.is_dir():
        return run_inputs(path)
    return [path, path.parent / "model.json"]


def check_not_input(output, inputs: Iterable, *, what: str = "--output", folder: bool = False,
                    replaces: bool = False) -> None:
    """Refuse ``output`` when writing it could overwrite one of ``inputs``.

    Paths are compared with symbolic links resolved (and hard links by inode), so a link
    to an input counts as the input. Inputs that do not exist (and ``None``) are ignored.

    Args:
        output: the file written or, with ``folder``, the folder written into.
        inputs: what the command reads: files, and folders (read recursively).
        what: the option that names ``output``, for the message.
        folder: ``output`` is a folder. It is refused when it is an input folder or lies
            inside one: outputs could replace the inputs, and a recursive read (this run's
            or the next) would take them for inputs.
        replaces: ``output`` (a folder) is replaced as a whole: also refused when it holds
            an input.

    A file output is refused when it is an input file or lies inside an input folder.

    Raises:
        OutputError: naming the output, the input, and what to do.
    """
    out = _resolved(output)
    kind = "folder" if folder else "file"
    for given in inputs:
        if given is None or not os.path.exists(given):
            continue
        source = _resolved(given)
        if _same(out, source):
            if source.is_dir():
                raise OutputError(f"{what} {output} is the input folder {given}: outputs written there could "
                                  f"overwrite the inputs; choose another {what} folder, outside it.")
            raise OutputError(f"{what} {output} is the input {given}: writing it would destroy the input; choose "
                              f"another {what} {kind}.")
        if source.is_dir() and source in out.parents:
            raise OutputError(f"{what} {output} is inside the input folder {given}: outputs there could replace "
                              f"inputs or be read as inputs; choose a {what} {kind} outside it.")
        if replaces and out in source.parents:
            raise OutputError(f"{what} {output} holds the input {given}, which replacing {output} would delete; "
                              f"choose another {what} {kind}.")


def _dir_problem(path) -> Optional[str]:
    """Why folder ``path`` cannot be created or written into, or None."""
    path = Path(os.path.abspath(path))
    probe = path
    while not probe.exists():
        if probe.is_symlink():
            return f"{probe} is a broken symbolic link"
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"permission denied on {probe}"
    return None


def check_writable_dir(path, what: str = "--output") -> None:
    """Refuse a folder that cannot be created or written into; creates nothing.

    The nearest part of ``path`` that exists must be a folder (not a regular file, not a
    broken link) that this process may write into.

    Raises:
        OutputError: the path runs through a file, or permission is denied.
    """
    problem = _dir_problem(path)
    if problem:
        raise OutputError(f"Cannot write to {what} {path}: {problem}; choose another {what}.")


def check_writable_file(path, what: str = "--output") -> None:
    """Refuse a file that cannot be written: an existing folder of that name, or a folder
    for it that cannot be created or written (as :func:`check_writable_dir`); creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name.")
    problem = _dir_problem(Path(os.path.abspath(path)).parent)
    if problem:
        raise OutputError(f"Cannot write {what} {path}: {problem}; choose another {what}.")


def make_dir(path, what: str = "--output") -> Path:
    """Create output folder ``path`` (and its parents); an OS error becomes :class:`OutputError`."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"Cannot create the folder {path} for {what}: {err.strerror or err}.") from None
    return path


def write_error(path, err: OSError, note: str = "") -> OutputError:
    """The :class:`OutputError` for an OS error while writing ``path`` (disk full,
    permission), with ``note`` (e.g. what was written before) after it."""
    return OutputError(f"Cannot write {path}: {err.strerror or err}{'; ' + note if note else ''}.")


__all__ = ["OutputError", "RUN_FILES", "check_not_input", "check_writable_dir", "check_writable_file", "make_dir",
           "model_inputs", "run_inputs", "write_error"]
