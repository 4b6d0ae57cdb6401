"""Loading the translator the webcam runs: an exported ``.tflite``/``.onnx`` file (LiteRT /
ONNX Runtime), or a run directory (its Keras translator, or its exported file).

Imports TensorFlow only for the Keras translator of a run directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.runtime import Translator, load
from keras_i2i.runtime.backends import Backend, backend_for
from keras_i2i.runtime.metadata import TensorSpec

BACKEND_NAMES = ("litert", "onnx", "keras")


class KerasBackend(Backend):
    """A Keras translator (``tf.function`` with a fixed ``(1, S, S, 3)`` float signature)
    behind the runtime's backend interface, so that :class:`Translator` does its pixels."""

    name = "keras"

    def __init__(self, fn: Callable, shape: tuple):
        self._fn = fn
        self.input_shape = self.output_shape = tuple(shape)
        self.input_dtype = self.output_dtype = "float32"

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x))

    def versions(self) -> dict:
        from importlib import metadata

        return {name: metadata.version(name) for name in ("tensorflow", "keras")}


def _keras_translator(run_dir: Path, direction: Optional[str], threads: Optional[int], resize: str) -> Translator:
    import tensorflow as tf

    from keras_i2i.translate import load_run

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started (e.g. in tests): keep its pools
            pass
    cfg, model = load_run(run_dir)
    translators = model.translators()
    if direction is None:
        direction = next(iter(translators))
    elif direction not in translators:
        raise WebcamError(f"{run_dir}'s model has no direction {direction!r}; its directions are: "
                          f"{', '.join(translators)}.")
    net = translators[direction]
    size = int(cfg.data.crop_size)
    shape = (1, size, size, 3)
    fn = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)])
    spec_in = TensorSpec("input", shape, "float32", (-1.0, 1.0))
    spec_out = TensorSpec("output", shape, "float32", (-1.0, 1.0))
    entry = {"file": run_dir.name, "format": "keras", "direction": direction,
             "source_checkpoint": str(getattr(model, "restored_from", ""))}
    return Translator(run_dir, KerasBackend(fn, shape), entry, spec_in, spec_out, resize=resize, num_threads=threads)


def _exported_file(run_dir: Path, backend: str, direction: Optional[str]) -> Path:
    """The run's exported file for ``backend`` and ``direction``, found by the runtime from
    ``<run>/export/model.json`` (the ``fp32`` file preferred, else the only one there is);
    ``direction`` None: the first direction its model.json lists."""
    from keras_i2i.runtime import directions, find_model_file
    from keras_i2i.runtime.metadata import MODEL_JSON

    export = run_dir / "export"
    declared = list(directions(export)) if (export / MODEL_JSON).is_file() else []
    if not declared:
        suffix, flag = (".tflite", "--tflite") if backend == "litert" else (".onnx", "--onnx")
        raise WebcamError(f"{run_dir} has no exported {suffix} file{f' for {direction}' if direction else ''} in "
                          f"{export}; export one with `keras-i2i export --run {run_dir} {flag}`, or use --backend keras.")
    return find_model_file(export, direction or declared[0], format=backend)


def load_translator(model: str | os.PathLike, backend: Optional[str] = None, threads: Optional[int] = None,
                    resize: str = "crop", direction: Optional[str] = None) -> Translator:
    """The translator for ``model``: a ``.tflite``/``.onnx`` file written by ``keras-i2i
    export`` (LiteRT / ONNX Runtime), or a run directory (its Keras translator; with
    ``backend="litert"``/``"onnx"`` its exported file in ``<run>/export/`` instead).

    Raises:
        WebcamError: the path is neither, or ``backend`` does not fit it.
        RuntimeLoadError: the model file is not a usable keras-i2i export.
    """
    path = Path(model)
    if backend is not None and backend not in BACKEND_NAMES:
        raise WebcamError(f"Unknown backend {backend!r}; choose from {', '.join(BACKEND_NAMES)}.")
    if not path.exists():
        raise WebcamError(f"Model {path} does not exist; pass a .tflite or .onnx file written by `keras-i2i export`, "
                          f"or a run directory.")
    if path.is_dir():
        if not (path / "config.yaml").is_file():
            files = sorted(p.name for p in path.iterdir() if p.suffix in (".tflite", ".onnx"))
            hint = f" (it holds {', '.join(files)}: pass one of them)" if files else ""
            raise WebcamError(f"{path} is a folder but not a run directory (no config.yaml){hint}; --model takes a "
                              f".tflite or .onnx file written by `keras-i2i export`, or a run directory.")
        if backend in (None, "keras"):
            return _keras_translator(path, direction, threads, resize)
        path = _exported_file(path, backend, direction)
    elif backend == "keras":
        raise WebcamError(f"--backend keras needs a run directory as --model (the Keras translator is rebuilt from "
                          f"its config.yaml and checkpoint); {path} is a file.")
    file_backend = backend_for(path).name
    if backend is not None and backend != file_backend:
        raise WebcamError(f"{path.name} is a {path.suffix} file, which runs on {file_backend}, not {backend} "
                          f"(.tflite: litert, .onnx: onnx); pass the matching file or --backend {file_backend}.")
    return load(path, num_threads=threads, resize=resize)
