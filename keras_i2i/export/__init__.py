"""Export trained translators to the edge: TFLite (LiteRT) and ONNX, checked and described.

:func:`export_run` is what ``keras-i2i export`` calls. For every translator the model
declares (``model.translators()``) and every requested format and mode it

1. converts the translator with a fixed ``[1, size, size, 3]`` signature
   (:mod:`~keras_i2i.export.tflite`, :mod:`~keras_i2i.export.onnx`); quantized modes are
   calibrated on real training images of the direction's source domain;
2. checks the graph (:mod:`~keras_i2i.export.checks`): builtin ops only, no variables,
   static shapes, rank <= 4;
3. runs the file in its real runtime (LiteRT, onnxruntime) on held-out real images and
   compares it with the Keras translator (:mod:`~keras_i2i.export.parity`);
4. writes the file atomically, as ``<file>.rejected`` when a check or the parity floor
   fails, and records every accepted file in ``model.json``
   (:mod:`~keras_i2i.export.metadata`); ``export_report.json`` records everything.
   A rejected re-export (``force``) leaves the previously accepted file and its
   ``model.json`` entry as they were.

File names: ``<direction>.<mode>.tflite`` (``a2b.fp32.tflite``, ``a2b.int8.tflite``),
``<direction>.onnx`` and ``<direction>.int8.onnx``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from keras_i2i.export.common import (
    IO_KINDS,
    ExportError,
    GraphCheckError,
    check_direction_name,
    check_io,
    check_size,
)
from keras_i2i.export.onnx import ONNX_MODES
from keras_i2i.export.tflite import QUANT_MODES, get_mode, mode_names
from keras_i2i.extras import require_all

__all__ = [
    "ExportError", "GraphCheckError", "ExportReport", "export_run", "FORMATS", "QUANT_MODES", "ONNX_MODES",
    "DEFAULT_IO", "IO_KINDS", "default_min_psnr",
]

logger = logging.getLogger(__name__)

FORMATS = ("tflite", "onnx")
#: I/O convention when ``io`` is not given: pixels for the phone, [-1, 1] floats for ONNX.
DEFAULT_IO = {"tflite": "uint8", "onnx": "float"}
#: Optional packages (the ``[export]`` extra) each format needs: its converter and the
#: runtime of its graph checks and parity check.
EXTRA_MODULES = {"tflite": ("ai_edge_litert",), "onnx": ("tf2onnx", "onnx", "onnxruntime")}


def default_min_psnr() -> dict[str, float]:
    """Parity floors (dB) by mode name, TFLite and ONNX."""
    floors = {name: QUANT_MODES.get(name).min_psnr for name in QUANT_MODES.names()}
    for name in ONNX_MODES.names():
        floors.setdefault(name, ONNX_MODES.get(name).min_psnr)
    return floors


@dataclass
class _Job:
    direction: str
    fmt: str
    mode: object  # QuantMode or OnnxMode
    file: str
    io: str
    min_psnr: float

    @property
    def runtime(self) -> str:
        return "litert" if self.fmt == "tflite" else "onnx"


@dataclass
class ExportReport:
    """The outcome of :func:`export_run`, also written to ``export_report.json``.

    ``results`` has one dict per file: ``file``, ``direction``, ``format``, ``runtime``,
    ``mode``, ``io``, ``status`` (``ok``, ``rejected`` or ``error``), ``min_psnr_db``,
    ``parity`` (``psnr_db``, ``max_abs_error``, ``mean_abs_error``, ``images``, ``source``),
    ``checks`` (op counts, problems), ``calibration``, ``path``, ``reason``, ``seconds``.
    """

    run_dir: str
    out_dir: str
    checkpoint: str
    size: int
    created: str
    results: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r["status"] == "ok" for r in self.results)

    @property
    def written(self) -> list[str]:
        return [r["path"] for r in self.results if r["status"] == "ok"]

    def result(self, file: str) -> dict:
        return next(r for r in self.results if r["file"] == file)

    def to_json(self) -> dict:
        from keras_i2i import __version__

        return {
            "created": self.created, "keras_i2i_version": __version__, "run_dir": self.run_dir,
            "out_dir": self.out_dir, "source_checkpoint": self.checkpoint, "size": self.size,
            "ok": self.ok, "results": self.results,
        }

    def table(self) -> str:
        from keras_i2i.export.parity import format_table

        return format_table(self.results)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    items = [str(v).strip() for v in value if str(v).strip()]
    return list(dict.fromkeys(items))


def _resolve_directions(requested, translators: Mapping) -> list[str]:
    names = _as_list(requested)
    if not names or names == ["all"]:
        return list(translators)
    unknown = [n for n in names if n not in translators]
    if unknown:
        raise ExportError(
            f"This model has no direction {', '.join(map(repr, unknown))}; it has {', '.join(translators)} "
            "(or use 'all')."
        )
    return names


def _resolve_min_psnr(overrides: Optional[Mapping[str, float]]) -> dict[str, float]:
    floors = default_min_psnr()
    for name, value in (overrides or {}).items():
        if name not in floors:
            raise ExportError(f"--min-psnr: unknown mode {name!r}. Known modes: {', '.join(sorted(floors))}.")
        floors[name] = float(value)
    return floors


def _plan(directions, formats, tflite_modes, onnx_modes, io, floors) -> list[_Job]:
    jobs = []
    for d in directions:
        if "tflite" in formats:
            for mode in tflite_modes:
                jobs.append(_Job(d, "tflite", mode, f"{d}.{mode.name}.tflite", io["tflite"], floors[mode.name]))
        if "onnx" in formats:
            for mode in onnx_modes:
                jobs.append(_Job(d, "onnx", mode, mode.file_name(d), io["onnx"], floors[mode.name]))
    return jobs


def export_run(
    run_dir: str | os.PathLike,
    formats: Sequence[str] = ("tflite",),
    modes: Sequence[str] | str = ("fp32",),
    directions: Sequence[str] | str | None = "all",
    size: Optional[int] = None,
    io: Optional[str] = None,
    calibration: Optional[str | os.PathLike] = None,
    calibration_count: int = 100,
    out: Optional[str | os.PathLike] = None,
    force: bool = False,
    onnx_quantize: bool = False,
    min_psnr: Optional[Mapping[str, float]] = None,
    parity_count: int = 16,
    checkpoint: Optional[str] = None,
) -> ExportReport:
    """Export the translators of a trained run; see the module docstring for the steps.

    Args:
        run_dir: a run directory written by ``keras-i2i train``.
        formats: any of ``"tflite"``, ``"onnx"``.
        modes: TFLite quantization modes (names in :data:`QUANT_MODES`, or ``"all"``).
        directions: translator names, ``"all"`` (default) or a comma-separated string.
        size: input side; default the run's training crop size.
        io: ``"uint8"`` or ``"float"`` for every file; default :data:`DEFAULT_IO` per format.
        calibration: folder of source-domain images for calibration (every direction);
            default the run's training folder of each direction's source domain.
        calibration_count: calibration images wanted (all of them if fewer exist).
        out: output folder; default ``<run_dir>/export``.
        force: overwrite existing files.
        onnx_quantize: also write ``<direction>.int8.onnx`` (static QDQ quantization).
        min_psnr: parity floors by mode name overriding the defaults (:func:`default_min_psnr`).
        parity_count: held-out images used for parity (at most).
        checkpoint: checkpoint prefix to export instead of the latest.

    Returns:
        An :class:`ExportReport`; ``report.ok`` is False when a file was rejected or failed.

    Raises:
        ExportError: the request cannot be carried out (nothing is written).
        keras_i2i.translate.RunError: ``run_dir`` is not a trained run.
        keras_i2i.outputs.OutputError: ``out`` is inside the run's checkpoints or the
            calibration folder, or cannot be created (nothing is written).
    """
    from keras_i2i.export import images as image_sets
    from keras_i2i.export.metadata import read_model_json, utc_now, write_report
    from keras_i2i.export.parity import reference_pixels
    from keras_i2i.outputs import check_not_input, check_writable_dir, make_dir, run_inputs
    from keras_i2i.translate import load_run

    run_dir = Path(run_dir)
    formats = _as_list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ExportError(f"Unknown or no export format {bad or formats}; choose from {', '.join(FORMATS)}.")
    for fmt in formats:  # the converters and the parity runtimes, before any work
        require_all(EXTRA_MODULES[fmt], "export", f"keras-i2i export --{fmt}")
    requested_modes = _as_list(modes) or ["fp32"]
    if requested_modes == ["all"]:
        requested_modes = mode_names()
    tflite_modes = [get_mode(m) for m in requested_modes] if "tflite" in formats else []
    onnx_modes = [ONNX_MODES.get("fp32")] + ([ONNX_MODES.get("int8")] if onnx_quantize else []) if "onnx" in formats else []
    io_by_format = {f: check_io(io) if io else DEFAULT_IO[f] for f in FORMATS}
    floors = _resolve_min_psnr(min_psnr)
    if calibration_count < 1:
        raise ExportError(f"--calibration-count must be at least 1, got {calibration_count}.")
    if parity_count < 1:
        raise ExportError(f"The parity check needs at least one image, got parity_count={parity_count}.")
    if calibration is not None and not Path(calibration).is_dir():
        raise ExportError(f"--calibration {calibration} is not a folder of images.")

    # The output folder is checked before the run loads: never the run's checkpoints, never under a file.
    out_dir = Path(out) if out is not None else run_dir / "export"
    check_not_input(out_dir, [*run_inputs(run_dir), calibration], what="--out", folder=True)
    check_writable_dir(out_dir, "--out")

    cfg, model = load_run(run_dir, checkpoint)
    translators = model.translators()
    selected = _resolve_directions(directions, translators)
    size = int(size or cfg.data.crop_size)
    for d in selected:
        check_direction_name(d)
        check_size(translators[d], size, d)

    jobs = _plan(selected, formats, tflite_modes, onnx_modes, io_by_format, floors)
    existing = [j.file for j in jobs if (out_dir / j.file).exists()]
    if existing and not force:
        raise ExportError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {out_dir}. "
            "Pass --force to overwrite, or choose another --out."
        )

    # Every image set is gathered before the first conversion, so a missing folder fails fast.
    if calibration is not None and len(selected) > 1 and any(j.mode.calibrated for j in jobs):
        logger.warning("--calibration %s calibrates every direction (%s); each direction should see images of "
                       "its own source domain: export one direction at a time if they differ.",
                       calibration, ", ".join(selected))
    parity_sets, calibration_sets = {}, {}
    for d in selected:
        parity_sets[d] = image_sets.parity_images(cfg, d, size, parity_count, fallback=calibration)
        if any(j.direction == d and j.mode.calibrated for j in jobs):
            calibration_sets[d] = image_sets.calibration_images(cfg, d, size, calibration_count, calibration)

    read_model_json(out_dir)  # an unreadable model.json fails now, not after the first file
    make_dir(out_dir, "--out")
    checkpoint_path = str(Path(model.restored_from).resolve())
    report = ExportReport(str(run_dir), str(out_dir), checkpoint_path, size, utc_now())
    context = {"cfg": cfg, "checkpoint": checkpoint_path}
    try:
        for d in selected:
            reference = reference_pixels(translators[d], parity_sets[d].images)
            cache: dict = {}
            for job in (j for j in jobs if j.direction == d):
                result = _run_job(job, translators[d], size, out_dir, parity_sets[d], reference,
                                  calibration_sets.get(d), cache, context)
                report.results.append(result)
    finally:
        write_report(out_dir, report.to_json())
    return report


def _run_job(job: _Job, translator, size, out_dir: Path, parity_set, reference, calibration_set, cache, context) -> dict:
    """Convert, check, compare and write one file; never raises for a failure of that file."""
    from keras_i2i.export import checks, metadata, parity
    from keras_i2i.export import onnx as onnx_export
    from keras_i2i.export import tflite as tflite_export
    from keras_i2i.export.common import atomic_write

    start = time.time()
    result = {
        "file": job.file, "direction": job.direction, "format": job.fmt, "runtime": job.runtime,
        "mode": job.mode.name, "io": job.io, "status": "error", "min_psnr_db": job.min_psnr,
        "calibration": calibration_set.describe() if job.mode.calibrated else None,
    }
    what = f"{job.file} ({job.mode.name}, {job.io} I/O)"
    calib = calibration_set.images if job.mode.calibrated else None
    logger.info("%s: converting%s", what, f" with {len(calib)} calibration images" if calib is not None else "")
    try:
        if job.fmt == "tflite":
            content = tflite_export.convert_tflite(translator, size, job.mode, job.io, calib)
        else:
            if "onnx_fp32" not in cache:
                cache["onnx_fp32"] = onnx_export.convert_onnx(translator, size, job.io)
            content = onnx_export.build_onnx(cache["onnx_fp32"], job.mode, calib, job.io)
    except Exception as err:  # noqa: BLE001 - recorded, the other files go on
        logger.debug("Converting %s failed", job.file, exc_info=True)
        result.update(reason=f"conversion failed: {type(err).__name__}: {err}", seconds=round(time.time() - start, 2))
        logger.error("%s: conversion failed: %s", job.file, err)
        return result

    result["size_bytes"] = len(content)
    reason = None
    try:
        summary = checks.inspect_tflite(content) if job.fmt == "tflite" else checks.inspect_onnx(content)
        result["checks"] = summary.to_json()
        if not job.mode.calibrated:  # float ops are only news in a quantized model
            result["checks"].pop("float_ops", None)
        if summary.problems:
            reason = "graph checks failed: " + "; ".join(summary.problems)
        else:
            if job.fmt == "tflite":
                runner = parity.litert_runner(content)
                inp, outp = tflite_export.io_details(content)
            else:
                runner = parity.onnx_runner(content)
                inp, outp = onnx_export.io_details(content)
            measured = parity.compare(runner, parity_set.images, reference)
            result["parity"] = {**measured.to_json(), "source": parity_set.source}
            if measured.psnr_db < job.min_psnr:
                reason = (f"parity {measured.psnr_db:.2f} dB < {job.min_psnr:g} dB against Keras (max abs error "
                          f"{measured.max_abs_error:.0f}); lower the floor with --min-psnr {job.mode.name}=VALUE "
                          "only if that is acceptable")
    except Exception as err:  # noqa: BLE001
        logger.debug("Checking %s failed", job.file, exc_info=True)
        result.update(reason=f"could not run in {job.runtime}: {type(err).__name__}: {err}",
                      seconds=round(time.time() - start, 2))
        logger.error("%s: %s", job.file, result["reason"])
        _write_rejected(out_dir, job.file, content, result)
        return result

    if reason is not None:
        result.update(status="rejected", reason=reason)
        _write_rejected(out_dir, job.file, content, result)
        logger.error("%s: rejected: %s", job.file, reason)
        result["seconds"] = round(time.time() - start, 2)
        return result

    path = out_dir / job.file
    try:
        atomic_write(path, content)
    except Exception as err:  # noqa: BLE001
        result.update(reason=f"writing failed: {type(err).__name__}: {err}", seconds=round(time.time() - start, 2))
        logger.error("%s: %s", job.file, result["reason"])
        return result
    stale = out_dir / f"{job.file}.rejected"
    if stale.exists():
        stale.unlink()
    result.update(status="ok", path=str(path), seconds=round(time.time() - start, 2))
    entry = _entry(job, content, inp, outp, result, calibration_set, context)
    metadata.update_model_json(out_dir, [entry])
    logger.info("%s: ok, %.2f dB", job.file, result["parity"]["psnr_db"])
    return result


def _write_rejected(out_dir: Path, file: str, content: bytes, result: dict) -> None:
    """Keep a rejected file for inspection as ``<file>.rejected`` (never under its real name)."""
    from keras_i2i.export.common import atomic_write

    path = out_dir / f"{file}.rejected"
    atomic_write(path, content)
    result["path"] = str(path)


def _entry(job: _Job, content: bytes, inp: dict, outp: dict, result: dict, calibration_set, context) -> dict:
    """The ``model.json`` entry of an accepted file."""
    from keras_i2i import __version__
    from keras_i2i.export import metadata
    from keras_i2i.export.images import direction_domains

    cfg = context["cfg"]
    source, target = direction_domains(job.direction)
    quantization = job.mode.describe()
    if job.io == "uint8":
        quantization["io"] = getattr(job.mode, "io_note", "pixel conversions inside the graph")
    quantization["calibration"] = calibration_set.describe() if job.mode.calibrated else None
    return {
        "name": cfg.name,
        "model": getattr(cfg.model, "name", None),
        "direction": job.direction,
        "source_domain": source,
        "target_domain": target,
        "file": job.file,
        "format": job.fmt,
        "runtime": job.runtime,
        "io": job.io,
        "input": metadata.tensor_entry(inp, job.io),
        "output": metadata.tensor_entry(outp, job.io),
        "preprocess": metadata.PREPROCESS[job.io],
        "postprocess": metadata.POSTPROCESS[job.io],
        "quantization": quantization,
        "parity": {**result["parity"], "min_psnr_db": job.min_psnr},
        **metadata.file_digest(content),
        "keras_i2i_version": __version__,
        "source_checkpoint": context["checkpoint"],
        "created": metadata.utc_now(),
        "tools": metadata.tool_versions(job.fmt),
    }
