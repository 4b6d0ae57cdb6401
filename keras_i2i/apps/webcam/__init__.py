"""Live translation of a camera or a video file with OpenCV (``keras-i2i webcam``).

One module a job:

- :mod:`~keras_i2i.apps.webcam.translators`: the model to run (:func:`load_translator`);
- :mod:`~keras_i2i.apps.webcam.sources`: cameras and video files (:func:`open_camera`,
  :func:`open_video`);
- :mod:`~keras_i2i.apps.webcam.display`: the window, its keys and the overlay;
- :mod:`~keras_i2i.apps.webcam.workers` and :mod:`~keras_i2i.apps.webcam.loop`: the capture
  and inference threads, and :func:`run`, the main-thread loop that writes, shows and
  measures (its docstring describes the threads and the stats);
- :mod:`~keras_i2i.apps.webcam.launch`: :func:`webcam`, what the CLI calls.

Imports neither TensorFlow nor Keras unless the model is a run directory (the Keras
translator, for comparison with the exported files).
"""

from keras_i2i.apps.webcam.opencv import cv2  # noqa: F401 - first: without OpenCV, one error naming the extra
from keras_i2i.apps.webcam.display import (KEYS, NO_GUI, WINDOW_TITLE, Window, _gui_backend, draw_overlay,
                                           gui_available)
from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.apps.webcam.launch import check_outputs, webcam
from keras_i2i.apps.webcam.loop import FOURCC_BY_SUFFIX, SCHEMA, format_stats, run
from keras_i2i.apps.webcam.sources import FrameSource, open_camera, open_video
from keras_i2i.apps.webcam.translators import BACKEND_NAMES, KerasBackend, load_translator
from keras_i2i.apps.webcam.workers import FrameTranslator
from keras_i2i.runtime import RuntimeLoadError

__all__ = ["webcam", "run", "load_translator", "open_camera", "open_video", "FrameSource", "Window", "WebcamError",
           "RuntimeLoadError", "draw_overlay", "format_stats", "gui_available", "FrameTranslator", "SCHEMA"]
