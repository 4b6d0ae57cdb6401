"""Inference backends, chosen by the model file's suffix: LiteRT for ``.tflite``, ONNX
Runtime for ``.onnx``. Each wraps one single-input, single-output session and runs a
ready-made input array; everything about pixels is the translator's business."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.extras import install_hint
from keras_i2i.registry import Registry
from keras_i2i.runtime.errors import RuntimeLoadError
from keras_i2i.runtime.metadata import REEXPORT

#: Backend classes by file suffix (``".tflite"``, ``".onnx"``).
BACKENDS: Registry = Registry("model file type")


class Backend:
    """One loaded model. Subclasses set ``name`` and implement ``__init__`` and ``run``.

    Attributes:
        input_shape, output_shape: tuples, as the runtime reports them.
        input_dtype, output_dtype: numpy dtype names.
        input_quantization, output_quantization: ``(scale, zero_point)`` or ``None``.
    """

    name = ""
    input_shape: tuple
    output_shape: tuple
    input_dtype: str
    output_dtype: str
    input_quantization: Optional[tuple] = None
    output_quantization: Optional[tuple] = None

    @classmethod
    def check_runtime(cls) -> None:
        """Raise :class:`RuntimeLoadError` (naming the pip command) when the runtime is not
        installed; :func:`keras_i2i.runtime.load` calls it before reading anything."""

    def run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def versions(self) -> dict:  # pragma: no cover - abstract
        return {}


def _litert_interpreter_class():
    """``ai_edge_litert``'s Interpreter, else ``tflite_runtime``'s (older Pythons)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError:
        raise RuntimeLoadError(
            f"Running .tflite files needs LiteRT (ai-edge-litert), which is not installed: {install_hint('edge')}"
        ) from None


@BACKENDS.register(".tflite")
class LiteRTBackend(Backend):
    """A ``.tflite`` file in the LiteRT interpreter (XNNPACK, ``num_threads`` threads)."""

    name = "litert"

    @classmethod
    def check_runtime(cls) -> None:
        _litert_interpreter_class()

    def __init__(self, content: bytes, path: Path, num_threads: Optional[int] = None):
        interpreter_class, self.package = _litert_interpreter_class()
        try:
            self.interpreter = interpreter_class(model_content=content, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except Exception as err:  # noqa: BLE001 - any failure means "not a usable TFLite model"
            raise RuntimeLoadError(
                f"{path} could not be loaded by LiteRT ({type(err).__name__}: {_first_line(err)}): it is corrupt or "
                f"not a TFLite model. Copy it again from the export folder, or {REEXPORT}."
            ) from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise RuntimeLoadError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; a keras-i2i model has one of each "
                f"(image in, image out). {REEXPORT[0].upper() + REEXPORT[1:]}."
            )
        self._in, self._out = inputs[0]["index"], outputs[0]["index"]
        self.input_shape = tuple(int(d) for d in inputs[0]["shape"])
        self.output_shape = tuple(int(d) for d in outputs[0]["shape"])
        self.input_dtype = np.dtype(inputs[0]["dtype"]).name
        self.output_dtype = np.dtype(outputs[0]["dtype"]).name
        self.input_quantization = _quant(inputs[0]["quantization"])
        self.output_quantization = _quant(outputs[0]["quantization"])

    def run(self, x: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out)

    def versions(self) -> dict:
        from importlib import metadata

        try:
            return {self.package: metadata.version(self.package)}
        except metadata.PackageNotFoundError:  # pragma: no cover
            return {}


_ORT_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
               "tensor(float16)": "float16", "tensor(int16)": "int16"}


@BACKENDS.register(".onnx")
class OnnxBackend(Backend):
    """An ``.onnx`` file in ONNX Runtime's CPU execution provider (``intra_op_num_threads``
    = ``num_threads``)."""

    name = "onnx"

    @classmethod
    def check_runtime(cls) -> None:
        _onnxruntime()

    def __init__(self, content: bytes, path: Path, num_threads: Optional[int] = None):
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001
            raise RuntimeLoadError(
                f"{path} could not be loaded by ONNX Runtime ({type(err).__name__}: {_first_line(err)}): it is corrupt "
                f"or not an ONNX model. Copy it again from the export folder, or {REEXPORT}."
            ) from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise RuntimeLoadError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; a keras-i2i model has one of each "
                f"(image in, image out). {REEXPORT[0].upper() + REEXPORT[1:]}."
            )
        self._in, self._out = inputs[0].name, outputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else -1 for d in inputs[0].shape)
        self.output_shape = tuple(d if isinstance(d, int) else -1 for d in outputs[0].shape)
        self.input_dtype = _ORT_DTYPES.get(inputs[0].type, inputs[0].type)
        self.output_dtype = _ORT_DTYPES.get(outputs[0].type, outputs[0].type)
        self.num_threads = num_threads

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([self._out], {self._in: x})[0]

    def versions(self) -> dict:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeLoadError(
            f"Running .onnx files needs ONNX Runtime (onnxruntime), which is not installed: {install_hint('edge')}"
        ) from None
    return onnxruntime


def _quant(params) -> Optional[tuple]:
    scale, zero_point = params
    return (float(scale), int(zero_point)) if scale else None


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else "no message"


def backend_for(path: Path):
    """The backend class for ``path``'s suffix; :class:`RuntimeLoadError` for others."""
    suffix = path.suffix.lower()
    if suffix in BACKENDS:
        return BACKENDS.get(suffix)
    hint = ""
    if suffix == ".rejected":
        hint = (" A .rejected file failed keras-i2i export's checks (see export_report.json beside it) and is kept "
                "only for inspection.")
    raise RuntimeLoadError(
        f"Cannot run {path.name}: unknown model file type {suffix or '(no suffix)'!r}. Supported: "
        f"{', '.join(f'{s} ({BACKENDS.get(s).name})' for s in BACKENDS.names())}, as written by `keras-i2i export`."
        + hint
    )
