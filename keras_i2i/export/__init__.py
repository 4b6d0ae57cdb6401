"""Export trained translators to the edge: TFLite (LiteRT) and ONNX, checked and described.

``from keras_i2i.export import export_run, ExportError`` is the entry point; each job has
its module:

- :mod:`~keras_i2i.export.pipeline`: :func:`export_run` (plan the files, convert, check,
  compare, write), the formats and their default I/O and parity floors;
- :mod:`~keras_i2i.export.tflite`, :mod:`~keras_i2i.export.onnx`: the converters and
  quantization modes;
- :mod:`~keras_i2i.export.checks`: graph checks (builtin ops, no variables, static shapes);
- :mod:`~keras_i2i.export.images`: calibration and parity images of a direction's source domain;
- :mod:`~keras_i2i.export.parity`: the exported file through :mod:`keras_i2i.runtime` against Keras;
- :mod:`~keras_i2i.export.metadata`: ``model.json`` entries (schema in
  :mod:`keras_i2i.runtime.metadata`) and ``export_report.json``;
- :mod:`~keras_i2i.export.report`: :class:`ExportReport` and the parity table;
- :mod:`~keras_i2i.export.common`: errors, I/O conventions, the traced image function.
- :mod:`~keras_i2i.export.android`: ``export --android DIR``, only what the Android app
  (``mobile_demo/android``) reads, refusing files it cannot run.

File names: ``<direction>.<mode>.tflite`` (``a2b.fp32.tflite``, ``noto2fluent.int8.tflite``),
``<direction>.onnx`` and ``<direction>.int8.onnx``, one per direction of the model
(``model.directions()``) and mode.
"""

from keras_i2i.export.common import IO_KINDS, ExportError, GraphCheckError
from keras_i2i.export.onnx import ONNX_MODES
from keras_i2i.export.pipeline import DEFAULT_IO, EXTRA_MODULES, FORMATS, default_min_psnr, export_run
from keras_i2i.export.report import ExportReport
from keras_i2i.export.tflite import QUANT_MODES

__all__ = [
    "ExportError", "GraphCheckError", "ExportReport", "export_run", "FORMATS", "QUANT_MODES", "ONNX_MODES",
    "DEFAULT_IO", "EXTRA_MODULES", "IO_KINDS", "default_min_psnr",
]
