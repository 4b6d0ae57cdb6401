"""The export pipeline: :func:`export_run`, what ``keras-i2i export`` calls.

For every direction the model declares (``model.directions()``, each with its translator
in ``model.translators()``) and every requested format and mode it

1. converts the translator with a fixed ``[1, size, size, 3]`` signature
   (:mod:`~keras_i2i.export.tflite`, :mod:`~keras_i2i.export.onnx`); quantized modes are
   calibrated on real training images of the direction's source domain
   (:mod:`~keras_i2i.export.images`);
2. checks the graph (:mod:`~keras_i2i.export.checks`): builtin ops only, no variables,
   static shapes, rank <= 4;
3. runs the file through :mod:`keras_i2i.runtime` (LiteRT, ONNX Runtime and the runtime's
   pixel conversions, as users run it) on held-out real images of the source domain and
   compares it with the Keras translator (:mod:`~keras_i2i.export.parity`);
4. writes the file atomically, as ``<file>.rejected`` when a check or the parity floor
   fails, and records every accepted file in ``model.json``
   (:mod:`~keras_i2i.export.metadata`); ``export_report.json`` records everything
   (:mod:`~keras_i2i.export.report`). A rejected re-export (``force``) leaves the
   previously accepted file and its ``model.json`` entry as they were.

File names: ``<direction>.<mode>.tflite`` (``a2b.fp32.tflite``, ``noto2fluent.int8.tflite``),
``<direction>.onnx`` and ``<direction>.int8.onnx``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from keras_i2i.directions import Direction, DirectionError, select
from keras_i2i.export.common import ExportError, check_io, check_size
from keras_i2i.export.onnx import ONNX_MODES
from keras_i2i.export.report import ExportReport
from keras_i2i.export.tflite import QUANT_MODES, get_mode, mode_names
from keras_i2i.extras import require_all

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
    direction: Direction
    fmt: str
    mode: object  # QuantMode or OnnxMode
    file: str
    io: str
    min_psnr: float

    @property
    def runtime(self) -> str:
        return "litert" if self.fmt == "tflite" else "onnx"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    items = [str(v).strip() for v in value if str(v).strip()]
    return list(dict.fromkeys(items))


def _select_directions(requested, model, run_dir: Path) -> dict[str, Direction]:
    """The model's directions named by ``requested`` (all of them for ``None``/``"all"``),
    each with a translator; an unknown name is an :class:`ExportError` listing the run's."""
    declared = model.directions()
    names = _as_list(requested)
    try:
        chosen = select(declared, None if not names or names == ["all"] else names)
    except DirectionError as err:
        raise ExportError(f"{err} Choose with --direction NAME[,NAME...] or 'all' ({run_dir}).") from None
    translators = model.translators()
    missing = [name for name in chosen if name not in translators]
    if missing:  # a model bug, not a user error, but said plainly
        raise ExportError(f"The model declares the direction(s) {', '.join(missing)} but translators() has no "
                          f"translator for them (it has {', '.join(translators)}).")
    return chosen


def _resolve_min_psnr(overrides: Optional[Mapping[str, float]]) -> dict[str, float]:
    floors = default_min_psnr()
    for name, value in (overrides or {}).items():
        if name not in floors:
            raise ExportError(f"--min-psnr: unknown mode {name!r}. Known modes: {', '.join(sorted(floors))}.")
        floors[name] = float(value)
    return floors


def _plan(directions: Sequence[Direction], formats, tflite_modes, onnx_modes, io, floors) -> list[_Job]:
    jobs = []
    for d in directions:
        if "tflite" in formats:
            for mode in tflite_modes:
                jobs.append(_Job(d, "tflite", mode, f"{d.name}.{mode.name}.tflite", io["tflite"], floors[mode.name]))
        if "onnx" in formats:
            for mode in onnx_modes:
                jobs.append(_Job(d, "onnx", mode, mode.file_name(d.name), io["onnx"], floors[mode.name]))
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
    z_seed: Optional[int] = None,
) -> ExportReport:
    """Export the translators of a trained run; see the module docstring for the steps.

    Args:
        run_dir: a run directory written by ``keras-i2i train``.
        formats: any of ``"tflite"``, ``"onnx"``.
        modes: TFLite quantization modes (names in :data:`QUANT_MODES`, or ``"all"``).
        directions: names of the model's directions (``model.directions()``), ``"all"``
            (default) or a comma-separated string.
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
        z_seed: overrides ``model.z_seed`` of a DeepI2I run (recorded in each entry's
            ``conditions``); a run whose model has none raises ``RunError``.

    Returns:
        An :class:`~keras_i2i.export.report.ExportReport`; ``report.ok`` is False when a
        file was rejected or failed.

    Raises:
        ExportError: the request cannot be carried out (nothing is written), e.g. a
            direction the run does not have (the message lists the run's directions).
        keras_i2i.runs.RunError: ``run_dir`` is not a trained run.
        keras_i2i.outputs.OutputError: ``out`` is inside the run's checkpoints or the
            calibration folder, or cannot be created (nothing is written).
    """
    from keras_i2i.export import images as image_sets
    from keras_i2i.export.metadata import read_model_json, utc_now, write_report
    from keras_i2i.export.parity import reference_pixels
    from keras_i2i.outputs import check_not_input, check_writable_dir, make_dir, run_inputs
    from keras_i2i.runs import load_run

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

    cfg, model = load_run(run_dir, checkpoint, z_seed=z_seed)
    selected = list(_select_directions(directions, model, run_dir).values())
    translators = model.translators()
    size = int(size or cfg.data.crop_size)
    for d in selected:
        check_size(translators[d.name], size, d.name)

    jobs = _plan(selected, formats, tflite_modes, onnx_modes, io_by_format, floors)
    existing = [j.file for j in jobs if (out_dir / j.file).exists()]
    if existing and not force:
        raise ExportError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {out_dir}. "
            "Pass --force to overwrite, or choose another --out."
        )

    # Every image set is gathered before the first conversion, so a missing folder fails fast.
    if calibration is not None and len({d.source for d in selected}) > 1 and any(j.mode.calibrated for j in jobs):
        logger.warning("--calibration %s calibrates every direction (%s); each direction should see images of "
                       "its own source domain: export one direction at a time if they differ.",
                       calibration, ", ".join(d.name for d in selected))
    parity_sets, calibration_sets = {}, {}
    for d in selected:
        parity_sets[d.name] = image_sets.parity_images(cfg, d, size, parity_count, fallback=calibration)
        if any(j.direction == d and j.mode.calibrated for j in jobs):
            calibration_sets[d.name] = image_sets.calibration_images(cfg, d, size, calibration_count, calibration)

    read_model_json(out_dir)  # an unreadable model.json fails now, not after the first file
    make_dir(out_dir, "--out")
    checkpoint_path = str(Path(model.restored_from).resolve())
    report = ExportReport(str(run_dir), str(out_dir), checkpoint_path, size, utc_now())
    context = {"cfg": cfg, "checkpoint": checkpoint_path}
    try:
        for d in selected:
            reference = reference_pixels(translators[d.name], parity_sets[d.name].images)
            cache: dict = {}
            for job in (j for j in jobs if j.direction == d):
                result = _run_job(job, translators[d.name], size, out_dir, parity_sets[d.name], reference,
                                  calibration_sets.get(d.name), cache, context)
                report.results.append(result)
    finally:
        write_report(out_dir, report.to_json())
    return report


