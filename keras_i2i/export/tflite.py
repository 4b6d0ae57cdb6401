"""Keras translator -> ``.tflite`` flatbuffer, one quantization mode at a time.

The translator is traced once into a ``tf.function`` with a fixed ``[1, size, size, 3]``
signature (:func:`keras_i2i.export.common.image_function`) and converted with
``TFLiteConverter.from_concrete_functions([fn])`` *without* the trackable argument
(with it, TF 2.21 kept VAR_HANDLE ops and produced NaNs), builtin ops only.

Quantization modes (:data:`QUANT_MODES`):

=========  ======================  ===========  ============================================
mode       weights                 activations  notes
=========  ======================  ===========  ============================================
fp32       float32                 float32      reference
fp16       float16 (dequantized)   float32      half the size, GPU delegate runs it in fp16
dynamic    int8                    float32      dynamic-range quantization, no calibration
int8       int8 per channel        int8         calibrated on real source-domain images;
                                                instance norms stay float32 (see below)
int16x8    int8 per channel        int16        calibrated; CPU reference kernels only
=========  ======================  ===========  ============================================

How ``io="uint8"`` (pixels in, pixels out) works per mode:

- fp32, fp16, dynamic: the pixel conversions run in float inside the graph.
- int8: the network is fully int8; the pixel conversions stay **float** at the graph
  edges (``CAST -> MUL -> SUB -> QUANTIZE`` ... ``DEQUANTIZE -> ADD -> MUL -> ROUND ->
  clip -> CAST``). The uint8 tensors are therefore the pixel values themselves, with no
  scale or zero point to apply. (Letting the quantizer quantize the post-processing
  clips every output above the largest one seen in calibration: it cost 15 dB.) Done by
  calibrating first, then quantizing with the pixel nodes deny-listed, which is what
  ``tf.lite.experimental.QuantizationDebugger`` does for selective quantization.
- int8 also keeps every instance norm in float32 (``float_norms``): convolutions,
  residual adds and activations between them are int8, each norm's mean, variance,
  rsqrt and scaling run in float between a DEQUANTIZE and a QUANTIZE. Fully int8
  statistics lost 4.7 dB of parity on the quickstart CycleGAN (33.4 against 38.0 dB)
  at no gain in LiteRT latency.
- int16x8: TF's 16x8 quantizer cannot deny-list nodes, so the pixel conversions are
  quantized to int16 along with the network (their range comes from calibration); the
  I/O tensors are still plain uint8 pixels.

With ``io="float"`` every mode takes and returns float32 in [-1, 1]; the quantized modes
quantize and dequantize inside the graph.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from keras_i2i.export.common import IO_SCOPES, ExportError, check_io, image_function, quiet_converters
from keras_i2i.registry import Registry
from keras_i2i.utils import pixels_to_unit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantMode:
    """A TFLite quantization mode.

    Args:
        name: the ``--quantize`` name and the middle of the file name (``a2b.int8.tflite``).
        weights: how weights are stored, for ``model.json``.
        activations: the arithmetic of activations, for ``model.json``.
        min_psnr: parity floor in dB against the Keras translator (``--min-psnr`` overrides).
        calibrated: whether it needs a representative dataset of real images.
        configure: sets the converter up, given the representative dataset (or None).
        io_note: how ``io="uint8"`` is realised in this mode, for ``model.json``.
    """

    name: str
    weights: str
    activations: str
    min_psnr: float
    calibrated: bool
    configure: Callable
    io_note: str = "pixel conversions in float inside the graph"

    def describe(self) -> dict:
        return {"mode": self.name, "weights": self.weights, "activations": self.activations}


QUANT_MODES: Registry = Registry("quantization mode")
_ORDER: list[str] = []


def register_mode(mode: QuantMode) -> QuantMode:
    QUANT_MODES.register(mode.name)(mode)
    _ORDER.append(mode.name)
    return mode


def mode_names() -> list[str]:
    """Registered modes from the most to the least precise (the order of ``--quantize all``)."""
    return list(_ORDER)


def _ops(tf, *names):
    return [getattr(tf.lite.OpsSet, n) for n in names]


def _fp32(converter, tf, representative, io):
    converter.target_spec.supported_ops = _ops(tf, "TFLITE_BUILTINS")


def _fp16(converter, tf, representative, io):
    converter.target_spec.supported_ops = _ops(tf, "TFLITE_BUILTINS")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _dynamic(converter, tf, representative, io):
    converter.target_spec.supported_ops = _ops(tf, "TFLITE_BUILTINS")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _int8(converter, tf, representative, io):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # Strict int8 (an op without an int8 kernel is an error) unless the float pixel
    # conversions of io="uint8" have to stay.
    names = ["TFLITE_BUILTINS_INT8"] + (["TFLITE_BUILTINS"] if io == "uint8" else [])
    converter.target_spec.supported_ops = _ops(tf, *names)


def _int16x8(converter, tf, representative, io):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    names = ["EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"] + (["TFLITE_BUILTINS"] if io == "uint8" else [])
    converter.target_spec.supported_ops = _ops(tf, *names)


register_mode(QuantMode("fp32", "float32", "float32", 60.0, False, _fp32))
register_mode(QuantMode("fp16", "float16", "float32", 45.0, False, _fp16))
register_mode(QuantMode("dynamic", "int8 (dynamic range)", "float32 (hybrid kernels)", 35.0, False, _dynamic))
register_mode(QuantMode(
    "int8", "int8 per channel", "int8", 28.0, True, _int8,
    io_note="uint8 pixels in/out; the pixel conversions stay float at the graph edges, "
            "QUANTIZE/DEQUANTIZE around the int8 network; no scale/zero point to apply",
))
register_mode(QuantMode(
    "int16x8", "int8 per channel", "int16", 40.0, True, _int16x8,
    io_note="uint8 pixels in/out; the pixel conversions are quantized to int16 with the network "
            "(ranges from calibration); no scale/zero point to apply",
))


def get_mode(name: str) -> QuantMode:
    try:
        return QUANT_MODES.get(name)
    except ValueError as err:
        raise ExportError(str(err)) from None


def representative_dataset(images: np.ndarray, io: str):
    """A ``representative_dataset`` callable over ``images`` (uint8 ``(N, H, W, 3)``), fed in
    the file's input convention."""

    def generate():
        for image in images:
            x = image[None]
            yield [x.astype(np.uint8) if io == "uint8" else pixels_to_unit(x)]

    return generate


