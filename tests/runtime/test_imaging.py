"""Resizing without OpenCV: Pillow's box and bicubic filters stand in for INTER_AREA and
INTER_CUBIC, so the runtime (benchmark, evaluate --model) needs only the model's runtime."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from keras_i2i.runtime import imaging


@pytest.fixture
def without_opencv(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    imaging._cv2.cache_clear()
    yield
    imaging._cv2.cache_clear()


def _image(height=48, width=64):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("size", [(32, 24), (100, 80), (40, 60), (64, 48)])
def test_pillow_resize_matches_opencv_closely(size, without_opencv):
    image = _image()
    assert imaging.resizer() == "pillow"
    out = imaging.resize(image, *size)
    assert out.shape == (size[1], size[0], 3) and out.dtype == np.uint8
    imaging._cv2.cache_clear()
    sys.modules.pop("cv2")  # OpenCV back for the reference
    try:
        import cv2  # noqa: F401
    except ImportError:
        pytest.skip("OpenCV is not installed")
    assert imaging.resizer() == "opencv"
    reference = imaging.resize(image, *size)
    assert np.abs(out.astype(int) - reference.astype(int)).mean() < 3.0


def test_same_size_is_the_image_itself(without_opencv):
    image = _image()
    assert imaging.resize(image, 64, 48) is image
