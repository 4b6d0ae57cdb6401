"""The window: an OpenCV window on the main thread, its keys, and the stats overlay."""

from __future__ import annotations

import os
import sys
from typing import Optional

import numpy as np

from keras_i2i.apps.webcam.errors import WebcamError
from keras_i2i.apps.webcam.opencv import cv2

#: Keys of the window (``cv2.waitKey`` codes) and what they do.
KEYS = {ord("q"): "quit", 27: "quit", ord("s"): "snapshot", ord(" "): "pause", ord("v"): "side-by-side"}
WINDOW_TITLE = "keras-i2i webcam"
NO_GUI = ("This OpenCV build has no GUI support ({why}), so it cannot show a window. Run with --headless "
          "(and --output FILE to keep the translated video), or install OpenCV with GUI support: "
          "pip uninstall opencv-python-headless && pip install opencv-python.")


class Window:
    """An OpenCV window (``cv2.imshow`` / ``cv2.waitKey``) on the main thread."""

    def __init__(self, title: str = WINDOW_TITLE):
        self.title = title
        if _gui_backend() == "NONE":
            raise WebcamError(NO_GUI.format(why="its build information says GUI: NONE; opencv-python-headless is "
                                                "built that way"))
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise WebcamError(NO_GUI.replace("This OpenCV build has no GUI support", "There is no display")
                              .format(why="neither DISPLAY nor WAYLAND_DISPLAY is set"))
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as err:
            why = str(err).strip().splitlines()[-1][:200] if str(err).strip() else "cv2.namedWindow failed"
            raise WebcamError(NO_GUI.format(why=why)) from None

    def show(self, image: np.ndarray) -> int:
        cv2.imshow(self.title, image)
        return self.poll(1)

    def poll(self, wait_ms: int = 10) -> int:
        key = cv2.waitKey(wait_ms)
        return -1 if key < 0 else key & 0xFF

    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


def _gui_backend() -> Optional[str]:
    """The ``GUI:`` line of OpenCV's build information (``"NONE"`` in headless builds)."""
    for line in cv2.getBuildInformation().splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name.strip() == "GUI":
            return value.strip() or None
    return None


def gui_available() -> bool:
    """Whether this OpenCV build can open windows (``opencv-python-headless`` cannot)."""
    if _gui_backend() == "NONE":
        return False
    try:
        cv2.namedWindow("keras-i2i probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("keras-i2i probe")
        return True
    except cv2.error:
        return False


def draw_overlay(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with ``lines`` of white text on a dark box at the top left."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.35, min(1.0, width / 900))
    thickness = 1 if scale < 0.7 else 2
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness) for line in lines]
    line_h = max(h + base for (w, h), base in sizes) + 4
    box_w = min(width, max(w for (w, h), base in sizes) + 8)
    box_h = min(height, line_h * len(lines) + 4)
    region = out[:box_h, :box_w]
    region[:] = (region.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken to 40%
    for i, line in enumerate(lines):
        y = 2 + line_h * (i + 1) - sizes[i][1] - 2
        cv2.putText(out, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
