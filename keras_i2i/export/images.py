"""Real images for export: calibration sets and held-out parity sets, per direction.

A direction (:class:`keras_i2i.directions.Direction`) names its source domain(s). The
calibration images of a quantized export are real *training* images of those domains
(``trainA`` for CycleGAN's ``a2b``), its parity images held-out *test* images of the
same domains (``testA``; the training images when the run has no test folder). A
direction with several sources (DeepI2I's ``to_<target>``) draws the same total count
from every source domain, split as evenly as their folders allow, and its image set
records each domain's share under ``domains``. ``--calibration DIR`` replaces the run's
folders for every direction.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from keras_i2i.data.images import DataError, list_image_files, read_image, resize
from keras_i2i.directions import Direction, legacy_direction
from keras_i2i.export.common import ExportError

logger = logging.getLogger(__name__)


@dataclass
class ImageSet:
    """Images resized to the export size, as ``(N, size, size, 3)`` uint8 RGB.

    Args:
        images: the pixel arrays.
        source: the folder they were read from.
        requested: how many were asked for.
        available: how many image files the folder holds.
        domains: for images drawn from several source domains, each domain's
            ``{"images", "available", "source"}`` (``source`` then joins their folders).
    """

    images: np.ndarray
    source: str
    requested: int
    available: int
    domains: Optional[dict] = None

    def __len__(self) -> int:
        return len(self.images)

    def describe(self) -> dict:
        out = {"images": len(self), "requested": self.requested, "available": self.available,
               "source": self.source, "resize": f"bicubic to {self.images.shape[2]}x{self.images.shape[1]}"}
        if self.domains is not None:
            out["domains"] = self.domains
        return out


def _as_direction(direction: str | Direction) -> Optional[Direction]:
    return direction if isinstance(direction, Direction) else legacy_direction(direction)


def direction_domains(direction: str | Direction) -> tuple[Optional[str], Optional[str]]:
    """``(source, target)`` domain names of ``direction`` (``("a", "b")`` for CycleGAN's
    ``a2b``); ``(None, None)`` for a bare name that is not a two-domain one."""
    info = _as_direction(direction)
    return (info.primary_source, info.target) if info is not None else (None, None)


def _run_domains(cfg):
    """The run's domains, never downloading anything."""
    from keras_i2i.data.domains import resolve_domains

    data = cfg.data
    if any(f.name == "download" for f in dataclasses.fields(data)):
        data = dataclasses.replace(data, download=False)
    return {domain.name: domain for domain in resolve_domains(data)}


def domain_folders(cfg, direction: str | Direction) -> tuple[Optional[Path], Optional[Path]]:
    """``(train folder, test folder)`` of the source domain of ``direction`` in the run's
    data config; either may be ``None`` (unknown domain, folder gone)."""
    source, _ = direction_domains(direction)
    if source is None:
        return None, None
    try:
        domains = _run_domains(cfg)
    except DataError as err:
        logger.warning("The run's data folders are not available (%s).", err)
        return None, None
    if source not in domains:
        return None, None
    train, test = domains[source].train, domains[source].test
    return (train if train and Path(train).is_dir() else None), (test if test and Path(test).is_dir() else None)


def source_folders(cfg, direction: str | Direction) -> dict[str, tuple[Optional[Path], Optional[Path]]]:
    """``{source domain: (train folder, test folder)}`` for every source domain of
    ``direction`` (one for a two-domain direction); folders as :func:`domain_folders`."""
    info = _as_direction(direction)
    if info is None:
        return {}
    if len(info.source) == 1:
        return {info.primary_source: domain_folders(cfg, info)}
    try:
        domains = _run_domains(cfg)
    except DataError as err:
        logger.warning("The run's data folders are not available (%s).", err)
        return {name: (None, None) for name in info.source}
    out = {}
    for name in info.source:
        train, test = (domains[name].train, domains[name].test) if name in domains else (None, None)
        out[name] = ((train if train and Path(train).is_dir() else None),
                     (test if test and Path(test).is_dir() else None))
    return out


def balanced_counts(count: int, available: list[int]) -> list[int]:
    """``count`` split over folders holding ``available`` images each: as evenly as
    possible, the first folders taking the remainder, a short folder's shortfall going to
    the others (``[4, 3, 3]`` for 10 over three large folders; ``[2, 4, 4]`` when the first
    holds 2)."""
    shares = [0] * len(available)
    left = count
    while left > 0:
        open_ = [i for i, n in enumerate(available) if shares[i] < n]
        if not open_:
            break
        for i in open_[:left]:
            shares[i] += 1
        left -= min(left, len(open_))
    return shares


