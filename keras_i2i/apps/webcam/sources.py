"""Frame sources: a camera or a video file, opened with OpenCV and checked to deliver a frame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.apps.webcam.opencv import cv2

class FrameSource:
    """A ``cv2.VideoCapture`` whose first frame has been read (to check it works).

    Attributes:
        kind: ``"camera"`` or ``"video"``.
        name: camera index or file path, as text.
        live: frames arrive on their own (a camera); a video file is read on demand.
        fps: the frame rate the source reports (0 when unknown).
        size: ``(width, height)`` of the frames.
    """

    def __init__(self, capture, kind: str, name: str, first: np.ndarray, live: bool):
        self.capture = capture
        self.kind, self.name, self.live = kind, name, live
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else 0.0
        self.size = (int(first.shape[1]), int(first.shape[0]))
        self._first: Optional[np.ndarray] = first

    def read(self) -> tuple[bool, Optional[np.ndarray]]:
        if self._first is not None:
            frame, self._first = self._first, None
            return True, frame
        return self.capture.read()

    def release(self) -> None:
        self.capture.release()

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "live": self.live, "fps": round(self.fps, 3),
                "size": list(self.size)}


def open_camera(index: int) -> FrameSource:
    """Camera ``index`` (``cv2.VideoCapture(index)``), checked to deliver a frame."""
    capture = cv2.VideoCapture(int(index))
    if not capture.isOpened():
        capture.release()
        raise WebcamError(f"No camera at index {index}: OpenCV could not open it. Check that a camera is connected and "
                          f"not used by another program (Linux: ls /dev/video*), try another --camera index, or "
                          f"use --video FILE.")
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep only the newest frame where the driver allows it
    ok, frame = capture.read()
    if not ok or frame is None:
        capture.release()
        raise WebcamError(f"Camera {index} opened but delivered no frame; it may be in use by another program or "
                          f"not be a capture device. Try another --camera index.")
    return FrameSource(capture, "camera", str(index), frame, live=True)


def open_video(path: str | os.PathLike, realtime: bool = False) -> FrameSource:
    """Video file ``path``, checked to decode; ``realtime`` makes it a live source (read
    at its own frame rate, newest frame only)."""
    path = Path(path)
    if not path.is_file():
        raise WebcamError(f"Video {path} does not exist." if not path.exists() else f"Video {path} is not a file.")
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read() if capture.isOpened() else (False, None)
    if not ok or frame is None:
        capture.release()
        raise WebcamError(f"Cannot read video {path}: OpenCV (FFmpeg) could not decode a frame of it. It is not a "
                          f"video, is truncated or corrupt, or uses a codec this OpenCV build lacks.")
    return FrameSource(capture, "video", str(path), frame, live=realtime)
