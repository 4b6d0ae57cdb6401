"""Parity: an exported file, run through :mod:`keras_i2i.runtime` (its backends and its
pre/post-processing: the code users run), against the Keras translator.

Both sides get the same real uint8 images. The exported side is
:meth:`keras_i2i.runtime.Translator.__call__` on images already at the model size, so
it converts them with the file's ``model.json`` entry, runs LiteRT or ONNX Runtime and
returns uint8 pixels. The Keras side feeds ``rgb / 127.5 - 1`` and brings its float
output ``y`` in [-1, 1] to *uint8-equivalent* pixels, ``clip(round((y + 1) * 127.5), 0, 255)``.
PSNR is then computed on the [0, 255] scale over all images together, with the maximum
absolute error in pixel levels. Rounding both sides matters: comparing rounded pixels
against unrounded floats alone would cap PSNR at about 59 dB even for a bit-exact file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from keras_i2i.export.common import PSNR_CAP
from keras_i2i.utils import pixels_to_unit

Runner = Callable[[np.ndarray], np.ndarray]
"""uint8 ``(H, W, 3)`` image at the model size -> uint8-equivalent float64 ``(H, W, 3)`` pixels."""


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


def runtime_runner(content: bytes, entry: dict, file: str) -> Runner:
    """The exported file ``content`` with its ``model.json`` entry, run by
    :mod:`keras_i2i.runtime` as users run it (``file`` names it: its suffix picks LiteRT
    or ONNX Runtime). The entry is checked against the file's real tensors on the way."""
    from keras_i2i.runtime.translator import from_bytes

    translator = from_bytes(content, entry, file, verify=True)

    def run(image):
        return translator(image).astype(np.float64)

    return run


def keras_runner(translator) -> Runner:
    """The reference: the Keras translator on float [-1, 1] input."""

    def run(image):
        y = translator(pixels_to_unit(image[None]), training=False)
        return to_pixels(np.asarray(y)[0], "float")

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
