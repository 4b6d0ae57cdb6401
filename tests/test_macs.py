"""MAC counts: one convention for Keras models, .tflite and .onnx files."""

import keras
import numpy as np

from keras_i2i.macs import count_macs, gmac, onnx_macs, tflite_macs
from keras_i2i.networks import GENERATORS


def resnet9_macs(ngf: int, side: int) -> int:
    """Closed form of the ResNet-9 generator on the convention: convolutions over their
    output pixels, transposed ones over the stride-upsampled input."""
    h = side * side
    stem = h * 7 * 7 * 3 * ngf
    down = (h // 4) * 9 * ngf * 2 * ngf + (h // 16) * 9 * 2 * ngf * 4 * ngf
    blocks = 18 * (h // 16) * 9 * (4 * ngf) ** 2
    up = (h // 4) * 9 * 4 * ngf * 2 * ngf + h * 9 * 2 * ngf * ngf
    head = h * 7 * 7 * ngf * 3
    return stem + down + blocks + up + head


def test_resnet9_at_256_is_56_8_gmac():
    generator = GENERATORS.get("resnet_9blocks")(ngf=64)
    macs = count_macs(generator, 256)
    assert macs == resnet9_macs(64, 256) == 56_799_264_768
    assert gmac(macs) == 56.7993


def test_dense_depthwise_and_files_agree():
    from keras_i2i.export.onnx import convert_onnx
    from keras_i2i.export.tflite import convert_tflite

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = keras.layers.Dense(3, activation="tanh")(x)
    model = keras.Model(inputs, x)
    expected = 8 * 8 * 9 * 3 * 8 + 8 * 8 * 9 * 8 + 16 * 16 * 9 * 8 * 4 + 16 * 16 * 4 * 3
    assert count_macs(model, (16, 16)) == expected
    assert tflite_macs(convert_tflite(model, 16, "fp32", io="float")) == expected
    assert onnx_macs(convert_onnx(model, 16, io="float")) == expected
    generator = GENERATORS.get("resnet_6blocks")(ngf=4)
    keras_count = count_macs(generator, 32)
    assert tflite_macs(convert_tflite(generator, 32, "fp32")) == keras_count
    calibration = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    assert tflite_macs(convert_tflite(generator, 32, "int8", calibration=calibration)) == keras_count