def instance_norm_scopes(model) -> list[str]:
    """Names of the instance-norm layers in ``model``, nested models included."""
    from keras_i2i.layers import InstanceNormalization

    names, stack = [], [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, InstanceNormalization):
            names.append(layer.name)
        stack.extend(getattr(layer, "layers", []))
    return sorted(set(names))


def _scope_pattern(scopes) -> re.Pattern:
    # A layer called twice gets scopes "name", "name_1" ...; fused tensors join names with ";".
    alternatives = "|".join(re.escape(s) for s in scopes)
    return re.compile(rf"(^|[/;])({alternatives})(_\d+)?/")


def _quantize_keeping_nodes_float(converter, scopes) -> bytes:
    """Calibrate, then quantize with every node under ``scopes`` left in float.

    The converter's own ``convert()`` cannot leave chosen nodes in float; this is the
    two-step path of ``tf.lite.experimental.QuantizationDebugger`` (calibrate only, then
    ``mlir_quantize`` with ``denylisted_nodes``), without its numeric-verify model.
    """
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import convert as tflite_convert

    converter._experimental_calibrate_only = True  # noqa: SLF001 - see docstring
    calibrated = converter.convert()
    names = [t["name"] for t in Interpreter(model_content=calibrated).get_tensor_details()]
    pattern = _scope_pattern(scopes)
    denied = sorted({n for n in names if pattern.search(n)})
    logger.debug("Keeping %d tensors in float: %s", len(denied), denied)
    return tflite_convert.mlir_quantize(
        calibrated,
        disable_per_channel=converter._experimental_disable_per_channel,  # noqa: SLF001
        fully_quantize=False,
        denylisted_nodes=denied,
    )


def convert_tflite(translator, size: int, mode: str | QuantMode, io: str = "uint8",
                   calibration: Optional[np.ndarray] = None, float_norms: bool = True) -> bytes:
    """The ``.tflite`` bytes of ``translator`` at ``size`` in quantization ``mode``.

    Args:
        translator: a Keras translator (NHWC float in [-1, 1] -> same).
        size: input side (the signature is ``[1, size, size, 3]``).
        mode: a name in :data:`QUANT_MODES` or a :class:`QuantMode`.
        io: ``"uint8"`` (pixels, conversions in the graph) or ``"float"`` ([-1, 1]).
        calibration: uint8 ``(N, size, size, 3)`` real images; required by calibrated modes.
        float_norms: in int8 mode, keep the instance norms (mean, variance, rsqrt,
            scaling) in float32 between int8 convolutions. On the quickstart CycleGAN
            this raised int8 parity from 33.4 to 38.0 dB at the same LiteRT latency:
            8-bit statistics of 8-bit activations are what loses accuracy.
    """
    import tensorflow as tf

    mode = get_mode(mode) if isinstance(mode, str) else mode
    check_io(io)
    if mode.calibrated and (calibration is None or len(calibration) == 0):
        raise ExportError(f"Quantization mode {mode.name} needs calibration images (real source-domain images).")
    fn = image_function(translator, size, io)
    with quiet_converters():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
        representative = representative_dataset(calibration, io) if mode.calibrated else None
        mode.configure(converter, tf, representative, io)
        if mode.name == "int8":
            scopes = (list(IO_SCOPES) if io == "uint8" else []) + (instance_norm_scopes(translator) if float_norms else [])
            if scopes:
                return bytes(_quantize_keeping_nodes_float(converter, scopes))
        return bytes(converter.convert())


def io_details(content: bytes) -> tuple[dict, dict]:
    """``(input, output)`` details of a single-input, single-output ``.tflite`` model:
    name, shape, shape_signature, dtype and quantization (None when not quantized)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)

    def describe(d):
        scale, zero_point = d["quantization"]
        return {
            "name": d["name"],
            "shape": [int(x) for x in d["shape"]],
            "shape_signature": [int(x) for x in d.get("shape_signature", d["shape"])],
            "dtype": np.dtype(d["dtype"]).name,
            "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if scale else None,
        }

    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError(f"Expected one input and one output, got {len(inputs)} and {len(outputs)}.")
    return describe(inputs[0]), describe(outputs[0])
