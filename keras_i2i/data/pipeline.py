"""Two unpaired image folders -> a deterministic, resumable ``tf.data`` stream.

The stream is a pure function of ``(seed, sample index)``: epoch ``e`` visits each
domain in an order drawn with a stateless shuffle seeded by ``(seed, e)`` (the
smaller domain repeats so both cover ``max(len(A), len(B))`` samples), and the crop
and flip of sample ``g`` are stateless draws seeded by ``(seed, g)``. Resuming at
step ``s`` therefore only skips ``s * global_batch`` indices (no image is read) and
gives the very batches an uninterrupted run would have seen.

Preprocessing follows the CycleGAN reference: ``resize_and_crop`` resizes to
``load_size`` (antialiased bicubic) then crops ``crop_size`` at random;
``scale_width_and_crop`` scales the width to ``load_size`` keeping the aspect;
``crop`` crops the original (upscaling an image smaller than the crop). Then a
random horizontal flip, and values scaled to [-1, 1]. At test time images are
resized to ``crop_size``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import tensorflow as tf

from keras_i2i.data.images import DataError, ImageFolder, read_image, resize
from keras_i2i.utils import pixels_to_unit

logger = logging.getLogger(__name__)

_BUNDLED = Path(__file__).resolve().parent / "bundled"
# emoji: Noto -> Twemoji (trainA/trainB); emoji4: noto, twemoji, fluent3d, fluentflat (train/<domain>/).
BUNDLED_DATASETS = {"emoji": _BUNDLED / "emoji", "emoji4": _BUNDLED / "emoji4"}


def bundled_root(name: str) -> Optional[Path]:
    """The folder of bundled dataset ``name``, or of a dataset derived from one
    (``emoji4_categories``, laid out in the dataset cache first: :mod:`keras_i2i.data.derived`);
    None for any other name."""
    if name in BUNDLED_DATASETS:
        return BUNDLED_DATASETS[name]
    from keras_i2i.data.derived import DERIVED_DATASETS, derived_root

    return derived_root(name) if name in DERIVED_DATASETS else None


@dataclass(frozen=True)
class DomainPaths:
    train_a: Path
    train_b: Path
    test_a: Optional[Path] = None
    test_b: Optional[Path] = None


def _layout(root: Path) -> DomainPaths:
    test_a, test_b = root / "testA", root / "testB"
    return DomainPaths(root / "trainA", root / "trainB", test_a if test_a.is_dir() else None,
                       test_b if test_b.is_dir() else None)


def _domain_source(value: str, download: bool) -> tuple[Path, Optional[Path]]:
    """The train and test folders of a ``data.a``/``data.b`` value: a folder, or the name
    of a one-domain dataset (``cartoonset10k``) when no such folder exists."""
    from keras_i2i.data import datasets

    path = Path(value).expanduser()
    if path.exists() or value not in datasets.DOMAIN_DATASETS:
        return path, None
    root = datasets.resolve_dataset_root(value)
    if root is None:
        if not download:
            raise DataError(
                f"Dataset {value!r} is not downloaded. Run `keras-i2i datasets download {value}` "
                "or add --set data.download=true."
            )
        root = datasets.download_dataset(value)
    test = root / "test"
    return root / "train", test if test.is_dir() else None


def _is_per_domain(root) -> bool:
    from keras_i2i.data.domains import per_domain_layout

    return per_domain_layout(Path(root).expanduser()) is not None


def two_domain_paths(domains, what: str = "The data has") -> DomainPaths:
    """The folders of exactly two domains (``a`` is the first), else a ``DataError`` that
    says how to pick two."""
    if len(domains) != 2:
        names = ", ".join(d.name for d in domains)
        raise DataError(
            f"{what} {len(domains)} domains ({names}); a two-domain model needs two: set data.domains.NAME=FOLDER "
            "for two of them (or data.a and data.b to two folders)."
        )
    first, second = domains
    return DomainPaths(first.train, second.train, first.test, second.test)


def resolve_paths(data) -> DomainPaths:
    """Folders of the two domains from a ``DataConfig``: ``a``/``b`` win over ``root``,
    which wins over ``dataset`` (bundled ``emoji`` or a standard CycleGAN dataset).
    ``a`` or ``b`` may name a one-domain dataset (``cartoonset10k``) instead of a folder.
    Datasets of named domains (``data.domains``, ``root/train/<domain>/``) qualify when
    they have exactly two domains: ``a`` is the first name in sorted order."""
    if getattr(data, "domains", None) or (data.root and not (data.a or data.b) and _is_per_domain(data.root)):
        from keras_i2i.data.domains import resolve_domains

        return two_domain_paths(resolve_domains(data))
    if data.a or data.b:
        if not (data.a and data.b):
            raise DataError("Set both data.a and data.b (two folders of images), or data.root.")
        train_a, test_a = _domain_source(data.a, data.download)
        train_b, test_b = _domain_source(data.b, data.download)
        return DomainPaths(
            train_a, train_b,
            Path(data.test_a).expanduser() if data.test_a else test_a,
            Path(data.test_b).expanduser() if data.test_b else test_b,
        )
    if data.root:
        root = Path(data.root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root {root} is not a folder. It should hold trainA/ and trainB/ (and testA/, testB/).")
        paths = _layout(root)
        missing = [p.name for p in (paths.train_a, paths.train_b) if not p.is_dir()]
        if missing:
            raise DataError(
                f"data.root {root} has no {' or '.join(missing)} folder. Expected the CycleGAN layout "
                "trainA/ trainB/ testA/ testB/, or set data.a and data.b to two folders."
            )
        return paths
    if data.dataset:
        root = bundled_root(data.dataset)
        if root is not None:
            if _is_per_domain(root):
                from keras_i2i.data.domains import resolve_domains

                return two_domain_paths(resolve_domains(data), f"Dataset {data.dataset!r} has one folder per domain")
            return _layout(root)
        from keras_i2i.data import datasets

        if data.dataset in datasets.MULTIDOMAIN_DATASETS:  # afhq: a folder per domain
            from keras_i2i.data.domains import resolve_domains

            return two_domain_paths(resolve_domains(data), f"Dataset {data.dataset!r} has one folder per domain")
        if data.dataset not in datasets.CYCLEGAN_DATASETS:
            from keras_i2i.data.derived import DERIVED_DATASETS

            known = (sorted(BUNDLED_DATASETS) + sorted(DERIVED_DATASETS) + sorted(datasets.CYCLEGAN_DATASETS)
                     + sorted(datasets.MULTIDOMAIN_DATASETS))
            raise DataError(f"Unknown data.dataset {data.dataset!r}. Known datasets: {', '.join(known)}")
        root = datasets.resolve_dataset_root(data.dataset)
        if root is None:
            if not data.download:
                raise DataError(
                    f"Dataset {data.dataset!r} is not downloaded. Run `keras-i2i datasets download {data.dataset}` "
                    "or add --set data.download=true."
                )
            root = datasets.download_dataset(data.dataset)
        return _layout(root)
    raise DataError("No data given: set data.dataset, data.root, or data.a and data.b.")


def load_stage(data):
    """The deterministic part of preprocessing, applied once per image (and cached)."""
    load, crop = data.load_size, data.crop_size
    if data.preprocess == "resize_and_crop":
        if load < crop:
            raise DataError(f"data.load_size ({load}) must be at least data.crop_size ({crop}).")
        return lambda a: resize(a, load, load)
    if data.preprocess == "scale_width_and_crop":
        def scale_width(a):
            h, w = a.shape[:2]
            width = max(load, crop)
            height = max(crop, int(round(width * h / w)))
            return resize(a, width, height)
        return scale_width
    def at_least_crop(a):
        h, w = a.shape[:2]
        if min(h, w) >= crop:
            return a
        scale = crop / min(h, w)
        return resize(a, max(crop, math.ceil(w * scale)), max(crop, math.ceil(h * scale)))
    return at_least_crop


def to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


class DomainStream:
    """What every training stream starts from: the data's domains (see
    :mod:`keras_i2i.data.domains`) and their readable training images.

    Args:
        data: a ``DataConfig``.
        global_batch: images per step over all replicas.
        seed: seeds the shuffles and augmentations.
    """

    def __init__(self, data, global_batch: int, seed: int = 0):
        from keras_i2i.data.domains import resolve_domains

        self.config = data
        self.global_batch = int(global_batch)
        self.seed = int(seed)
        self.domains = resolve_domains(data)
        self.check_domains()
        prepare = load_stage(data)
        self.folders = [ImageFolder.scan(d.train, prepare, data.cache, data.max_images, role=f"domain {d.name}")
                        for d in self.domains]

    def check_domains(self) -> None:
        """Refuse domains the stream cannot serve (before any image is read)."""

    @property
    def skipped(self) -> list[tuple[Path, str]]:
        return [item for folder in self.folders for item in folder.skipped]

    @property
    def loaded_shape(self) -> list:
        """The shape of a prepared image (fixed after ``resize_and_crop``)."""
        size = self.config.load_size
        return [size, size, 3] if self.config.preprocess == "resize_and_crop" else [None, None, 3]

    def _augment(self, image, sample, stream: int):
        """Random crop and flip of sample ``sample``, stateless draws seeded by
        ``(seed * 16 + stream * 4, sample)``; ``stream`` keeps the draws of different
        image streams of one run apart. Values scaled to [-1, 1]."""
        cfg = self.config
        base = tf.constant(self.seed * 16 + stream * 4, tf.int64)
        image = tf.image.stateless_random_crop(image, [cfg.crop_size, cfg.crop_size, 3], seed=tf.stack([base, sample]))
        if cfg.flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=tf.stack([base + 1, sample]))
        return to_unit_range(image)


class UnpairedData(DomainStream):
    """The training stream of unpaired batches ``(real_a, real_b)`` of two domains.

    Args:
        data: a ``DataConfig``.
        global_batch: images per step over all replicas.
        seed: seeds the shuffles and augmentations.
    """

    def __init__(self, data, global_batch: int, seed: int = 0):
        super().__init__(data, global_batch, seed)
        for domain, folder in zip(self.domains, self.folders):
            if len(folder) < self.global_batch:
                raise DataError(
                    f"Domain {domain.name} ({folder.folder}) has {len(folder)} readable images, fewer than one global "
                    f"batch ({self.global_batch}). Lower train.batch_size or add images."
                )

    def check_domains(self) -> None:
        self.paths = two_domain_paths(self.domains)

    @property
    def a(self) -> ImageFolder:
        return self.folders[0]

    @property
    def b(self) -> ImageFolder:
        return self.folders[1]

    @property
    def epoch_size(self) -> int:
        return max(len(self.a), len(self.b))

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.epoch_size // self.global_batch)

    def _indices(self, start_sample: int) -> tf.data.Dataset:
        n_a, n_b, size, seed = len(self.a), len(self.b), self.epoch_size, self.seed

        def epoch(e):
            order_a = tf.random.experimental.stateless_shuffle(
                tf.range(size, dtype=tf.int64) % n_a, seed=tf.stack([tf.constant(seed, tf.int64), 2 * e]))
            order_b = tf.random.experimental.stateless_shuffle(
                tf.range(size, dtype=tf.int64) % n_b, seed=tf.stack([tf.constant(seed, tf.int64), 2 * e + 1]))
            return tf.data.Dataset.from_tensor_slices((order_a, order_b, e * size + tf.range(size, dtype=tf.int64)))

        first_epoch, offset = divmod(int(start_sample), size)
        return tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch).skip(offset)

    def dataset(self, start_step: int = 0) -> tf.data.Dataset:
        """Batches from step ``start_step`` on (endless)."""
        shape = self.loaded_shape

        def fetch(folder):
            def get(i):
                return folder.get(int(i))

            def fn(index):
                image = tf.numpy_function(get, [index], tf.uint8, stateful=False)
                image.set_shape(shape)
                return image

            return fn

        fetch_a, fetch_b = fetch(self.a), fetch(self.b)

        def load(ia, ib, sample):
            return self._augment(fetch_a(ia), sample, 0), self._augment(fetch_b(ib), sample, 1)

        return batched(self._indices(start_step * self.global_batch), load, self.global_batch)


def batched(indices: tf.data.Dataset, load, global_batch: int) -> tf.data.Dataset:
    """``indices`` mapped through ``load`` in parallel (order kept), batched and prefetched,
    sharded by data under a distribution strategy."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return (
        indices.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(global_batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def load_test_image(path, size: int) -> np.ndarray:
    """A file as the model sees it at test time: RGB resized to ``size`` (bicubic), in [-1, 1]."""
    array = resize(read_image(path), size, size)
    return pixels_to_unit(array)


def sample_images(folder: Optional[Path], fallback: Path, size: int, count: int) -> np.ndarray:
    """``count`` readable images spread evenly over ``folder`` (or ``fallback``), for sample grids."""
    from keras_i2i.data.images import list_image_files

    files, _ = list_image_files(folder if folder is not None else fallback)
    picks = sorted(set(np.linspace(0, len(files) - 1, num=min(count, len(files))).round().astype(int).tolist()))
    arrays = []
    for i in picks + [j for j in range(len(files)) if j not in picks]:
        try:
            arrays.append(resize(read_image(files[i]), size, size))
        except DataError:
            continue
        if len(arrays) == count:
            break
    if not arrays:
        raise DataError(f"No readable images for sample grids in {folder or fallback}.")
    return pixels_to_unit(np.stack(arrays))