def load_domain_images(folders: dict[str, Path], size: int, count: int) -> ImageSet:
    """Up to ``count`` images from the folders of several source domains, balanced with
    :func:`balanced_counts` (each folder's share picked as :func:`load_images` picks), in
    domain order; one folder is :func:`load_images` unchanged."""
    if len(folders) == 1:
        return load_images(next(iter(folders.values())), size, count)
    available = []
    for folder in folders.values():
        files, _ = list_image_files(Path(folder)) if Path(folder).is_dir() else ([], [])
        available.append(len(files))
    sets = {name: load_images(folder, size, share)
            for (name, folder), share in zip(folders.items(), balanced_counts(count, available))}
    images = np.concatenate([s.images for s in sets.values()]) if sets else np.zeros((0, size, size, 3), np.uint8)
    domains = {name: {"images": len(s), "available": s.available, "source": s.source} for name, s in sets.items()}
    return ImageSet(images, ", ".join(s.source for s in sets.values()), count, sum(available), domains)


def load_images(folder: Path, size: int, count: int) -> ImageSet:
    """Up to ``count`` readable images of ``folder`` (recursively), spread evenly over its
    sorted files, resized to ``size`` x ``size`` (bicubic, as at test time)."""
    folder = Path(folder)
    files, _ = list_image_files(folder) if folder.is_dir() else ([], [])
    if count <= 0 or not files:
        return ImageSet(np.zeros((0, size, size, 3), np.uint8), str(folder), count, len(files))
    picks = np.linspace(0, len(files) - 1, num=min(count, len(files))).round().astype(int).tolist()
    order = list(dict.fromkeys(picks)) + [i for i in range(len(files)) if i not in set(picks)]
    arrays = []
    for index in order:
        try:
            arrays.append(resize(read_image(files[index]), size, size))
        except DataError as err:
            logger.warning("Skipping %s: %s", files[index], err)
            continue
        if len(arrays) == count:
            break
    images = np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)
    return ImageSet(images.astype(np.uint8), str(folder.resolve()), count, len(files))


def _label(direction: str | Direction) -> str:
    """How messages name ``direction``: its name and, when known, its domains."""
    if isinstance(direction, Direction):
        return f"{direction.name} ({'+'.join(direction.source)} -> {direction.target})"
    return str(direction)


def calibration_images(cfg, direction: str | Direction, size: int, count: int,
                       override: Optional[Path] = None) -> ImageSet:
    """The representative dataset of ``direction``: ``override`` or the source domain's
    training folder. Raises :class:`ExportError` when no image can be read."""
    label = _label(direction)
    if override is not None:
        folder = Path(override)
        images = load_images(folder, size, count)
    else:
        folders = source_folders(cfg, direction)
        found = {name: train for name, (train, _) in folders.items() if train is not None}
        if not found:
            raise ExportError(
                f"Quantizing {label} needs real images of its source domain for calibration, and the run's "
                "data folder for it is not available. Pass --calibration DIR (a folder of source-domain images)."
            )
        missing = [name for name in folders if name not in found]
        if missing:
            logger.warning("Calibrating %s without the source domain(s) %s: their training folders are not "
                           "available.", label, ", ".join(missing))
        folder = ", ".join(str(f) for f in found.values())
        images = load_domain_images(found, size, count)
    if len(images) == 0:
        raise ExportError(
            f"No readable calibration images for {label} in {folder}. Full-integer quantization (int8, "
            "int16x8, ONNX int8) needs real source-domain images: pass --calibration DIR with some."
        )
    if len(images) < count:
        logger.warning("Calibrating %s on %d images (%d requested): all %s has.", label, len(images), count, folder)
    return images


def parity_images(cfg, direction: str | Direction, size: int, count: int = 16, fallback: Optional[Path] = None) -> ImageSet:
    """Held-out images of the source domain for parity: its test folder, else its training
    folder, else ``fallback`` (the ``--calibration`` folder). Several source domains each
    give their test (else training) folder, balanced as :func:`load_domain_images`."""
    folders = {}
    for name, (train, test) in source_folders(cfg, direction).items():
        for folder in (test, train):
            if folder is not None and len(load_images(folder, size, 1)):
                folders[name] = folder
                break
    if folders:
        images = load_domain_images(folders, size, count)
        if len(images):
            return images
    if fallback:
        images = load_images(Path(fallback), size, count)
        if len(images):
            return images
    raise ExportError(
        f"The parity check of {_label(direction)} needs real images of its source domain and none were found in the "
        "run's data folders. Pass --calibration DIR (a folder of source-domain images); it is then also used for parity."
    )
