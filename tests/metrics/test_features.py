"""FID, KID and RC/FC on real images through the InceptionV3 feature path (random
weights at 75x75: tests may not download, and 299 is 16x the cost)."""

import numpy as np
import pytest
from PIL import Image

from keras_i2i.data.pipeline import DomainPaths
from keras_i2i.metrics import Evaluation, FeatureError, fid_from_features, inception_v3, kid_from_features, run_metrics
from tests.metrics.conftest import FEATURE_SIZE, emoji


def _noisy(images, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(features):
    real = emoji("test", "B", 32)
    f = features(real)
    assert f.shape == (len(real), 2048)
    assert fid_from_features(f, f) < 1e-9
    fids = [fid_from_features(f, features(_noisy(real, sigma))) for sigma in (8, 32, 96)]
    assert 0 < fids[0] < fids[1] < fids[2], fids


def test_kid_of_two_halves_of_one_set_is_about_zero(features):
    real = emoji("test", "B", 32)  # the FID test's images: their features are cached
    f = features(real)
    mean, std, size = kid_from_features(f[::2], f[1::2], subset_size=12)
    assert size == 12 and std > 0
    assert abs(mean) < 3 * std
    noisy_mean, noisy_std, _ = kid_from_features(f[::2], features(_noisy(real, 96))[1::2], subset_size=12)
    assert noisy_mean > 2 * noisy_std and noisy_mean > 20 * abs(mean), (mean, std, noisy_mean, noisy_std)


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    """Domain A: real emoji; domain B: the same glyphs inverted (paired by file name). Two
    styles that even random features tell apart, so RC/FC have something to measure."""
    root = tmp_path_factory.mktemp("two_styles")
    for split, count in (("train", 24), ("test", 12)):
        images = emoji(split, "A", count)
        for domain, data in (("A", images), ("B", 255 - images)):
            (root / f"{split}{domain}").mkdir()
            for i, image in enumerate(data):
                Image.fromarray(image).save(root / f"{split}{domain}" / f"{i:03d}.png")
    return DomainPaths(root / "trainA", root / "trainB", root / "testA", root / "testB")


def _oracle(direction):
    """The true translation of the two_styles data (inversion both ways)."""
    return lambda images: 255 - images


def _noise(seed):
    return lambda images: np.random.default_rng(seed).integers(0, 256, images.shape, dtype=np.uint8)


def test_rc_and_fc_are_high_for_real_images_and_chance_for_noise(two_styles, features):
    def evaluate(translators):
        ev = Evaluation(translators, two_styles, 64, features, classifier_images=24)
        return run_metrics(ev, ["rc", "fc", "psnr", "ssim"])

    real = evaluate({"a2b": _oracle("a2b"), "b2a": _oracle("b2a")})
    assert real["a2b"]["rc"] >= 0.9 and real["b2a"]["rc"] >= 0.9, real
    assert real["mean"]["fc"] >= 0.9, real
    assert real["a2b"]["psnr"] == np.inf and real["a2b"]["ssim"] == pytest.approx(1.0)
    assert real["a2b"]["pairs"] == 12
    noise = evaluate({"a2b": _noise(1), "b2a": _noise(2)})
    assert 0.3 <= noise["mean"]["rc"] <= 0.7, noise
    assert 0.3 <= noise["mean"]["fc"] <= 0.7, noise
    assert noise["a2b"]["psnr"] < 10
    identity = evaluate({"a2b": lambda x: x, "b2a": lambda x: x})  # no translation at all: the wrong domain
    assert identity["mean"]["rc"] <= 0.1 and identity["mean"]["fc"] <= 0.1, identity


def test_fc_needs_both_directions(two_styles, features):
    ev = Evaluation({"a2b": _oracle("a2b")}, two_styles, 64, features, classifier_images=24)
    rows = run_metrics(ev, ["fc"])
    assert rows["mean"]["fc"] is None and "none into a" in rows["mean"]["fc_note"]


def test_inception_weights_from_a_local_file(features, tmp_path):
    path = tmp_path / "inception.weights.h5"
    features.model.save_weights(path)
    loaded = inception_v3(weights=path, size=FEATURE_SIZE)
    assert loaded.model is not features.model and loaded.description["weights"] == str(path)
    images = emoji("test", "A", 4)
    np.testing.assert_allclose(loaded(images), features(images), rtol=1e-5, atol=1e-6)
    assert not loaded.comparable  # 75x75 is not the protocol, whatever the weights
    with pytest.raises(FeatureError, match="does not exist"):
        inception_v3(weights=tmp_path / "missing.h5", size=FEATURE_SIZE)
    with pytest.raises(FeatureError, match="at least 75"):
        inception_v3(weights="none", size=32)
