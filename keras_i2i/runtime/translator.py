"""The edge translator: an exported model file plus its ``model.json`` entry, as a
function from RGB uint8 images of any size to RGB uint8 images of the same size."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from keras_i2i.runtime.backends import BACKENDS, Backend, backend_for
from keras_i2i.runtime.errors import RuntimeLoadError
from keras_i2i.runtime.imaging import RESIZE_MODES, center_crop_box, resize
from keras_i2i.runtime.metadata import MODEL_JSON, REEXPORT, TensorSpec, read_entry, tensor_spec, verify_file


class Size(NamedTuple):
    height: int
    width: int


class Translator:
    """An exported keras-i2i model ready to translate images (no TensorFlow, no Keras).

    Made by :func:`load`. ``translator(image)`` takes an RGB uint8 ``(H, W, 3)`` image of
    any size and returns the translated RGB uint8 image of the same size:

    1. resize to the model input (``resize="stretch"``), or cut the largest centered box
       with the model's aspect ratio and resize that (``resize="crop"``); OpenCV
       INTER_AREA when shrinking, INTER_CUBIC when enlarging;
    2. convert to the model's input convention from ``model.json``: the value range
       (``[-1, 1]`` floats: ``rgb / 127.5 - 1``; ``[0, 255]``: the pixels) and dtype, then
       the input quantization ``q = round(x / scale) + zero_point`` when it has one;
    3. run the model;
    4. back to pixels: dequantize if quantized, map the range to [0, 255], round, clip;
    5. resize back to the input size. With ``crop`` only the centered box is translated;
       the rest of the output is black (use :meth:`crop_box` to take just the box).

    Attributes:
        path: the model file.
        backend: ``"litert"`` or ``"onnx"``.
        metadata: the file's ``model.json`` entry (a dict).
        input_size: ``Size(height, width)`` of the model input.
        resize: ``"stretch"`` or ``"crop"``.
        num_threads: the thread count asked for (``None``: the runtime's default).
        input_spec, output_spec: :class:`~keras_i2i.runtime.metadata.TensorSpec`.
    """

    def __init__(self, path: Path, backend: Backend, metadata: dict, input_spec: TensorSpec,
                 output_spec: TensorSpec, resize: str = "stretch", num_threads: Optional[int] = None):
        self.path = Path(path)
        self._backend = backend
        self.metadata = metadata
        self.input_spec = input_spec
        self.output_spec = output_spec
        self.resize = resize
        self.num_threads = num_threads
        self.input_size = Size(input_spec.height, input_spec.width)

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def versions(self) -> dict:
        """The runtime package and its version."""
        return self._backend.versions()

    def __repr__(self) -> str:
        mode = (self.metadata.get("quantization") or {}).get("mode")
        return (f"Translator({self.path.name!r}, backend={self.backend!r}, mode={mode!r}, "
                f"input_size={tuple(self.input_size)}, io={self.input_spec.dtype!r}, resize={self.resize!r})")

    # -------------------------------------------------------------------------- pixels
    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """A uint8 ``(h, w, 3)`` image at the model size as the model's input batch of one."""
        spec = self.input_spec
        if spec.is_pixels:
            return np.ascontiguousarray(pixels)[None]
        low, high = spec.range
        x = pixels.astype(np.float32)
        if (low, high) != (0.0, 255.0):
            x = x / np.float32(255.0 / (high - low)) + np.float32(low)
        if spec.quantization:
            scale, zero_point = spec.quantization
            info = np.iinfo(np.dtype(spec.dtype))
            x = np.clip(np.rint(x / np.float32(scale)) + zero_point, info.min, info.max)
        return x.astype(spec.dtype)[None]

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """The model's raw output batch as a uint8 ``(h, w, 3)`` image."""
        spec = self.output_spec
        y = raw[0]
        if spec.is_pixels and y.dtype == np.uint8:
            return y
        y = y.astype(np.float64)
        if spec.quantization:
            scale, zero_point = spec.quantization
            y = (y - zero_point) * scale
        low, high = spec.range
        if (low, high) != (0.0, 255.0):
            y = (y - low) * (255.0 / (high - low))
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, left, box_height, box_width)`` of the part of a ``height`` x ``width``
        image that is translated: all of it with ``stretch``, the centered box with the
        model's aspect ratio with ``crop``."""
        if self.resize == "stretch":
            return 0, 0, height, width
        return center_crop_box(height, width, self.input_size.width / self.input_size.height)

    # -------------------------------------------------------------------------- running
    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """The model alone on ``x``, an input batch in the model's own convention (e.g. from
        :meth:`preprocess` or :meth:`example_input`); returns the raw output batch."""
        return self._backend.run(x)

    def example_input(self, seed: int = 0) -> np.ndarray:
        """A fixed random image at the model size, preprocessed (for :meth:`run_raw`)."""
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, (self.input_size.height, self.input_size.width, 3), dtype=np.uint8)
        return self.preprocess(pixels)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = _check_image(image)
        height, width = image.shape[:2]
        top, left, box_h, box_w = self.crop_box(height, width)
        region = image[top:top + box_h, left:left + box_w]
        model_h, model_w = self.input_size
        y = self.postprocess(self.run_raw(self.preprocess(resize(region, model_w, model_h))))
        y = resize(y, box_w, box_h)
        if (box_h, box_w) == (height, width):
            return np.ascontiguousarray(y)
        out = np.zeros_like(image)
        out[top:top + box_h, left:left + box_w] = y
        return out

    translate = __call__


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"Expected an RGB uint8 numpy array (H, W, 3), got {type(image).__name__}.")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"Expected an RGB image of shape (H, W, 3), got shape {image.shape}.")
    if image.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 image (pixel values 0-255), got dtype {image.dtype}.")
    return image


