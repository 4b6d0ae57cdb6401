import numpy as np
import pytest

from keras_i2i.losses import GAN_LOSSES, l1_loss, l2_loss

LOGITS = np.array([[-2.0, 0.0], [0.5, 3.0]], "float32")


def test_lsgan():
    f = GAN_LOSSES.get("lsgan")
    assert float(f(LOGITS, True)) == pytest.approx(np.mean((LOGITS - 1) ** 2))
    assert float(f(LOGITS, False)) == pytest.approx(np.mean(LOGITS**2))


def test_vanilla_is_binary_cross_entropy():
    f = GAN_LOSSES.get("vanilla")
    p = 1 / (1 + np.exp(-LOGITS.astype(np.float64)))
    assert float(f(LOGITS, True)) == pytest.approx(np.mean(-np.log(p)), rel=1e-5)
    assert float(f(LOGITS, False)) == pytest.approx(np.mean(-np.log(1 - p)), rel=1e-5)
    assert np.isfinite(float(f(np.array([1e4, -1e4], "float32"), True)))


def test_hinge():
    f = GAN_LOSSES.get("hinge")
    assert float(f(LOGITS, True)) == pytest.approx(np.mean(np.maximum(0, 1 - LOGITS)))
    assert float(f(LOGITS, False)) == pytest.approx(np.mean(np.maximum(0, 1 + LOGITS)))
    assert float(f(LOGITS, True, for_discriminator=False)) == pytest.approx(-LOGITS.mean())


def test_distances():
    a, b = np.zeros((2, 3), "float32"), np.full((2, 3), 2.0, "float32")
    assert float(l1_loss(a, b)) == 2.0
    assert float(l2_loss(a, b)) == 4.0
