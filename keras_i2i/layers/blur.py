"""Anti-aliased downsampling: a fixed binomial blur applied per channel with a stride."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def binomial_filter(size: int) -> np.ndarray:
    """The normalized 2-D binomial filter of side ``size`` (3: [1, 2, 1] x [1, 2, 1] / 16)."""
    if not 1 <= size <= 7:
        raise ValueError(f"Blur filter size must be between 1 and 7, got {size}")
    row = np.array([math.comb(size - 1, k) for k in range(size)], dtype=np.float64)
    kernel = np.outer(row, row)
    return (kernel / kernel.sum()).astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_i2i")
class Blur2D(keras.layers.Layer):
    """Depthwise binomial blur with a stride, without padding (pad before it).

    With ``size=3, stride=2`` after a one-pixel reflection pad this is the
    anti-aliased downsampling ("BlurPool") of Zhang, "Making Convolutional Networks
    Shift-Invariant Again", ICML 2019, as CUT's generator uses it. The filter is a
    constant, not a weight; it exports to TFLite as a ``DEPTHWISE_CONV_2D``.

    Args:
        size: side of the binomial filter (1 to 7).
        stride: stride of the blur.
    """

    def __init__(self, size: int = 3, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        binomial_filter(size)  # validates
        self.size = int(size)
        self.stride = int(stride)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("Blur2D needs a known number of channels")
        kernel = np.repeat(binomial_filter(self.size)[:, :, None, None], channels, axis=2)
        self._kernel = kernel  # (size, size, channels, 1), a constant

    def call(self, inputs):
        kernel = ops.cast(ops.convert_to_tensor(self._kernel), inputs.dtype)
        return ops.depthwise_conv(inputs, kernel, strides=self.stride, padding="valid")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape

        def out(side):
            return None if side is None else (side - self.size) // self.stride + 1

        return n, out(h), out(w), c

    def get_config(self):
        return {**super().get_config(), "size": self.size, "stride": self.stride}
