"""Parity: an exported file, run in its real runtime, against the Keras translator.

Both sides get the same real uint8 images (each in its own input convention) and both
outputs are brought to *uint8-equivalent* pixels: float outputs ``y`` in [-1, 1] become
``clip(round((y + 1) * 127.5), 0, 255)``, uint8 outputs are taken as they are (after
dequantization when the tensor carries a scale). PSNR is then computed on the [0, 255]
scale over all images together, with the maximum absolute error in pixel levels.
Rounding both sides matters: comparing rounded pixels against unrounded floats alone
would cap PSNR at about 59 dB even for a bit-exact file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from keras_i2i.export.common import PSNR_CAP

Runner = Callable[[np.ndarray], np.ndarray]
"""uint8 ``(H, W, 3)`` image -> uint8-equivalent float64 ``(H, W, 3)`` pixels."""


@dataclass
class ParityResult:
    """PSNR (dB, capped at :data:`PSNR_CAP` for identical outputs), max and mean absolute
    error in pixel levels, over ``images`` images."""

    psnr_db: float
    max_abs_error: float
    mean_abs_error: float
    images: int

    def to_json(self) -> dict:
        return {"psnr_db": round(self.psnr_db, 3), "max_abs_error": self.max_abs_error,
                "mean_abs_error": round(self.mean_abs_error, 4), "images": self.images}


def io_of(dtype: str) -> str:
    """The I/O convention of a tensor of ``dtype``: float tensors hold [-1, 1], integer ones pixels."""
    return "float" if np.issubdtype(np.dtype(dtype), np.floating) else "uint8"


def to_pixels(output: np.ndarray, io: str, quantization: dict | None = None) -> np.ndarray:
    """A model output as uint8-equivalent float64 pixels (see module docstring).

    Args:
        output: the raw output tensor.
        io: ``"float"`` ([-1, 1] values) or ``"uint8"`` (pixel values).
        quantization: ``{"scale", "zero_point"}`` when the tensor is quantized.
    """
    y = np.asarray(output).astype(np.float64)
    if quantization and quantization.get("scale"):
        y = (y - quantization["zero_point"]) * quantization["scale"]
    if io == "float":
        y = (y + 1.0) * 127.5
    return np.clip(np.rint(y), 0, 255)


def to_input(image: np.ndarray, io: str, dtype: str, quantization: dict | None = None) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` image as a batch of one in a file's input convention."""
    value = image[None].astype(np.float64)
    if io == "float":
        value = value / 127.5 - 1.0
    if quantization and quantization.get("scale"):
        info = np.iinfo(np.dtype(dtype))
        value = np.clip(np.rint(value / quantization["scale"] + quantization["zero_point"]), info.min, info.max)
    return value.astype(np.dtype(dtype))


def keras_runner(translator) -> Runner:
    """The reference: the Keras translator on float [-1, 1] input."""

    def run(image):
        y = translator(image[None].astype(np.float32) / 127.5 - 1.0, training=False)
        return to_pixels(np.asarray(y)[0], "float")

    return run


def litert_runner(content: bytes, num_threads: int | None = None) -> Runner:
    """A ``.tflite`` model in the LiteRT interpreter (``ai_edge_litert``)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def quant(d):
        scale, zero_point = d["quantization"]
        return {"scale": float(scale), "zero_point": int(zero_point)} if scale else None

    in_dtype, in_q = np.dtype(inp["dtype"]).name, quant(inp)
    out_dtype, out_q = np.dtype(out["dtype"]).name, quant(out)

    def run(image):
        interpreter.set_tensor(inp["index"], to_input(image, io_of(in_dtype), in_dtype, in_q))
        interpreter.invoke()
        return to_pixels(interpreter.get_tensor(out["index"])[0], io_of(out_dtype), out_q)

    return run


def onnx_runner(content: bytes) -> Runner:
    """An ONNX model in onnxruntime (CPU execution provider)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    inp, out = session.get_inputs()[0], session.get_outputs()[0]
    in_dtype = "uint8" if inp.type == "tensor(uint8)" else "float32"
    out_dtype = "uint8" if out.type == "tensor(uint8)" else "float32"

    def run(image):
        y = session.run([out.name], {inp.name: to_input(image, io_of(in_dtype), in_dtype)})[0]
        return to_pixels(y[0], io_of(out_dtype))

    return run


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two pixel arrays on the [0, 255] scale, capped at :data:`PSNR_CAP`."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse == 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def reference_pixels(translator, images: np.ndarray) -> np.ndarray:
    """The Keras translator's uint8-equivalent outputs on ``images`` (computed once per direction).

    Computed on the CPU: on Ampere and newer GPUs TensorFlow runs float32 convolutions in
    TF32 by default, and that (not the export) would decide the fp32 parity.
    """
    import tensorflow as tf

    run = keras_runner(translator)
    with tf.device("/CPU:0"):
        return np.stack([run(im) for im in images])


def compare(runner: Runner, images: np.ndarray, reference: np.ndarray) -> ParityResult:
    """Run ``runner`` on every image of ``images`` (uint8 ``(N, H, W, 3)``) and compare with
    ``reference`` (the :func:`reference_pixels` of the same images)."""
    if len(images) == 0:
        raise ValueError("Parity needs at least one image.")
    ours = np.stack([runner(im) for im in images])
    diff = np.abs(ours - reference)
    return ParityResult(psnr(ours, reference), float(diff.max()), float(diff.mean()), len(images))


def format_table(rows: list[dict]) -> str:
    """The parity table printed by ``keras-i2i export``: one line per file."""
    header = ("file", "runtime", "io", "PSNR dB", "max err", "min dB", "status")
    lines = [header]
    for r in rows:
        parity = r.get("parity") or {}
        lines.append((
            r["file"], r["runtime"], r["io"],
            f"{parity['psnr_db']:.2f}" if "psnr_db" in parity else "-",
            f"{parity['max_abs_error']:.0f}" if "max_abs_error" in parity else "-",
            f"{r['min_psnr_db']:.1f}" if r.get("min_psnr_db") is not None else "-",
            r["status"],
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    right = {3, 4, 5}
    return "\n".join(
        "  ".join(str(v).rjust(w) if i in right else str(v).ljust(w) for i, (v, w) in enumerate(zip(line, widths))).rstrip()
        for line in lines
    )
