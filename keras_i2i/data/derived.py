"""Datasets derived from the bundled ones: other labels for the same images, laid out once
in the dataset cache (:func:`keras_i2i.data.datasets.default_cache_dir`).

``emoji4_categories``: every image of the bundled ``emoji4`` set (all four vendors, 2056
images), labelled by its Unicode category as ``emoji4/manifest.json`` records it
(``emoji[i].category``), with the manifest's train/test split. A class-conditional GAN
pretrained on these categories has a different, larger label space than the four vendor
domains DeepI2I then translates between (the spirit of transfer, issue 16). The
manifest's nine categories become eight domains (:data:`EMOJI4_CATEGORY_DOMAINS`):
``Flags`` holds only five emoji (the symbolic flags; emoji4 has no country flags), too
few to draw balanced batches from and none in the test split, so it joins ``symbols``.

A derived dataset is laid out as ``<cache>/<name>/train/<domain>/`` and
``<cache>/<name>/test/<domain>/`` (the per-domain layout of
:mod:`keras_i2i.data.domains`); each file is a copy of the bundled image (7 MB in all;
a copy, not a link, so that editing it never changes the bundled data) named
``<vendor>_<unified>.png``. It is
staged beside its final place and moved in whole, so an interrupted build leaves
nothing half-done in its place (its staging folder is removed by a build an hour later); ``stamp.json``, written last inside it, records the
source manifest's sha256. A folder whose stamp or files do not match the manifest is
built again; one that matches is used as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from keras_i2i.data.images import DataError

logger = logging.getLogger(__name__)

_BUNDLED = Path(__file__).resolve().parent / "bundled"
STAMP_FILE = "stamp.json"
#: Staging folders older than this are left from an interrupted build and removed.
STALE_SECONDS = 3600

#: emoji4 manifest category -> domain name; ``Flags`` (5 emoji, train only) joins ``symbols``.
EMOJI4_CATEGORY_DOMAINS = {
    "Smileys & Emotion": "smileys",
    "People & Body": "people",
    "Animals & Nature": "animals",
    "Food & Drink": "food",
    "Travel & Places": "travel",
    "Activities": "activities",
    "Objects": "objects",
    "Symbols": "symbols",
    "Flags": "symbols",
}


@dataclass(frozen=True)
class DerivedDataset:
    """A dataset laid out from bundled images.

    Args:
        name: its ``data.dataset`` name (also its folder in the cache).
        description: one line for ``keras-i2i datasets list``.
        source: the file whose content defines the layout (its sha256 is stamped).
        files: ``source``'s content -> ``{relative path in the layout: bundled image}``.
    """

    name: str
    description: str
    source: Path
    files: Callable[[bytes], dict[str, Path]]


def emoji4_category_files(manifest: bytes, root: Path = _BUNDLED / "emoji4") -> dict[str, Path]:
    """``{split/category/vendor_unified.png: emoji4 image}`` for every emoji of every
    vendor in emoji4's ``manifest`` (its bytes)."""
    data = json.loads(manifest)
    unknown = sorted({e["category"] for e in data["emoji"]} - set(EMOJI4_CATEGORY_DOMAINS))
    if unknown:
        raise DataError(f"emoji4's manifest.json has categories {', '.join(unknown)} that emoji4_categories does "
                        "not map to a domain; add them to keras_i2i.data.derived.EMOJI4_CATEGORY_DOMAINS.")
    return {f"{e['split']}/{EMOJI4_CATEGORY_DOMAINS[e['category']]}/{vendor}_{e['unified']}.png":
            root / e["split"] / vendor / f"{e['unified']}.png"
            for e in data["emoji"] for vendor in data["domains"]}


DERIVED_DATASETS: dict[str, DerivedDataset] = {
    info.name: info
    for info in (
        DerivedDataset(
            name="emoji4_categories",
            description="emoji4's 2056 images (all vendors) by Unicode category: 8 domains (Flags in symbols)",
            source=_BUNDLED / "emoji4" / "manifest.json",
            files=emoji4_category_files,
        ),
    )
}


def _complete(root: Path, sha256: str, files: dict[str, Path]) -> bool:
    try:
        stamp = json.loads((root / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(stamp, dict) and stamp.get("source_sha256") == sha256
            and stamp.get("files") == len(files) and all((root / rel).is_file() for rel in files))


def derived_root(name: str, cache_dir: Optional[str | os.PathLike] = None) -> Path:
    """The folder of derived dataset ``name``, laid out first when it is missing,
    incomplete or from another version of its source (see the module docstring).

    Raises:
        DataError: a bundled image is missing (a broken install).
        DatasetError: the cache folder cannot be written (the message names
            ``$KERAS_I2I_DATA``).
    """
    from keras_i2i.data.datasets import _cache_path, _ensure_writable
    from keras_i2i.utils import OLD_DIR_PREFIX, replace_dir

    info = DERIVED_DATASETS[name]
    content = info.source.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    files = info.files(content)
    cache = _cache_path(cache_dir)
    target = cache / name
    if _complete(target, sha256, files):
        return target
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} bundled images of {name} are missing (first: {missing[0]}); "
                        "reinstall keras-i2i.")
    _ensure_writable(cache)
    for prefix in ("partial-", OLD_DIR_PREFIX):  # left by an interrupted build (not one running now)
        for stale in cache.glob(f".{name}.{prefix}*"):
            try:
                if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                    shutil.rmtree(stale, ignore_errors=True)
            except OSError:  # removed meanwhile
                pass
    logger.info("Laying out dataset %r (%d images) in %s", name, len(files), target)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=cache))
    try:
        root = staging / name
        for rel, source in sorted(files.items()):
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        (root / STAMP_FILE).write_text(json.dumps(
            {"dataset": name, "source": info.source.name, "source_sha256": sha256, "files": len(files)}, indent=1))
        if not _complete(target, sha256, files):  # another process may have laid it out meanwhile: keep that
            replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


__all__ = ["DERIVED_DATASETS", "EMOJI4_CATEGORY_DOMAINS", "DerivedDataset", "derived_root", "emoji4_category_files"]
