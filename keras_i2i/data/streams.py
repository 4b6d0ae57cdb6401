"""Training streams by kind: the model's ``dataset_kind`` picks one from :data:`STREAMS`.

- ``unpaired``: ``(real_a, real_b)`` batches of two domains (:class:`UnpairedData`);
- ``labelled``: ``(image, domain_id)`` batches over any number of domains, each batch
  balanced over the domains (:class:`LabelledData`), as multi-domain GANs train.

Every stream is a pure function of ``(seed, sample index)``, so a run resumed at step
``s`` reads the very batches an uninterrupted run would have read, and each has
``steps_per_epoch``, ``skipped`` and ``dataset(start_step)``.
"""

from __future__ import annotations

import tensorflow as tf

from keras_i2i.data.images import DataError
from keras_i2i.data.pipeline import DomainStream, UnpairedData, batched
from keras_i2i.registry import Registry

STREAMS: Registry[type] = Registry("dataset kind")
STREAMS.register("unpaired")(UnpairedData)


def make_stream(kind: str, data, global_batch: int, seed: int = 0):
    """The training stream of ``kind`` (a model's ``dataset_kind``) over ``data``."""
    return STREAMS.get(kind)(data, global_batch, seed=seed)


@STREAMS.register("labelled")
class LabelledData(DomainStream):
    """Batches ``(images, domain_ids)`` over all the domains of a dataset.

    Sample ``g`` comes from domain ``g % N`` (``N`` domains, sorted by name), so every
    batch holds each domain ``global_batch // N`` or one more times. An epoch is
    ``N * max(domain sizes)`` samples: each domain is visited in an order drawn with a
    stateless shuffle seeded by ``(seed, epoch, domain)``, smaller domains repeating.
    Crops and flips are stateless draws seeded by ``(seed, g)``.

    Args:
        data: a ``DataConfig``.
        global_batch: images per step over all replicas.
        seed: seeds the shuffles and augmentations.
    """

    def check_domains(self) -> None:
        if self.global_batch < 1:
            raise DataError(f"The global batch must be at least 1, got {self.global_batch}.")

    @property
    def num_domains(self) -> int:
        return len(self.domains)

    @property
    def epoch_size(self) -> int:
        return self.num_domains * max(len(f) for f in self.folders)

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.epoch_size // self.global_batch)

    def _indices(self, start_sample: int) -> tf.data.Dataset:
        n, longest, seed = self.num_domains, max(len(f) for f in self.folders), self.seed
        sizes = [len(f) for f in self.folders]

        def epoch(e):
            orders = [
                tf.random.experimental.stateless_shuffle(
                    tf.range(longest, dtype=tf.int64) % size, seed=tf.stack([tf.constant(seed, tf.int64), n * e + d]))
                for d, size in enumerate(sizes)
            ]
            index = tf.reshape(tf.stack(orders, axis=1), [-1])  # sample k*n + d -> orders[d][k]
            domain = tf.tile(tf.range(n, dtype=tf.int64), [longest])
            return tf.data.Dataset.from_tensor_slices((domain, index, e * n * longest + tf.range(n * longest, dtype=tf.int64)))

        first_epoch, offset = divmod(int(start_sample), n * longest)
        return tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch).skip(offset)

    def dataset(self, start_step: int = 0) -> tf.data.Dataset:
        """Batches from step ``start_step`` on (endless)."""
        shape, folders = self.loaded_shape, self.folders

        def get(domain, index):
            return folders[int(domain)].get(int(index))

        def load(domain, index, sample):
            image = tf.numpy_function(get, [domain, index], tf.uint8, stateful=False)
            image.set_shape(shape)
            return self._augment(image, sample, stream=2), tf.cast(domain, tf.int32)

        return batched(self._indices(start_step * self.global_batch), load, self.global_batch)
