"""OpenCV for the webcam app, or one clear error naming the pip extra that provides it."""

from __future__ import annotations

from keras_i2i.extras import require

cv2 = require("cv2", "edge", "keras-i2i webcam")
