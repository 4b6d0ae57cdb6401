"""The statistics themselves, against independent computations (scipy, tf.image)."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from keras_i2i.metrics import METRICS, clean_resize, fid_from_features, frechet_distance, kid_from_features
from keras_i2i.metrics.classifier import LinearClassifier, balanced_accuracy
from keras_i2i.metrics.paired import psnr, ssim
from tests.metrics.conftest import emoji


def scipy_fid(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("n1,n2,d", [(300, 250, 40), (30, 45, 64)])
def test_frechet_distance_equals_scipy(n1, n2, d):
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    f1 = rng.normal(size=(n1, d)) @ mix
    f2 = rng.normal(size=(n2, d)) @ (mix + 0.3 * rng.normal(size=(d, d)) / np.sqrt(d)) + 0.5
    expected = scipy_fid(f1, f2)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-6)  # low-rank path when n < d
    assert expected > 1.0


def test_frechet_distance_of_known_gaussians():
    # N(0, I) and N(m, 4I) in 3-D: |m|^2 + 3 * (1 + 4 - 2 * 2)
    m = np.array([1.0, 2.0, 2.0])
    assert frechet_distance(np.zeros(3), np.eye(3), m, 4 * np.eye(3)) == pytest.approx(9.0 + 3.0)


def test_kid_is_zero_in_expectation_and_positive_for_shifted_sets():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 16))
    same, same_std, size = kid_from_features(a[:200], a[200:], subset_size=100)
    shifted, shifted_std, _ = kid_from_features(a[:200], a[200:] + 0.5, subset_size=100)
    assert size == 100
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 5 * shifted_std > 0 and shifted > 20 * abs(same)
    # capped at the set size; when subsets are all of both sets one draw is made
    assert kid_from_features(a[:50], a[50:100])[1:] == (0.0, 50)


def test_psnr_and_ssim_agree_with_tf_image():
    a, b = emoji("test", "A", 6), emoji("test", "B", 6)  # paired glyphs in two styles
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    for x, y in ((a, b), (a, noisy)):
        np.testing.assert_allclose(psnr(x, y), tf.image.psnr(x, y, 255).numpy(), rtol=1e-5)
        np.testing.assert_allclose(ssim(x, y), tf.image.ssim(tf.constant(x), tf.constant(y), 255).numpy(),
                                   rtol=0, atol=3e-4)  # TensorFlow computes in float32
    assert ssim(a, a) == pytest.approx(np.ones(6))
    assert np.all(psnr(a, noisy) > psnr(a, b))


def test_clean_resize_is_float_bicubic_antialiased():
    rng = np.random.default_rng(0)
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    images = np.stack([np.repeat(checker[:, :, None], 3, 2), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)])
    small = clean_resize(images, 16)
    # antialiased: a one-pixel checkerboard averages out to grey instead of aliasing
    assert np.abs(small[0] - 127.5).max() < 2.0
    big = clean_resize(images, 299)
    assert big.dtype == np.float32 and big.shape == (2, 299, 299, 3)
    assert np.any(big != np.round(big))  # values between levels: not rounded to uint8 (nor JPEG)
    assert big.min() >= 0 and big.max() <= 255


def test_linear_classifier_separates_and_is_balanced():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (300, 8)), rng.normal(0, 1, (60, 8)) + 1.5])
    y = np.array([0] * 300 + [1] * 60)
    clf = LinearClassifier().fit(x, y, 2)
    assert balanced_accuracy(clf.predict(x), y) > 0.8
    assert balanced_accuracy(np.zeros(360, int), y) == 0.5


def test_metric_registry():
    assert {"fid", "kid", "rc", "fc", "psnr", "ssim"} <= set(METRICS.names())
    assert not METRICS.get("fid").higher_is_better and METRICS.get("rc").higher_is_better
    with pytest.raises(ValueError, match="Known metrics: fc, fid"):
        METRICS.get("nosuch")


def test_feature_cache_is_by_content_and_bounded():
    from keras_i2i.metrics import FeatureExtractor

    calls = []

    def model(x, training=False):
        calls.append(len(x))
        return x.reshape(len(x), -1)[:, :5]

    fx = FeatureExtractor(model, 8, lambda x: x, {"network": "pixels"}, batch_size=3, cache_sets=2)
    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8) for _ in range(3)]
    first = fx(sets[0])
    assert first.shape == (4, 5) and calls == [3, 1]
    assert fx(sets[0].copy()) is first and calls == [3, 1]  # same pixels: cached
    fx(sets[1]), fx(sets[2])  # the oldest set is dropped
    assert fx(sets[2]) is not None and len(calls) == 6
    fx(sets[0])
    assert len(calls) == 8
