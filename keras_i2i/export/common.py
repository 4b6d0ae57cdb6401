"""What the export modules share: errors, the I/O conventions, the traced image function.

Every exported file is *image in, image out* with a fixed input signature
``[1, size, size, 3]`` (NHWC, RGB). Two I/O conventions exist:

- ``float``: float32 in [-1, 1] in and out, exactly the Keras translator's contract.
  The caller computes ``x = rgb / 127.5 - 1`` and ``rgb = clip(round((y + 1) * 127.5), 0, 255)``.
- ``uint8``: RGB pixel values in and out. The conversions above are part of the graph
  (``CAST -> MUL -> SUB`` in, ``ADD -> MUL -> ROUND -> clip -> CAST`` out), under the
  TensorFlow name scopes :data:`IO_SCOPES`, so that quantizers can keep them in float.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Iterable

from keras_i2i.utils import atomic_write_bytes

logger = logging.getLogger(__name__)

IO_KINDS = ("float", "uint8")
#: Name scopes of the pixel pre/post-processing baked in with ``io="uint8"``.
IO_SCOPES = ("keras_i2i_io_pre", "keras_i2i_io_post")
INPUT_NAME = "image"
OUTPUT_NAME = "translated"
#: PSNR reported when the exported file reproduces the Keras output exactly.
PSNR_CAP = 100.0

class ExportError(ValueError):
    """The export cannot be done as asked; the message says what to change."""


class GraphCheckError(ExportError):
    """An exported graph breaks a rule of the edge runtimes (Flex ops, variables, ranks...)."""

    def __init__(self, file: str, problems: Iterable[str]):
        self.file = file
        self.problems = list(problems)
        super().__init__(f"{file} fails the graph checks:\n  - " + "\n  - ".join(self.problems))


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (``keras_i2i.utils.atomic_write_bytes``: a
    temporary file in the same folder, fsync, ``os.replace``, usual file mode) and
    return the path."""
    atomic_write_bytes(path, data)
    return Path(path)


@contextlib.contextmanager
def quiet_converters():
    """Silence the converters' chatter (deprecation notes, tf2onnx progress, calibration
    warnings) for the duration of a conversion; errors still propagate."""
    loggers = [logging.getLogger(n) for n in ("tensorflow", "absl", "tf2onnx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def check_io(io: str) -> str:
    if io not in IO_KINDS:
        raise ExportError(f"Unknown --io {io!r}. Known: {', '.join(IO_KINDS)}.")
    return io


def probe_output_shape(translator, size: int):
    """Output shape of ``translator`` on a ``[1, size, size, 3]`` input, or ``None`` if it
    cannot take that input. Symbolic (no computation) when the model supports it."""
    import keras
    import numpy as np

    try:
        spec = translator.compute_output_spec(keras.KerasTensor((1, size, size, 3), dtype="float32"))
        return tuple(int(d) if d is not None else None for d in spec.shape)
    except NotImplementedError:
        pass
    except Exception:  # noqa: BLE001 - any failure means "cannot take this size"
        return None
    try:
        out = translator(np.zeros((1, size, size, 3), np.float32), training=False)
        return tuple(int(d) for d in out.shape)
    except Exception:  # noqa: BLE001
        return None


def check_size(translator, size: int, direction: str = "") -> None:
    """Raise :class:`ExportError` unless ``translator`` maps ``[1, size, size, 3]`` to the same
    shape; the message names the nearest sizes that work."""
    if size < 1:
        raise ExportError(f"--size must be positive, got {size}.")
    expected = (1, size, size, 3)
    shape = probe_output_shape(translator, size)
    if shape == expected:
        return
    below = next((s for s in range(size - 1, max(0, size - 65), -1) if probe_output_shape(translator, s) == (1, s, s, 3)), None)
    above = next((s for s in range(size + 1, size + 65) if probe_output_shape(translator, s) == (1, s, s, 3)), None)
    near = " and ".join(str(s) for s in (below, above) if s is not None) or "none within 64 pixels"
    got = "fails on it" if shape is None else (
        f"returns {shape[1]}x{shape[2]}" if len(shape) == 4 else f"returns shape {shape}")
    label = f"The {direction} translator" if direction else "The translator"
    raise ExportError(
        f"{label} cannot take {size}x{size} inputs (it {got}). Sizes near {size} that work: {near}. "
        "(ResNet generators need multiples of 4, U-Nets multiples of 2**num_downs.) Choose one with --size."
    )


def image_function(translator, size: int, io: str):
    """A ``tf.function`` with the fixed signature ``[1, size, size, 3]`` around ``translator``.

    With ``io="float"`` it is the translator itself (float32 in [-1, 1]); with
    ``io="uint8"`` the pixel conversions are part of the graph (see module docstring).
    """
    import tensorflow as tf

    check_io(io)
    dtype = tf.uint8 if io == "uint8" else tf.float32
    spec = tf.TensorSpec([1, size, size, 3], dtype, name=INPUT_NAME)

    @tf.function(input_signature=[spec], autograph=False)
    def translate(image):
        if io == "uint8":
            with tf.name_scope(IO_SCOPES[0]):
                x = tf.cast(image, tf.float32) / 127.5 - 1.0
        else:
            x = image
        y = tf.cast(translator(x, training=False), tf.float32)
        if io == "uint8":
            with tf.name_scope(IO_SCOPES[1]):
                y = tf.clip_by_value(tf.round((y + 1.0) * 127.5), 0.0, 255.0)
                y = tf.cast(y, tf.uint8)
        return tf.identity(y, name=OUTPUT_NAME)

    from keras_i2i.layers.normalization import single_reduction_statistics

    with single_reduction_statistics():  # traced now; converters reuse this trace
        translate.get_concrete_function()
    return translate