def load(path: str | os.PathLike, num_threads: Optional[int] = None, resize: str = "stretch",
         verify: bool = True, direction: Optional[str] = None, format: Optional[str] = None,
         mode: Optional[str] = None) -> Translator:
    """Load an exported model file (``.tflite`` with LiteRT, ``.onnx`` with ONNX Runtime)
    with its entry in the ``model.json`` beside it.

    Args:
        path: a file written by ``keras-i2i export`` (``a2b.fp32.tflite``, ``a2b.onnx`` ...),
            or an export folder together with ``direction``.
        num_threads: CPU threads (LiteRT ``num_threads``; ONNX Runtime
            ``intra_op_num_threads``); ``None``: the runtime's default.
        resize: ``"stretch"`` (the whole image, aspect ratio not kept) or ``"crop"`` (the
            centered box with the model's aspect ratio).
        verify: check the file's size and sha256 against its ``model.json`` entry.
        direction: with a folder, the direction to load (one that its ``model.json``
            declares, see :func:`keras_i2i.runtime.directions`); may be left out when the
            folder has only one.
        format, mode: with a folder, which of the direction's files (``"tflite"`` or
            ``"onnx"``; ``"fp32"``, ``"int8"`` ...); see
            :func:`~keras_i2i.runtime.folder.find_model_file`.

    Returns:
        A :class:`Translator`.

    Raises:
        RuntimeLoadError: the file or its ``model.json`` is missing, unknown, corrupt or
            inconsistent, or the folder has no such direction; the message says which and
            what to do.
    """
    path = Path(path)
    if resize not in RESIZE_MODES:
        raise ValueError(f"Unknown resize {resize!r}; choose from {', '.join(RESIZE_MODES)}.")
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}.")
    if path.is_dir() or (direction is not None and not path.exists() and path.suffix.lower() not in BACKENDS):
        path = _folder_file(path, direction, format, mode)
    elif direction is not None and path.is_file():
        entry, _ = read_entry(path)
        if entry.get("direction") not in (None, direction):
            raise RuntimeLoadError(f"{path.name} translates {entry.get('direction')}, not {direction}; pass its "
                                   f"export folder with direction={direction!r}, or the file of that direction.")
    backend_class = backend_for(path)
    backend_class.check_runtime()  # a missing runtime is named before anything is read
    if not path.is_file():
        raise RuntimeLoadError(f"Model file {path} does not exist.")
    entry, json_path = read_entry(path)
    return from_bytes(path.read_bytes(), entry, path, num_threads=num_threads, resize=resize, verify=verify,
                      where=str(json_path))


