import numpy as np

from keras_i2i.models.image_pool import ImagePool


def _images(value, n=1):
    return np.full((n, 4, 4, 3), value, "float32")


def test_pool_fills_then_mixes_history():
    pool = ImagePool(pool_size=3, seed=0)
    pool.build((None, 4, 4, 3))
    for i in range(3):  # filling: returns its input, stores it
        np.testing.assert_array_equal(np.asarray(pool.query(_images(i), step=i)), _images(i))
    assert int(pool.count.numpy()) == 3
    returned = [float(np.asarray(pool.query(_images(10 + i), step=3 + i))[0, 0, 0, 0]) for i in range(40)]
    from_history = [r for i, r in enumerate(returned) if r != 10 + i]
    assert 8 < len(from_history) < 32  # about half come from the pool
    stored = set(np.asarray(pool.images.value)[:, 0, 0, 0].tolist())
    assert stored - {0.0, 1.0, 2.0}  # newer images replaced old ones


def test_pool_is_deterministic_in_step():
    outs = []
    for _ in range(2):
        pool = ImagePool(pool_size=2, seed=5)
        pool.build((None, 4, 4, 3))
        outs.append([np.asarray(pool.query(_images(i, n=2), step=i)).copy() for i in range(10)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_pool_size_zero_is_identity():
    pool = ImagePool(pool_size=0)
    pool.build((None, 4, 4, 3))
    x = _images(3.0, n=2)
    np.testing.assert_array_equal(np.asarray(pool.query(x, step=0)), x)


def _reference_pool(pool_size, seed, batches):
    """The reference's query, image by image, with ImagePool's seeded draws."""
    import tensorflow as tf

    stored, out = [], []
    for step, batch in enumerate(batches):
        returned = []
        for index, image in enumerate(batch):
            counter = step * 4096 + index
            draw = float(tf.random.stateless_uniform([], seed=tf.constant([seed, counter], tf.int64)))
            slot = int(tf.random.stateless_uniform([], seed=tf.constant([seed + 1, counter], tf.int64),
                                                   maxval=pool_size, dtype=tf.int32))
            if len(stored) < pool_size:
                stored.append(image)
                returned.append(image)
            elif draw > 0.5:
                returned.append(stored[slot])
                stored[slot] = image
            else:
                returned.append(image)
        out.append(np.stack(returned))
    return out, np.stack(stored)


def test_pool_matches_the_reference_query_in_a_traced_step():
    """Twelve batches of 3 through a tf.function (the training step's graph), past the
    filling: what the reference returns and keeps, image for image."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(3, 4, 4, 3)).astype("float32") for _ in range(12)]
    want, want_stored = _reference_pool(4, 7, batches)
    pool = ImagePool(pool_size=4, seed=7)
    pool.build((None, 4, 4, 3))
    query = tf.function(lambda images, step: pool.query(images, step))
    for step, (batch, expected) in enumerate(zip(batches, want)):
        np.testing.assert_array_equal(np.asarray(query(tf.constant(batch), tf.constant(step))), expected)
    np.testing.assert_array_equal(np.asarray(pool.images.value), want_stored)
    assert int(pool.count.numpy()) == 4
