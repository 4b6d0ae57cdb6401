"""Edge inference for exported keras-i2i models: LiteRT (``.tflite``) and ONNX Runtime
(``.onnx``), with numpy and OpenCV around them. Imports neither TensorFlow nor Keras.

Example::

    from keras_i2i.runtime import load

    translator = load("runs/quickstart/export/a2b.int8.tflite", num_threads=2)
    out = translator(frame)          # RGB uint8 (H, W, 3) in, same size out
    translator.input_size            # Size(height=64, width=64)
    translator.backend               # "litert"

An export folder holds one file per direction and mode; :func:`directions` lists what its
``model.json`` declares and ``load(folder, direction="b2a", format="onnx")`` picks a file::

    directions("runs/quickstart/export")     # {"a2b": Direction(...), "b2a": Direction(...)}

Every model file is read together with its entry in the ``model.json`` beside it (written
by ``keras-i2i export``), which says the input size and the input/output dtype and value
range; see :class:`Translator` for the pixel pipeline.
"""

from keras_i2i.runtime.backends import BACKENDS
from keras_i2i.runtime.errors import RuntimeLoadError
from keras_i2i.runtime.folder import directions, find_model_file
from keras_i2i.runtime.imaging import RESIZE_MODES
from keras_i2i.runtime.translator import Size, Translator, load

__all__ = ["load", "directions", "find_model_file", "Translator", "Size", "RuntimeLoadError", "RESIZE_MODES", "BACKENDS"]
