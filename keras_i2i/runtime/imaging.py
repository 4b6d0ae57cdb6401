"""Resizing: INTER_AREA to shrink, INTER_CUBIC to enlarge (OpenCV), and center crops.

OpenCV is imported only here and only when installed (``[edge]`` brings it): without it
the same filters come from Pillow (box to shrink, bicubic to enlarge), a core
dependency, so ``benchmark`` and ``evaluate --model`` need nothing but the runtime of
the model file. :func:`resizer` says which one is in use.
"""

from __future__ import annotations

import functools

import numpy as np

RESIZE_MODES = ("stretch", "crop")


@functools.lru_cache(maxsize=None)
def _cv2():
    """OpenCV, or None when it is not installed."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def resizer() -> str:
    """``"opencv"`` or ``"pillow"``: what :func:`resize` uses on this install."""
    return "pillow" if _cv2() is None else "opencv"


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height``: INTER_AREA along the axes that shrink,
    INTER_CUBIC along those that grow (one pass each when they differ); the image itself
    when the size is already right. Pillow's box and bicubic filters without OpenCV."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    cv2 = _cv2()
    if cv2 is None:
        return _pillow_resize(image, width, height)
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


def _pillow_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    pil = Image.fromarray(image)
    if width < w or height < h:  # area-average the axes that shrink first
        pil = pil.resize((min(width, w), min(height, h)), Image.Resampling.BOX)
    if pil.size != (width, height):
        pil = pil.resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(pil)


def center_crop_box(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)`` of the largest centered box of an image of
    ``height`` x ``width`` with ``crop_width / crop_height == aspect`` (to the pixel)."""
    if width >= height * aspect:
        ch, cw = height, max(1, min(width, int(round(height * aspect))))
    else:
        cw, ch = width, max(1, min(height, int(round(width / aspect))))
    return (height - ch) // 2, (width - cw) // 2, ch, cw
