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


def test_r1_penalty_of_a_linear_discriminator():
    """D(x) = sum(w * x): grad_x D = w for every image, so the penalty is gamma/2 *
    sum(w^2) (times ``every`` on the steps it applies, 0 on the others), and its gradient
    in w, through the inner gradient, is gamma * every * w."""
    import tensorflow as tf

    from keras_i2i.losses import r1_penalty

    rng = np.random.default_rng(0)
    w = tf.Variable(rng.normal(size=(1, 4, 4, 3)).astype("float32"))
    real = tf.constant(rng.uniform(-1, 1, size=(3, 4, 4, 3)).astype("float32"))

    def disc(x, training=True):
        return tf.reduce_sum(w * x, axis=[1, 2, 3])

    sum_w2 = float(np.sum(w.numpy() ** 2))
    assert float(r1_penalty(disc, real, gamma=2.0)) == pytest.approx(sum_w2, rel=1e-5)

    @tf.function
    def lazy(step):
        with tf.GradientTape() as tape:
            value = r1_penalty(disc, real, gamma=10.0, every=4, step=step)
        return value, tape.gradient(value, w)

    for step, applied in ((0, True), (1, False), (3, False), (8, True)):
        value, grad = lazy(tf.constant(step, tf.int64))
        expect = 0.5 * 10.0 * 4 * sum_w2 if applied else 0.0
        assert float(value) == pytest.approx(expect, rel=1e-5), step
        np.testing.assert_allclose(grad.numpy(), 10.0 * 4 * w.numpy() if applied else 0.0, rtol=1e-5, atol=1e-7)
