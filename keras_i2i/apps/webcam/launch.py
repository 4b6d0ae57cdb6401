"""``webcam()``: check the outputs, open the window, the model and the source, then run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.apps.webcam.display import Window
from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.apps.webcam.loop import run
from keras_i2i.apps.webcam.sources import open_camera, open_video
from keras_i2i.apps.webcam.translators import load_translator
from keras_i2i.outputs import OutputError, check_not_input, check_writable_dir, check_writable_file, model_inputs

def check_outputs(model, video=None, output=None, json_path=None, snapshot_dir=None) -> None:
    """Refuse outputs that would overwrite the model files or the video, or each other,
    or that cannot be written, before anything is opened.

    Raises:
        OutputError: the first such output, with what to do.
    """
    inputs = [*model_inputs(model), video]
    if output is not None:
        check_not_input(output, inputs, what="--output")
        check_writable_file(output, "--output")
    if json_path is not None:
        if output is not None and Path(json_path).resolve() == Path(output).resolve():
            raise OutputError(f"--json {json_path} is also --output; give them different file names.")
        check_not_input(json_path, inputs, what="--json")
        check_writable_file(json_path, "--json")
    if snapshot_dir is not None:
        check_writable_dir(snapshot_dir, "--snapshot-dir")


def webcam(model: str | os.PathLike, *, camera: Optional[int] = None, video: Optional[str | os.PathLike] = None,
           realtime: bool = False, backend: Optional[str] = None, threads: Optional[int] = None,
           resize: str = "crop", direction: Optional[str] = None, headless: bool = False, **run_kwargs) -> dict:
    """Open the display (unless ``headless``), the model and the source, then :func:`run`.

    ``camera`` (default 0) or ``video``; the rest as in :func:`run`. Outputs that would
    overwrite an input or cannot be written (:func:`check_outputs`), then a missing GUI,
    fail first, before any model or camera is opened."""
    if camera is not None and video is not None:
        raise WebcamError("Give either a camera index or a video file, not both.")
    check_outputs(model, video, run_kwargs.get("output"), run_kwargs.get("json_path"),
                  None if headless else run_kwargs.get("snapshot_dir", "."))  # (snapshots need the window)
    display = None if headless else Window()
    try:
        translator = load_translator(model, backend=backend, threads=threads, resize=resize, direction=direction)
        translator(np.zeros((*translator.input_size, 3), np.uint8))  # warm-up (and Keras' tracing), untimed
        source = open_video(video, realtime=realtime) if video is not None else open_camera(camera or 0)
    except BaseException:
        if display is not None:
            display.close()
        raise
    return run(translator, source, display=display, **run_kwargs)
