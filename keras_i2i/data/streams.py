"""Training streams by kind: the model's ``dataset_kind`` picks one from :data:`STREAMS`.

- ``unpaired``: ``(real_a, real_b)`` batches of two domains (:class:`UnpairedData`);
- ``labelled``: ``(image, domain_id)`` batches over any number of domains, each batch
  balanced over the domains (:class:`LabelledData`), as multi-domain GANs train;
- ``paired_synthetic``: ``(image, domain_id, mask)``, the labelled real half of GP-UNIT's
  prior distillation with object masks (:class:`PairedSyntheticData`; the model draws the
  synthetic pairs itself).

Every stream is a pure function of ``(seed, sample index)``, so a run resumed at step
``s`` reads the very batches an uninterrupted run would have read, and each has
``steps_per_epoch``, ``skipped`` and ``dataset(start_step)``.
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from keras_i2i.data.images import DataError
from keras_i2i.data.pipeline import DomainStream, UnpairedData, batched, load_stage, to_unit_range
from keras_i2i.registry import Registry

logger = logging.getLogger(__name__)

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


def _has_alpha(image) -> bool:
    """Whether a Pillow image has an alpha channel (RGBA, LA, palette with transparency)."""
    return image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (image.mode == "P" and "transparency" in image.info)


def read_alpha(path) -> "np.ndarray | None":
    """The alpha channel of an image file as ``(H, W)`` uint8, or None when it has none."""
    from PIL import Image

    with Image.open(path) as image:
        if not _has_alpha(image):
            return None
        image.load()
        return np.asarray(image.convert("RGBA"))[:, :, 3].copy()


@STREAMS.register("paired_synthetic")
class PairedSyntheticData(LabelledData):
    """GP-UNIT's prior-distillation stream: the real, labelled half of each step, with
    object masks; the model draws the synthetic half (the same latent in two classes of
    its class-conditional GAN) inside its train step, from ``(seed, step)``, so a
    resumed run sees the very pairs an uninterrupted one would.

    Batches ``(images, domain_ids, masks)``, the domains and order of :class:`LabelledData`;
    ``masks`` ``(B, H, W, 1)`` float in [-1, 1] (-1 background, 1
    object): the image file's alpha channel (the bundled emoji are RGBA; the loaders
    composite the colours on white and drop it), cropped and flipped with its image. A
    file without an alpha channel counts as all object (a warning says how many):
    photographs need masks from a segmenter, which this stream does not have.

    Args:
        data: a ``DataConfig``.
        global_batch: real images per step over all replicas.
        seed: seeds the shuffles and augmentations.
    """

    def __init__(self, data, global_batch: int, seed: int = 0):
        super().__init__(data, global_batch, seed)
        prepare = load_stage(data)
        self._alpha_prepare = lambda a: prepare(np.repeat(a[:, :, None], 3, axis=2))[:, :, :1]
        self._alpha: dict[tuple[int, int], np.ndarray] = {}
        opaque = sum(1 for folder in self.folders for path in folder.files if not _file_has_alpha(path))
        if opaque:
            logger.warning("%d training image(s) have no alpha channel: their masks are all object.", opaque)

    def alpha(self, domain: int, index: int) -> np.ndarray:
        """The prepared ``(H, W, 1)`` uint8 alpha of image ``index`` of domain ``domain``."""
        key = (int(domain), int(index))
        found = self._alpha.get(key)
        if found is None:
            image = self.folders[key[0]].get(key[1])
            raw = read_alpha(self.folders[key[0]].files[key[1]])
            if raw is None:
                found = np.full(image.shape[:2] + (1,), 255, np.uint8)
            else:
                found = self._alpha_prepare(raw)
            if self.config.cache:
                self._alpha[key] = found
        return found

    def dataset(self, start_step: int = 0) -> tf.data.Dataset:
        """Batches ``(images, domain_ids, masks)`` from step ``start_step`` on (endless)."""
        shape, folders, cfg = self.loaded_shape, self.folders, self.config

        def get(domain, index):
            return np.concatenate([folders[int(domain)].get(int(index)), self.alpha(domain, index)], axis=2)

        def load(domain, index, sample):
            rgba = tf.numpy_function(get, [domain, index], tf.uint8, stateful=False)
            rgba.set_shape(shape[:2] + [4])
            base = tf.constant(self.seed * 16 + 2 * 4, tf.int64)  # seeded as LabelledData's image stream
            rgba = tf.image.stateless_random_crop(rgba, [cfg.crop_size, cfg.crop_size, 4], seed=tf.stack([base, sample]))
            if cfg.flip:
                rgba = tf.image.stateless_random_flip_left_right(rgba, seed=tf.stack([base + 1, sample]))
            return to_unit_range(rgba[:, :, :3]), tf.cast(domain, tf.int32), to_unit_range(rgba[:, :, 3:])

        return batched(self._indices(start_step * self.global_batch), load, self.global_batch)


def _file_has_alpha(path) -> bool:
    from PIL import Image

    with Image.open(path) as image:  # the header only
        return _has_alpha(image)
