"""History of generated images for discriminator updates (Shrivastava et al. 2017)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_i2i")
class ImagePool(keras.layers.Layer):
    """Buffer of up to ``pool_size`` generated images, stored as layer weights so that
    checkpoints carry it and a resumed run draws the same history.

    ``query(images, step)`` follows the CycleGAN reference image by image: while the
    pool is not full the image is stored and returned; afterwards, with probability
    one half a stored image is returned and replaced by the new one, else the new
    image is returned. Random draws are stateless, seeded by ``(seed, step, index)``,
    so they depend only on the training step. ``pool_size=0`` returns the input.

    Under a distribution strategy the replicas gather the whole global batch, run
    the same query on it (the draws are seeded, so every replica computes the same
    pool) and each keeps its own slice: the pool sees exactly what it would see on
    one device at the same global batch.

    Args:
        pool_size: images kept (50 in the paper).
        seed: base seed of the draws.

    Reference:
        Shrivastava et al., "Learning from Simulated and Unsupervised Images through
        Adversarial Training", CVPR 2017.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.seed = int(seed)

    def build(self, input_shape):
        if self.pool_size > 0:
            self.images = self.add_weight(
                shape=(self.pool_size, *input_shape[1:]),
                initializer="zeros",
                dtype="float32",
                trainable=False,
                aggregation="only_first_replica",
                name="images",
            )
            self.count = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False,
                aggregation="only_first_replica", name="count",
            )

    def call(self, images):
        return images

    def query(self, images, step):
        if self.pool_size == 0:
            return images
        images = tf.stop_gradient(tf.cast(images, "float32"))
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            local = tf.shape(images)[0]
            gathered = replica.all_gather(images, axis=0)
            if images.shape[0] is not None:
                gathered.set_shape([images.shape[0] * replica.num_replicas_in_sync, *images.shape[1:]])
            everything = self._query(gathered, step)
            start = tf.cast(replica.replica_id_in_sync_group, tf.int32) * local
            return everything[start : start + local]
        return self._query(images, step)

    def _query(self, images, step):
        # One image after another, as the reference. Each image reads one slot of the pool
        # and writes one (gather, tensor scatter: static shapes, so XLA compiles it once);
        # the whole-pool one-hot masks this replaced passed over all pool_size images five
        # times per image (90 ms of a 256 px step on 2 CPU cores). The variable is assigned
        # once, after the batch (a write inside the loop would be a cross-replica sync).
        step = tf.cast(step, tf.int64)
        pool = tf.convert_to_tensor(self.images.value)
        count = tf.convert_to_tensor(self.count.value)
        batch = images.shape[0]
        if batch is not None:
            returned = []
            for i in range(batch):
                out, pool, count = self._one(images[i], tf.constant(i, tf.int64), step, pool, count)
                returned.append(out)
            result = tf.stack(returned)
        else:  # batch known only at run time (e.g. a multi-worker shard)

            def body(i, pool, count, outs):
                out, pool, count = self._one(images[i], tf.cast(i, tf.int64), step, pool, count)
                return i + 1, pool, count, outs.write(i, out)

            outs = tf.TensorArray(tf.float32, size=tf.shape(images)[0], element_shape=images.shape[1:])
            _, pool, count, outs = tf.while_loop(lambda i, *_: i < tf.shape(images)[0], body,
                                                 (tf.constant(0), pool, count, outs))
            result = outs.stack()
        self.images.assign(pool)
        self.count.assign(count)
        return result

    def _one(self, image, index, step, pool, count):
        counter = step * 4096 + index
        draw = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(self.seed, tf.int64), counter]))
        slot = tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(self.seed + 1, tf.int64), counter]), maxval=self.pool_size, dtype=tf.int32
        )
        filling = count < self.pool_size
        swap = tf.logical_and(tf.logical_not(filling), draw > 0.5)
        target = tf.where(filling, count, slot)
        stored = tf.gather(pool, target)
        returned = tf.where(swap, stored, image)
        # An unchanged slot is written with its own value: one image, no branch.
        kept = tf.where(tf.logical_or(filling, swap), image, stored)
        pool = tf.tensor_scatter_nd_update(pool, target[None, None], kept[None])
        return returned, pool, tf.minimum(count + 1, self.pool_size)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "seed": self.seed}
