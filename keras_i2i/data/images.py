"""Reading image files into 8-bit RGB arrays, and finding the unreadable ones.

Every image, whatever its file, becomes ``uint8`` RGB: grayscale is repeated over
three channels, transparency (RGBA, LA, palette with a transparent colour) is
composited on white, 16- and 32-bit samples are scaled to 8 bits, CMYK and other
modes are converted by Pillow. GIFs give their first frame.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class DataError(ValueError):
    """The data cannot be used as given; the message says what to change."""


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Any Pillow image as an ``(H, W, 3)`` uint8 array (see module docstring)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` fully into ``(H, W, 3)`` uint8 RGB. Raises ``DataError`` with
    the reason when the file is empty, truncated, corrupt or not an image."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DataError("empty file")
        with Image.open(path) as image:
            image.load()
            return to_rgb8(image)
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError("not an image file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"unreadable ({err})") from None


def resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Antialiased bicubic resize (Pillow's BICUBIC), as the CycleGAN reference."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    return np.asarray(Image.fromarray(array).resize((width, height), Image.BICUBIC))


def list_image_files(folder: str | os.PathLike) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under ``folder`` (recursively, sorted): those with an image extension,
    and the other non-hidden files with the reason they are left out."""
    folder = Path(folder)
    images, others = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                others.append((path, f"not an image file ({path.suffix or 'no extension'})"))
    return images, others


@dataclass
class ImageFolder:
    """The readable images of one folder, decoded once (and kept when ``cache``).

    Args:
        folder: the folder (searched recursively).
        prepare: function applied to each decoded image before it is kept
            (e.g. resize to the load size); identity if None.
        cache: keep prepared images in memory (else they are decoded again on use).
        max_images: keep only the first N readable files (sorted by path).
    """

    folder: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _prepare: object = None
    _keep: bool = True

    @classmethod
    def scan(cls, folder, prepare=None, cache: bool = True, max_images: int | None = None, role: str = "") -> "ImageFolder":
        folder = Path(folder)
        label = f"{role} folder" if role else "folder"
        if not folder.exists():
            raise DataError(f"The {label} {folder} does not exist. Check the path (data.root, data.a, data.b).")
        if not folder.is_dir():
            raise DataError(f"The {label} {folder} is not a folder.")
        candidates, skipped = list_image_files(folder)
        if max_images is not None:
            candidates = candidates[:max_images]
        prepare = prepare or (lambda a: a)

        def load(path):
            try:
                return prepare(read_image(path)), None
            except DataError as err:
                return None, str(err)

        files, cache_store = [], {}
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for path, (array, reason) in zip(candidates, pool.map(load, candidates)):
                if array is None:
                    skipped.append((path, reason))
                    continue
                if cache:
                    cache_store[len(files)] = array
                files.append(path)
        result = cls(folder=folder, files=files, skipped=skipped, _cache=cache_store, _prepare=prepare, _keep=cache)
        if not files:
            hint = f" ({len(skipped)} files could not be read)" if skipped else ""
            raise DataError(
                f"The {label} {folder} has no readable images{hint}. "
                f"Supported: {', '.join(IMAGE_EXTENSIONS)}."
            )
        result.report()
        return result

    def report(self) -> None:
        """Log each skipped file once by name, then the count."""
        if not self.skipped:
            return
        for path, reason in self.skipped:
            logger.warning("Skipping %s: %s", path, reason)
        logger.warning(
            "Skipped %d of %d files in %s (listed above); training uses the other %d.",
            len(self.skipped), len(self.skipped) + len(self.files), self.folder, len(self.files),
        )

    def __len__(self) -> int:
        return len(self.files)

    def get(self, index: int) -> np.ndarray:
        """Prepared image ``index`` (decoded again if not cached)."""
        array = self._cache.get(index)
        if array is None:
            array = self._prepare(read_image(self.files[index]))
            if self._keep:
                self._cache[index] = array
        return array
