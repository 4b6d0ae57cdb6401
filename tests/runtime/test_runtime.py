"""keras_i2i.runtime on real exported files: equal to the file run by hand, within parity
of Keras, any size in and out, crop and stretch, uint8 and float I/O, LiteRT and ONNX."""

from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.conftest import SIZE, keras_pixels

FILES = [("uint8", "a2b.fp32.tflite"), ("uint8", "a2b.int8.tflite"), ("uint8", "a2b.onnx"),
         ("float", "a2b.fp32.tflite"), ("float", "a2b.onnx")]
FP32 = [f for f in FILES if "int8" not in f[1]]


def _load(exports, io, name, **kwargs):
    from keras_i2i.runtime import load

    return load(exports[io] / name, **kwargs)


def _psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _by_hand(path, pixels: np.ndarray) -> np.ndarray:
    """The exported file run directly in its runtime on a model-size image, with the
    pre/postprocessing that model.json documents."""
    import json

    entry = next(e for e in json.loads((path.parent / "model.json").read_text())["models"] if e["file"] == path.name)
    x = pixels[None]
    if entry["io"] == "float":
        x = x.astype(np.float32) / 127.5 - 1.0
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        y = session.run(None, {session.get_inputs()[0].name: x})[0]
    if entry["io"] == "float":
        y = np.clip(np.rint((y.astype(np.float64) + 1.0) * 127.5), 0, 255)
    return y[0].astype(np.uint8)


@pytest.mark.parametrize("io,name", FILES)
def test_equals_the_file_run_by_hand(exports, real_images, io, name):
    import cv2

    translator = _load(exports, io, name)
    assert translator.backend == ("litert" if name.endswith(".tflite") else "onnx")
    assert tuple(translator.input_size) == (SIZE, SIZE) and translator.input_size.width == SIZE
    assert translator.metadata["file"] == name and translator.metadata["io"] == io
    assert translator.input_spec.dtype == ("uint8" if io == "uint8" else "float32")
    for image in real_images[:2]:
        small = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        expected = _by_hand(exports[io] / name, small)
        np.testing.assert_array_equal(translator(small), expected)  # model size: no resizing at all
        # Any other size: INTER_AREA down, the file, INTER_CUBIC back up.
        out = translator(image)
        assert out.shape == image.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out, cv2.resize(expected, image.shape[1::-1], interpolation=cv2.INTER_CUBIC))


@pytest.mark.parametrize("io,name", FILES)
@pytest.mark.parametrize("shape", [(1, 1), (17, 90), (90, 17), (48, 40), (480, 640)])
def test_any_size_returns_the_same_size(exports, io, name, shape):
    translator = _load(exports, io, name)
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    for mode in ("stretch", "crop"):
        translator.resize = mode
        out = translator(image)
        assert out.shape == image.shape and out.dtype == np.uint8


@pytest.mark.parametrize("io,name", FILES)
def test_parity_with_keras_on_real_images(exports, keras_a2b, real_images, io, name):
    import cv2

    translator = _load(exports, io, name)
    small = np.stack([cv2.resize(im, (SIZE, SIZE), interpolation=cv2.INTER_AREA) for im in real_images])
    ours = np.stack([translator(im) for im in small])
    psnr = _psnr(ours, keras_pixels(keras_a2b, small))
    assert psnr > (40.0 if "int8" not in name else 25.0), psnr


def test_uint8_and_float_files_agree(exports, real_images):
    for name in ("a2b.fp32.tflite", "a2b.onnx"):
        pixels, floats = _load(exports, "uint8", name), _load(exports, "float", name)
        assert pixels.input_spec.is_pixels and not floats.input_spec.is_pixels
        assert floats.input_spec.range == (-1.0, 1.0) and floats.output_spec.dtype == "float32"
        for image in real_images:
            assert _psnr(pixels(image), floats(image)) > 50.0


def test_tflite_and_onnx_agree(exports, real_images):
    litert, onnx = _load(exports, "float", "a2b.fp32.tflite"), _load(exports, "float", "a2b.onnx")
    for image in real_images:
        assert _psnr(litert(image), onnx(image)) > 45.0


