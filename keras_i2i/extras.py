"""Optional packages (pip extras): find a missing one before any work, and say how to
install it. Imports neither TensorFlow nor Keras.

    require("tf2onnx", "export", "keras-i2i export --onnx")
    # MissingExtraError: keras-i2i export --onnx needs tf2onnx, which is not installed:
    #   pip install "keras-i2i[export]"

Which extra each command needs (the README's table says the same):

============================  =============================================
``export`` (TFLite)           ``[export]``: ai-edge-litert (parity check)
``export --onnx``             ``[export]``: tf2onnx, onnx, onnxruntime
``benchmark``, ``evaluate     ``[edge]``: ai-edge-litert for .tflite, onnxruntime
--model``                     for .onnx
``webcam``                    ``[edge]``: OpenCV, and the runtime of the model file
``import-torch``              ``[torch]``
============================  =============================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Import name -> the pip distribution that provides it.
DISTRIBUTIONS = {
    "ai_edge_litert": "ai-edge-litert",
    "tf2onnx": "tf2onnx",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "cv2": "opencv-python-headless",
    "torch": "torch",
}


class MissingExtraError(ImportError):
    """An optional package a command needs is not installed; the message names the
    package and the ``pip install "keras-i2i[extra]"`` command that installs it."""


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``."""
    return f'pip install "keras-i2i[{extra}]"'


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` (an import name such as ``"tf2onnx"``) or raise
    :class:`MissingExtraError` saying that ``what`` needs it and how to install it.

    Args:
        module: import name.
        extra: the keras-i2i extra that installs it (``"export"``, ``"edge"``, ``"torch"``).
        what: what needs it, for the message (e.g. ``"keras-i2i export --onnx"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        package = DISTRIBUTIONS.get(top, top)
        missing = getattr(err, "name", None) or top
        detail = "" if missing in (None, module, top) else f" (importing it failed on {missing})"
        raise MissingExtraError(
            f"{what} needs {package}, which is not installed{detail}: {install_hint(extra)}"
        ) from None


def require_all(modules, extra: str, what: str) -> None:
    """:func:`require` each of ``modules``; the first missing one raises."""
    for module in modules:
        require(module, extra, what)
