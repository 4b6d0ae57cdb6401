"""Resizing with OpenCV: INTER_AREA to shrink, INTER_CUBIC to enlarge, and center crops."""

from __future__ import annotations

import numpy as np

try:
    import cv2
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_i2i.runtime needs OpenCV: pip install opencv-python-headless (or pip install 'keras-i2i[edge]')."
    ) from _err

RESIZE_MODES = ("stretch", "crop")


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height``: INTER_AREA along the axes that shrink,
    INTER_CUBIC along those that grow (one pass each when they differ); the image itself
    when the size is already right."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    if width <= w and height <= h:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if width >= w and height >= h:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
    # One axis shrinks, the other grows: area-average the first, then cubic on the second.
    if width < w:
        image = cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)
    else:
        image = cv2.resize(image, (w, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


def center_crop_box(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)`` of the largest centered box of an image of
    ``height`` x ``width`` with ``crop_width / crop_height == aspect`` (to the pixel)."""
    if width >= height * aspect:
        ch, cw = height, max(1, min(width, int(round(height * aspect))))
    else:
        cw, ch = width, max(1, min(height, int(round(width / aspect))))
    return (height - ch) // 2, (width - cw) // 2, ch, cw
