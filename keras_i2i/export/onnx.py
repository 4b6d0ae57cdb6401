"""Keras translator -> ONNX (tf2onnx, opset 17), optionally statically quantized (QDQ).

The same fixed-signature ``tf.function`` as for TFLite is converted with
``tf2onnx.convert.from_function``; the graph input is ``image`` and the output is renamed
``translated``. ``--onnx-quantize`` adds ``<direction>.int8.onnx``: onnxruntime's
``quantize_static`` in QDQ format (int8 activations, int8 per-channel weights, MinMax
calibration on the same real source-domain images as TFLite), except the first and the
last convolution, which stay float (:func:`float_end_convolutions`). int8 rather than uint8
activations: with uint8 ones (U8S8) the tiny test generator lost 10 dB on an x86 CPU
without VNNI (27.5 against 37.4 dB), the saturation onnxruntime's docs warn about. ``quantize_dynamic`` is
the wrong tool for convnets (slow ConvInteger), see DESIGN.md. With ``io="uint8"`` the
pixel conversions are excluded from quantization, so the uint8 tensors are the pixels.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_i2i.export.common import IO_SCOPES, OUTPUT_NAME, ExportError, check_io, image_function, quiet_converters
from keras_i2i.registry import Registry
from keras_i2i.utils import pixels_to_unit

logger = logging.getLogger(__name__)

OPSET = 17


@dataclass(frozen=True)
class OnnxMode:
    """An ONNX export mode.

    Args:
        name: ``fp32`` (file ``a2b.onnx``) or ``int8`` (file ``a2b.int8.onnx``).
        suffix: what goes between the direction and ``.onnx``.
        weights, activations: for ``model.json``.
        min_psnr: parity floor in dB (same defaults as the TFLite mode of that name).
        calibrated: whether it needs calibration images.
        build: ``(fp32 model bytes, calibration, io) -> bytes``.
        io_note: how ``io="uint8"`` is realised, for ``model.json``.
    """

    name: str
    suffix: str
    weights: str
    activations: str
    min_psnr: float
    calibrated: bool
    build: Callable
    io_note: str = "pixel conversions in float inside the graph"

    def file_name(self, direction: str) -> str:
        return f"{direction}{self.suffix}.onnx"

    def describe(self) -> dict:
        return {"mode": self.name, "weights": self.weights, "activations": self.activations}


ONNX_MODES: Registry = Registry("ONNX mode")


def _rename_output(model, new_name: str) -> None:
    old = model.graph.output[0].name
    if old == new_name:
        return
    for node in model.graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new_name
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new_name
    model.graph.output[0].name = new_name


def convert_onnx(translator, size: int, io: str = "float") -> bytes:
    """The ONNX bytes (float32 weights) of ``translator`` with input ``[1, size, size, 3]``."""
    import tf2onnx

    check_io(io)
    fn = image_function(translator, size, io)
    with quiet_converters():
        model, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET)
    if len(model.graph.output) != 1:
        raise ExportError(f"Expected one ONNX output, got {len(model.graph.output)}.")
    _rename_output(model, OUTPUT_NAME)
    model.producer_name = "keras-i2i"
    return model.SerializeToString()


class _ImageReader:
    """onnxruntime ``CalibrationDataReader`` over uint8 images, in the model's input convention."""

    def __init__(self, input_name: str, images: np.ndarray, io: str):
        self.input_name, self.images, self.io = input_name, images, io
        self.index = 0

    def get_next(self):
        if self.index >= len(self.images):
            return None
        x = self.images[self.index][None]
        self.index += 1
        return {self.input_name: x.astype(np.uint8) if self.io == "uint8" else pixels_to_unit(x)}

    def rewind(self):
        self.index = 0


def float_end_convolutions(model) -> list[str]:
    """Names of the first and the last convolution of an ONNX graph (nodes are in
    topological order), which ``quantize_onnx`` leaves in float: the one reading the
    image and the one writing it. Measured on the XGAN emoji quickstart (16 test images,
    PSNR against the float model): b2a 21.1 dB with every convolution in int8, 41.7 with
    the first in float, 42.9 with both; a2b 34.6, 39.9, 40.7. Excluding any other
    convolution changed nothing (21.0 to 21.1 dB). CycleGAN emoji quickstart: a2b 34.5
    -> 35.7 dB, b2a 31.3 -> 32.5 with both float. They hold about 2% of a ResNet
    generator's MACs."""
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    return sorted({convs[0], convs[-1]}) if convs else []


def quantize_onnx(content: bytes, calibration: np.ndarray, io: str = "float") -> bytes:
    """Static QDQ quantization of an ONNX model with ``calibration`` images (uint8 ``(N, H, W, 3)``).

    Works in a private temporary folder (onnxruntime needs file paths), never in the output
    folder, so a failure leaves nothing behind there.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if calibration is None or len(calibration) == 0:
        raise ExportError("ONNX int8 needs calibration images (real source-domain images).")
    model = onnx.load_from_string(content)
    excluded = [n.name for n in model.graph.node if any(scope in n.name for scope in IO_SCOPES)]
    excluded += float_end_convolutions(model)

    class Reader(_ImageReader, CalibrationDataReader):
        pass

    reader = Reader(model.graph.input[0].name, calibration, io)
    quant_logger = logging.getLogger()
    level = quant_logger.level
    quant_logger.setLevel(max(level, logging.ERROR))  # "consider pre-processing" warnings
    try:
        with tempfile.TemporaryDirectory(prefix="keras_i2i_onnx_") as tmp:
            src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            src.write_bytes(content)
            quantize_static(
                str(src), str(dst), reader,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=excluded or None,
            )
            return dst.read_bytes()
    finally:
        quant_logger.setLevel(level)


def _fp32(content: bytes, calibration, io) -> bytes:
    return content


def _int8(content: bytes, calibration, io) -> bytes:
    return quantize_onnx(content, calibration, io)


ONNX_MODES.register("fp32")(OnnxMode("fp32", "", "float32", "float32", 60.0, False, _fp32))
ONNX_MODES.register("int8")(OnnxMode(
    "int8", ".int8", "int8 per channel (QDQ)", "int8 (QDQ, MinMax calibration; first and last convolution float)",
    28.0, True, _int8,
    io_note="uint8 pixels in/out; the pixel conversions are excluded from quantization (float)",
))


def io_details(content: bytes, session=None) -> tuple[dict, dict]:
    """``(input, output)`` name, shape and dtype of an ONNX model, as onnxruntime sees them."""
    import onnxruntime as ort

    session = session or ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    dtypes = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(float16)": "float16"}

    def describe(node):
        return {"name": node.name, "shape": list(node.shape), "dtype": dtypes.get(node.type, node.type), "quantization": None}

    return describe(session.get_inputs()[0]), describe(session.get_outputs()[0])


def build_onnx(fp32_content: bytes, mode: str | OnnxMode, calibration: Optional[np.ndarray], io: str) -> bytes:
    mode = ONNX_MODES.get(mode) if isinstance(mode, str) else mode
    return mode.build(fp32_content, calibration, io)
