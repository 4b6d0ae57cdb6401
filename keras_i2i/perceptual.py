"""Perceptual distances on frozen VGG features: LPIPS and the VGG perceptual (feature L1) loss.

Both take NHWC images in [-1, 1] and a frozen extractor from
:func:`keras_i2i.pretrained.vgg_features` (a dict of named taps out, its weight source's
preprocessing inside). :mod:`keras_i2i.losses` re-exports :func:`lpips`,
:func:`perceptual` and :class:`LPIPS`.

LPIPS's input scaling needs no extra layer here: the reference package's ``ScalingLayer``
(shift ``[-.030, -.088, -.188]``, scale ``[.458, .448, .450]`` on [-1, 1] inputs) is
torchvision's ImageNet mean/std (``[.485, .456, .406]``, ``[.229, .224, .225]``) written for
[-1, 1] inputs (``2 * mean - 1``, ``2 * std``), which is what the ``lpips`` VGG16 weights'
extractor applies (:data:`LPIPS_SHIFT`, :data:`LPIPS_SCALE`; a test checks the identity).
"""

from __future__ import annotations

from typing import Mapping, Optional

import keras
import numpy as np
from keras import ops

LPIPS_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # the reference lpips ScalingLayer, for inputs in [-1, 1]
LPIPS_SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10  # the reference's normalize_tensor


def _f32(x):
    return ops.cast(x, "float32")


def unit_normalize(features, eps: float = EPS):
    """``f / (sqrt(sum_c f^2) + eps)`` along the channel (last) axis (LPIPS' normalize_tensor)."""
    return features / (ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True)) + eps)


def _spatial_mean(x):
    """Mean over H, then W: one reduction over both at once drifts in float32 on TF."""
    return ops.mean(ops.mean(x, axis=1), axis=1)


def lpips_from_features(features_x: Mapping, features_y: Mapping, heads: Mapping):
    """Per-image LPIPS ``(N,)`` from two dicts of tap features and the linear heads: for each
    tap, unit-normalize along channels, square the difference, weight the channels by the
    head (a 1x1 convolution to one channel without bias), average over space; sum over taps."""
    total = 0.0
    for tap, weight in heads.items():
        fx, fy = unit_normalize(_f32(features_x[tap])), unit_normalize(_f32(features_y[tap]))
        total = total + _spatial_mean(ops.sum(ops.square(fx - fy) * ops.reshape(_f32(weight), (-1,)), axis=-1))
    return total


def head_vectors(raw: Mapping, taps=LPIPS_TAPS) -> dict:
    """The LPIPS linear heads as ``{tap: (C,) float32}`` from :func:`~keras_i2i.pretrained.load_lpips_weights`
    (its ``"lin"`` list, in tap order) or from a dict keyed by tap name or ``lin0`` ...
    ``lin4``; each a ``(1, 1, C, 1)`` Keras or ``(1, C, 1, 1)`` torch 1x1 kernel, or a vector."""
    if isinstance(raw.get("lin"), (list, tuple)):
        raw = {tap: array for tap, array in zip(taps, raw["lin"])}
    heads = {}
    for i, tap in enumerate(taps):
        for key in (tap, f"lin{i}", f"lin{i}.model.1.weight", f"lins.{i}"):
            if key in raw:
                array = raw[key]
                break
        else:
            raise ValueError(f"LPIPS weights have no linear head for {tap} (keys: {', '.join(map(str, raw))}).")
        vector = np.asarray(array, np.float32).reshape(-1)
        if vector.size != LPIPS_CHANNELS[i]:
            raise ValueError(f"LPIPS head for {tap} has {vector.size} weights; expected {LPIPS_CHANNELS[i]}.")
        heads[tap] = vector
    return heads


@keras.saving.register_keras_serializable(package="keras_i2i")
class LPIPS(keras.layers.Layer):
    """Learned Perceptual Image Patch Similarity: ``call(x, y)`` -> per-image distance ``(N,)``.

    Frozen: VGG16 taps ``relu1_2`` ... ``relu5_3`` and the non-negative linear heads of the
    reference ``lpips`` package ("lin" version), nothing trainable.

    Args:
        weights: the VGG16 weight source for :func:`~keras_i2i.pretrained.vgg_features`
            (``"lpips"``: the weights the heads were trained on).
        heads: ``{tap: (C,)}`` head weights; default: those of
            :func:`~keras_i2i.pretrained.load_lpips_weights` (only with ``weights="lpips"``).
        extractor: a ready extractor (NHWC [-1, 1] -> dict of the five taps) instead of
            building one (tests with small random networks); not serialized.

    Reference:
        Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual
        Metric", CVPR 2018.
    """

    def __init__(self, weights: str = "lpips", heads: Optional[Mapping] = None, extractor=None, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "float32")  # distances in float32 whatever the training policy
        super().__init__(**kwargs)
        self.weights_source = str(weights)
        if extractor is None:
            from keras_i2i.pretrained import vgg_features

            extractor = vgg_features(arch="vgg16", weights=self.weights_source, taps=LPIPS_TAPS)
        if heads is None:
            if self.weights_source != "lpips":
                raise ValueError("LPIPS heads were trained on the lpips VGG16 weights; give heads= for other weights.")
            from keras_i2i.pretrained import load_lpips_weights

            heads = load_lpips_weights()
        self.extractor = extractor
        self.extractor.trainable = False
        vectors = heads if all(t in heads and np.ndim(heads[t]) == 1 for t in LPIPS_TAPS) else head_vectors(heads)
        self.heads = {}
        for tap in LPIPS_TAPS:
            value = np.asarray(vectors[tap], np.float32)
            self.heads[tap] = self.add_weight(name=f"lin_{tap}", shape=value.shape, trainable=False,
                                              initializer=keras.initializers.Constant(value))

    def call(self, x, y):
        # Two passes, not one on the concatenated batch: the backward pass then runs only
        # through the images that need a gradient (a third less work for a loss on fakes).
        return lpips_from_features(self.extractor(_f32(x)), self.extractor(_f32(y)), self.heads)

    def compute_output_shape(self, x_shape, y_shape):
        return (x_shape[0],)

    def get_config(self):
        return {**super().get_config(), "weights": self.weights_source}


def lpips(x, y, network: LPIPS):
    """LPIPS loss: the batch mean of :class:`LPIPS` distances between ``x`` and ``y`` (NHWC,
    [-1, 1]), float32. Build ``network = LPIPS()`` once, outside the train step."""
    return ops.mean(network(x, y))


def perceptual(x, y, extractor, layer_weights: Optional[Mapping[str, float]] = None):
    """VGG perceptual loss: ``sum_l w_l * mean|phi_l(x) - phi_l(y)|`` over the extractor's
    taps (``layer_weights``: ``{tap: w}``, default 1 for every tap), float32.

    ``extractor``: a frozen :func:`~keras_i2i.pretrained.vgg_features` model (NHWC [-1, 1]
    -> dict of taps). ``x`` and ``y`` go through it separately, so that the backward pass
    runs only through the one that needs a gradient.
    """
    fx, fy = extractor(_f32(x)), extractor(_f32(y))
    taps = list(layer_weights) if layer_weights is not None else list(fx)
    total = 0.0
    for tap in taps:
        if tap not in fx:
            raise ValueError(f"The extractor has no tap {tap!r} (taps: {', '.join(fx)}).")
        weight = 1.0 if layer_weights is None else float(layer_weights[tap])
        total = total + weight * ops.mean(ops.abs(_f32(fx[tap]) - _f32(fy[tap])))
    return total
