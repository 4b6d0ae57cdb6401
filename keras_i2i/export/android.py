"""``keras-i2i export --android DIR``: the files the Android app (``mobile_demo/android``)
reads, and nothing else.

The run is exported to TFLite as usual (converted, graph-checked, parity-checked through
:mod:`keras_i2i.runtime`) into a temporary folder; every file must then be one the app can
run, or nothing is written:

- input and output tensors ``[1, H, W, 3]`` (rank 4, batch 1, NHWC RGB) of type ``uint8``
  or ``float32`` (what the app feeds and reads; int8/int16 I/O is refused);
- only builtin ops (no ``Flex*`` / ``SELECT_TF_OPS`` ops, which LiteRT on Android lacks), no
  tensor of rank above 4, static shapes (:func:`~keras_i2i.export.checks.check_tflite`).

``DIR`` then receives the ``.tflite`` files and one ``model.json`` listing exactly them (no
``export_report.json``, no ``.rejected`` files, no ONNX): point it at
``mobile_demo/android/app/src/main/assets``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from keras_i2i.export.common import ExportError, atomic_write
from keras_i2i.export.metadata import MODEL_JSON, SCHEMA, utc_now

#: The tensor types the app's LiteRT code feeds and reads.
ANDROID_DTYPES = ("uint8", "float32")


def android_problems(entry: dict, content: bytes) -> list[str]:
    """Why the app cannot run the file of ``entry`` (its ``model.json`` entry) with bytes
    ``content``; empty when it can."""
    from keras_i2i.export.checks import inspect_tflite

    problems = []
    for key in ("input", "output"):
        block = entry.get(key) or {}
        shape, dtype = block.get("shape"), block.get("dtype")
        if not isinstance(shape, list) or len(shape) != 4 or shape[0] != 1 or shape[-1] != 3:
            problems.append(f"its {key} has shape {shape}, not [1, H, W, 3] (rank 4, batch 1, RGB)")
        if dtype not in ANDROID_DTYPES:
            problems.append(f"its {key} is {dtype}, not {' or '.join(ANDROID_DTYPES)}")
    problems += inspect_tflite(content).problems
    return problems


def export_android(run_dir: str | os.PathLike, out: str | os.PathLike, modes: Sequence[str] | str = "fp32",
                   directions: Sequence[str] | str | None = "all", size: Optional[int] = None, io: str = "uint8",
                   force: bool = False, **export_options):
    """Export a run for the Android app into ``out`` (see the module docstring).

    Args:
        run_dir: a trained run directory.
        out: the app's assets folder (created if needed).
        modes, directions, size, io: as :func:`~keras_i2i.export.export_run` (``io``
            ``"uint8"``: pixels in and out, the app's fastest path; or ``"float"``).
        force: replace ``out``'s ``model.json`` and files of the same names.
        export_options: passed on to :func:`~keras_i2i.export.export_run` (calibration,
            min_psnr, parity_count, checkpoint ...).

    Returns:
        ``(report, files)``: the :class:`~keras_i2i.export.ExportReport` of the export and
        the paths written into ``out`` (the model files, then ``model.json``).

    Raises:
        ExportError: a file failed its checks, or the app cannot run it (the message says
            why), or ``out`` already has a ``model.json`` or those files and ``force`` is not
            set; nothing is written into ``out`` then.
    """
    from keras_i2i.export.pipeline import export_run
    from keras_i2i.outputs import check_not_input, check_writable_dir, make_dir, run_inputs

    out = Path(out)
    check_not_input(out, run_inputs(Path(run_dir)), what="--android", folder=True)
    check_writable_dir(out, "--android")
    if (out / MODEL_JSON).exists() and not force:
        raise ExportError(f"{out / MODEL_JSON} already exists. Pass --force to replace it (and model files of "
                          "the same names), or choose another --android folder.")
    with tempfile.TemporaryDirectory(prefix="keras_i2i_android_") as staging:
        report = export_run(run_dir, formats=["tflite"], modes=modes, directions=directions, size=size, io=io,
                            out=staging, force=True, **export_options)
        if not report.ok:
            bad = [f"{r['file']} {r['status']}: {r.get('reason', '')}".strip() for r in report.results
                   if r["status"] != "ok"]
            raise ExportError(f"Nothing written to {out}: " + "; ".join(bad))
        entries = json.loads((Path(staging) / MODEL_JSON).read_text(encoding="utf-8"))["models"]
        contents = {}
        for entry in entries:
            content = (Path(staging) / entry["file"]).read_bytes()
            problems = android_problems(entry, content)
            if problems:
                raise ExportError(f"The Android app cannot run {entry['file']}: {'; '.join(problems)}. "
                                  "Nothing was written; export with --io uint8 or float and builtin ops only.")
            contents[entry["file"]] = content
        existing = [name for name in contents if (out / name).exists()]
        if existing and not force:
            raise ExportError(f"{', '.join(existing)} already exist in {out}. Pass --force to overwrite, or choose "
                              "another --android folder.")
        make_dir(out, "--android")
        written = []
        for name, content in contents.items():
            written.append(atomic_write(out / name, content))
        data = {"schema": SCHEMA, "updated": utc_now(), "models": entries}
        written.append(atomic_write(out / MODEL_JSON, (json.dumps(data, indent=2) + "\n").encode("utf-8")))
    return report, written


__all__ = ["ANDROID_DTYPES", "android_problems", "export_android"]