def _folder_file(folder: Path, direction: Optional[str], format: Optional[str], mode: Optional[str]) -> Path:
    """The model file of ``direction`` in the export folder ``folder``."""
    from keras_i2i.runtime.folder import directions, find_model_file

    if direction is None:
        if not (folder / MODEL_JSON).is_file():
            files = sorted(p.name for p in folder.iterdir() if p.suffix in (".tflite", ".onnx"))
            raise RuntimeLoadError(f"{folder} is a folder without {MODEL_JSON}; pass one of its model files "
                                   f"({', '.join(files) or 'none found'}).")
        known = list(directions(folder))
        if len(known) != 1:
            raise RuntimeLoadError(f"{folder} is an export folder with the directions {', '.join(known) or '(none)'}; "
                                   "choose one with direction=NAME (or pass a model file).")
        direction = known[0]
    return find_model_file(folder, direction, format=format, mode=mode)


def from_bytes(content: bytes, entry: dict, path: str | os.PathLike, num_threads: Optional[int] = None,
               resize: str = "stretch", verify: bool = False, where: Optional[str] = None) -> Translator:
    """A :class:`Translator` of a model held in memory and its ``model.json`` entry (as
    export's parity check runs a file before writing it). ``path`` names the file (its
    suffix picks the backend); ``verify`` checks ``content`` against the entry's size and
    sha256; ``where`` names the ``model.json`` in error messages."""
    path = Path(path)
    where = where or f"the {MODEL_JSON} entry of {path.name}"
    backend_class = backend_for(path)
    backend_class.check_runtime()
    input_spec, output_spec = tensor_spec(entry, "input", where), tensor_spec(entry, "output", where)
    fmt = entry.get("format")
    if fmt is not None and f".{fmt}" != path.suffix.lower():
        raise RuntimeLoadError(f"{where} says {path.name} is a {fmt} file, but its name ends in {path.suffix}; {REEXPORT}.")
    if verify:
        verify_file(content, entry, path)
    backend = backend_class(content, path, num_threads)
    _check_consistent(path, backend, input_spec, output_spec)
    return Translator(path, backend, entry, input_spec, output_spec, resize=resize, num_threads=num_threads)


def _check_consistent(path: Path, backend: Backend, input_spec: TensorSpec, output_spec: TensorSpec) -> None:
    """The file's real tensors are those its model.json entry describes."""
    problems = []
    for label, spec, shape, dtype, quant in (
        ("input", input_spec, backend.input_shape, backend.input_dtype, backend.input_quantization),
        ("output", output_spec, backend.output_shape, backend.output_dtype, backend.output_quantization),
    ):
        if tuple(shape) != tuple(spec.shape):
            problems.append(f"{label} shape {list(shape)} (model.json: {list(spec.shape)})")
        if dtype != spec.dtype:
            problems.append(f"{label} dtype {dtype} (model.json: {spec.dtype})")
        if quant is not None and spec.quantization is not None and not np.allclose(quant, spec.quantization):
            problems.append(f"{label} quantization {quant} (model.json: {spec.quantization})")
        if quant is not None and spec.quantization is None:
            problems.append(f"{label} is quantized {quant} but model.json has no quantization for it")
    if problems:
        raise RuntimeLoadError(
            f"{path} does not match its {MODEL_JSON} entry: " + "; ".join(problems)
            + f". The file or the {MODEL_JSON} was changed after export; {REEXPORT}."
        )