def _run_job(job: _Job, translator, size, out_dir: Path, parity_set, reference, calibration_set, cache, context) -> dict:
    """Convert, check, compare (through the runtime) and write one file; never raises for
    a failure of that file."""
    from keras_i2i.export import checks, metadata, parity
    from keras_i2i.export import onnx as onnx_export
    from keras_i2i.export import tflite as tflite_export
    from keras_i2i.export.common import atomic_write

    start = time.time()
    result = {
        "file": job.file, "direction": job.direction.name, "source_domain": job.direction.primary_source,
        "sources": list(job.direction.source), "target_domain": job.direction.target, "format": job.fmt, "runtime": job.runtime,
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
    result["macs"] = _macs(job.fmt, content)
    reason = None
    try:
        summary = checks.inspect_tflite(content) if job.fmt == "tflite" else checks.inspect_onnx(content)
        result["checks"] = summary.to_json()
        if not job.mode.calibrated:  # float ops are only news in a quantized model
            result["checks"].pop("float_ops", None)
        if summary.problems:
            reason = "graph checks failed: " + "; ".join(summary.problems)
        else:
            inp, outp = (tflite_export if job.fmt == "tflite" else onnx_export).io_details(content)
            entry = _entry(job, content, inp, outp, calibration_set, context)
            # The file runs through keras_i2i.runtime with the entry it will have in model.json.
            runner = parity.runtime_runner(content, entry, job.file)
            measured = parity.compare(runner, parity_set.images, reference)
            result["parity"] = {**measured.to_json(), "source": parity_set.source, "runtime": "keras_i2i.runtime",
                                **({"domains": parity_set.domains} if parity_set.domains is not None else {})}
            entry["parity"] = {**result["parity"], "min_psnr_db": job.min_psnr}
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
    metadata.update_model_json(out_dir, [entry])
    logger.info("%s: ok, %.2f dB", job.file, result["parity"]["psnr_db"])
    return result


def _macs(fmt: str, content: bytes):
    """The file's multiply-accumulates per image (:mod:`keras_i2i.macs`), None where they
    cannot be counted."""
    from keras_i2i import macs

    try:
        return macs.tflite_macs(content) if fmt == "tflite" else macs.onnx_macs(content)
    except Exception as err:  # noqa: BLE001 - a count is information, never a reason to fail
        logger.debug("MACs of a %s file not counted: %s", fmt, err)
        return None


def _write_rejected(out_dir: Path, file: str, content: bytes, result: dict) -> None:
    """Keep a rejected file for inspection as ``<file>.rejected`` (never under its real name)."""
    from keras_i2i.export.common import atomic_write

    path = out_dir / f"{file}.rejected"
    atomic_write(path, content)
    result["path"] = str(path)


def _entry(job: _Job, content: bytes, inp: dict, outp: dict, calibration_set, context) -> dict:
    """The ``model.json`` entry of ``job``'s file (its parity is filled in once measured)."""
    from keras_i2i.export import metadata

    cfg = context["cfg"]
    quantization = job.mode.describe()
    if job.io == "uint8":
        quantization["io"] = getattr(job.mode, "io_note", "pixel conversions inside the graph")
    quantization["calibration"] = calibration_set.describe() if job.mode.calibrated else None
    return metadata.model_entry(
        name=cfg.name, model=getattr(cfg.model, "name", None), direction=job.direction, file=job.file,
        fmt=job.fmt, io=job.io, inp=inp, outp=outp, quantization=quantization, parity={}, content=content,
        checkpoint=context["checkpoint"],
    )
