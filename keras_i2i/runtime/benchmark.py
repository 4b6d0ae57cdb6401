"""Latency and throughput of exported models on this machine (``keras-i2i benchmark``).

For every model file: ``warmup`` untimed runs, then ``runs`` timed runs of

- ``model``: the model alone (:meth:`Translator.run_raw` on a fixed preprocessed input);
- ``end_to_end``: the whole translator on a ``frame`` (default 640x480, a fixed random
  RGB frame): resize, convert, run, convert back, resize back.

Latencies are wall-clock (``time.perf_counter``) per call; p50/p95 are percentiles of the
timed runs, throughput is timed runs / their total time (one image at a time, as a live
stream runs). Imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from keras_i2i.runtime.translator import Translator
from keras_i2i.utils import utc_now

SCHEMA = "keras_i2i.benchmark/1"


def time_calls(fn: Callable[[], object], runs: int, warmup: int) -> dict:
    """p50/p95/mean/min latency (ms) and throughput (calls/s) of ``fn`` over ``runs`` timed
    calls after ``warmup`` untimed ones."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}.")
    for _ in range(max(0, warmup)):
        fn()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - start
    return {
        **latency_stats(times),
        "throughput_ips": round(float(runs / times.sum()), 2),
        "runs": runs,
        "warmup": warmup,
    }


def latency_stats(seconds) -> dict:
    """p50/p95/mean/min in ms of wall times given in seconds (at least one)."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if ms.size == 0:
        raise ValueError("latency_stats needs at least one time.")
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "min_ms": round(float(ms.min()), 3),
    }


def frame_of(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A fixed random RGB uint8 frame."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def benchmark_translator(translator: Translator, runs: int = 50, warmup: int = 5,
                         frame: tuple[int, int] = (640, 480)) -> dict:
    """One model's result row (see the module docstring); ``frame`` is ``(width, height)``."""
    x = translator.example_input()
    image = frame_of(*frame)
    model = time_calls(lambda: translator.run_raw(x), runs, warmup)
    end_to_end = time_calls(lambda: translator(image), runs, warmup)
    quant = translator.metadata.get("quantization") or {}
    return {
        "file": translator.path.name,
        "path": str(translator.path.resolve()),
        "backend": translator.backend,
        "mode": quant.get("mode"),
        "io": translator.metadata.get("io", translator.input_spec.dtype),
        "input_size": list(translator.input_size),
        "size_bytes": translator.path.stat().st_size,
        "macs": _file_macs(translator.path),
        "threads": translator.num_threads,
        "resize": translator.resize,
        "frame": list(frame),
        "model": model,
        "end_to_end": end_to_end,
        "versions": translator.versions,
    }


def _file_macs(path: Path) -> Optional[int]:
    """Multiply-accumulates per image of a model file (:mod:`keras_i2i.macs`: convolution
    and dense layers), None where they cannot be counted (an ONNX file without the
    ``onnx`` package)."""
    from keras_i2i.macs import file_macs

    try:
        return file_macs(path)
    except Exception:  # noqa: BLE001 - a count is information, never a reason to fail
        return None


def machine_info(extra_packages: Sequence[str] = ()) -> dict:
    """CPU model and counts, platform, Python and the installed versions of the runtime's
    packages plus ``extra_packages`` (a package that is not installed is left out)."""
    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    versions = {}
    packages = ("keras-i2i", "numpy", "opencv-python-headless", "ai-edge-litert", "tflite-runtime", "onnxruntime")
    for name in dict.fromkeys((*packages, *extra_packages)):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu_model": cpu_model, "cpu_count": os.cpu_count(), "cpus_usable": usable,
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions}


def run_benchmark(paths: Sequence[str | os.PathLike], threads: Optional[int] = None, runs: int = 50, warmup: int = 5,
                  frame: tuple[int, int] = (640, 480), resize: str = "stretch") -> dict:
    """Benchmark every model file in ``paths``; every file is loaded (and checked) first,
    so that a bad file fails before any timing. Returns the JSON report."""
    from keras_i2i.runtime import load
    from keras_i2i.runtime.imaging import resizer

    translators = [load(p, num_threads=threads, resize=resize) for p in paths]
    results = [benchmark_translator(t, runs, warmup, frame) for t in translators]
    return {
        "schema": SCHEMA,
        "created": utc_now(),
        "settings": {"threads": threads, "runs": runs, "warmup": warmup, "frame": list(frame), "resize": resize,
                     "resizer": resizer(), "threads_note": "null: each runtime's default"},
        "machine": machine_info(),
        "results": results,
    }


def format_table(results: Sequence[dict]) -> str:
    """One line per model: size, GMAC, model-alone and end-to-end p50/p95 (ms) and images/s."""
    header = ("file", "backend", "mode", "io", "MB", "GMAC", "input", "model p50", "p95", "img/s", "e2e p50", "p95",
              "img/s")
    lines = [header]
    for r in results:
        m, e = r["model"], r["end_to_end"]
        lines.append((
            r["file"], r["backend"], str(r["mode"]), str(r["io"]), f"{r['size_bytes'] / 1e6:.2f}",
            f"{r['macs'] / 1e9:.3f}" if r.get("macs") is not None else "-",
            "x".join(str(v) for v in r["input_size"][::-1]),
            f"{m['p50_ms']:.2f}", f"{m['p95_ms']:.2f}", f"{m['throughput_ips']:.1f}",
            f"{e['p50_ms']:.2f}", f"{e['p95_ms']:.2f}", f"{e['throughput_ips']:.1f}",
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    left = {0, 1, 2, 3}
    return "\n".join(
        "  ".join(str(v).ljust(w) if i in left else str(v).rjust(w) for i, (v, w) in enumerate(zip(line, widths))).rstrip()
        for line in lines
    )