def test_crop_translates_the_centered_box_and_stretch_the_whole_image(exports, real_images):
    import cv2

    stretch = _load(exports, "uint8", "a2b.fp32.tflite")
    crop = _load(exports, "uint8", "a2b.fp32.tflite", resize="crop")
    wide = cv2.resize(real_images[0], (100, 40), interpolation=cv2.INTER_AREA)  # 40 rows, 100 columns
    assert crop.crop_box(40, 100) == (0, 30, 40, 40) and stretch.crop_box(40, 100) == (0, 0, 40, 100)
    out = crop(wide)
    np.testing.assert_array_equal(out[:, 30:70], stretch(np.ascontiguousarray(wide[:, 30:70])))
    assert not out[:, :30].any() and not out[:, 70:].any()  # outside the box: black
    assert crop.crop_box(100, 40) == (30, 0, 40, 40)  # tall images crop rows
    tall = np.ascontiguousarray(wide.transpose(1, 0, 2))
    np.testing.assert_array_equal(crop(tall)[30:70], stretch(np.ascontiguousarray(tall[30:70])))
    assert not np.array_equal(stretch(wide)[:, 30:70], out[:, 30:70])  # stretch squeezes the whole width
    square = real_images[0]
    np.testing.assert_array_equal(crop(square), stretch(square))  # same aspect: identical


def test_run_raw_and_pre_postprocess(exports):
    for io, name in FILES:
        translator = _load(exports, io, name)
        x = translator.example_input()
        assert x.shape == (1, SIZE, SIZE, 3) and x.dtype == np.dtype(translator.input_spec.dtype)
        np.testing.assert_array_equal(translator.example_input(), x)  # fixed
        raw = translator.run_raw(x)
        assert raw.shape == (1, SIZE, SIZE, 3) and raw.dtype == np.dtype(translator.output_spec.dtype)
        if io == "float":
            assert x.min() >= -1.0 and x.max() <= 1.0
        pixels = translator.postprocess(raw)
        assert pixels.dtype == np.uint8 and pixels.shape == (SIZE, SIZE, 3)


def test_quantized_io_is_applied_from_model_json(exports):
    """An int8 tensor with a scale and zero point (none of our exports has one, so the specs
    are swapped in): pixels -> [-1, 1] -> round(x / scale) + zero_point, and back."""
    from keras_i2i.runtime.metadata import TensorSpec

    translator = _load(exports, "float", "a2b.fp32.tflite")
    spec = TensorSpec("image", (1, SIZE, SIZE, 3), "int8", (-1.0, 1.0), (2.0 / 255.0, -1))
    translator.input_spec = spec
    x = translator.preprocess(np.array([[[0, 127, 255]]], np.uint8))
    np.testing.assert_array_equal(x, np.array([[[[-128, -1, 126]]]], np.int8))  # round(v / s) + zp, clipped
    translator.output_spec = spec
    np.testing.assert_array_equal(translator.postprocess(x), np.array([[[0, 128, 254]]], np.uint8))  # 127.5 rounds to even


def test_num_threads(exports, real_images):
    from keras_i2i.runtime import load

    for io, name in (("uint8", "a2b.fp32.tflite"), ("float", "a2b.onnx")):
        one, default = _load(exports, io, name, num_threads=1), _load(exports, io, name)
        assert one.num_threads == 1 and default.num_threads is None
        np.testing.assert_array_equal(one(real_images[0]), default(real_images[0]))
    with pytest.raises(ValueError, match="num_threads"):
        load(exports["uint8"] / "a2b.onnx", num_threads=0)
    with pytest.raises(ValueError, match="resize"):
        load(exports["uint8"] / "a2b.onnx", resize="pad")


def test_bad_images_are_refused(exports):
    translator = _load(exports, "uint8", "a2b.fp32.tflite")
    with pytest.raises(ValueError, match="uint8"):
        translator(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        translator(np.zeros((8, 8), np.uint8))
    with pytest.raises(TypeError, match="numpy"):
        translator([[0, 0, 0]])
