"""Download the standard datasets into a local cache (``keras-i2i datasets download``).

A dataset ``name`` from the catalogue (:mod:`keras_i2i.data.catalogue`: the CycleGAN
zips and the one-domain CartoonSet archives) is fetched with
:func:`keras.utils.get_file`, checked against its sha256 when one is known, and
unpacked safely by :mod:`keras_i2i.data.archives`. It ends up in
``<cache_dir>/<name>/`` with ``trainA/`` and ``trainB/`` directly inside it
(``train/``, ``test/``, ``attributes/`` for a one-domain dataset). The cache folder
defaults to ``$KERAS_I2I_DATA`` or ``~/.keras/keras_i2i/datasets`` (``$KERAS_HOME`` is
honoured like Keras does). The download host can be replaced (a mirror, or a local
server in tests) with ``base_url`` or ``$KERAS_I2I_DATASET_URL``.

The catalogue's names and the archive errors are importable from here too.

Keras (and so TensorFlow) is imported only when something is downloaded, so
listing datasets and resolving cached ones stays fast.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from keras_i2i.data.archives import (
    UnsafeArchiveError, _install_archive, _install_domain_archive, _install_domains_archive)
from keras_i2i.data.catalogue import (  # noqa: F401 - the catalogue's names stay importable from here
    AFHQ_URL, CARTOONSET_BASE_URL, CYCLEGAN_DATASETS, DEFAULT_BASE_URL, DOMAIN_DATASETS, MULTIDOMAIN_DATASETS,
    DOMAIN_SUBDIRS, DOMAIN_TEST_EVERY, ENV_DATA_DIR, ENV_DATASET_URL, OPTIONAL_SUBDIRS, REQUIRED_SUBDIRS,
    DatasetError, DatasetInfo, UnknownDatasetError, _get_info, _has_layout, list_datasets, list_domain_datasets,
    list_multidomain_datasets)

logger = logging.getLogger(__name__)

__all__ = [
    "CYCLEGAN_DATASETS",
    "DEFAULT_BASE_URL",
    "DOMAIN_DATASETS",
    "ENV_DATASET_URL",
    "MULTIDOMAIN_DATASETS",
    "ENV_DATA_DIR",
    "DatasetError",
    "DatasetInfo",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "default_cache_dir",
    "download_dataset",
    "list_datasets",
    "list_domain_datasets",
    "list_multidomain_datasets",
    "multidomain_root",
    "resolve_dataset_root",
]

_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def default_cache_dir() -> Path:
    """Return the folder datasets are cached in.

    ``$KERAS_I2I_DATA`` when set, else ``<keras home>/keras_i2i/datasets``
    where the Keras home is ``$KERAS_HOME`` or ``~/.keras``.
    """
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(keras_home).expanduser() / "keras_i2i" / "datasets"


def resolve_dataset_root(
    name: str, cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """Return where dataset ``name`` is already unpacked, or ``None``.

    Only a folder with a valid layout (``trainA/`` and ``trainB/``; ``train/``
    for a one-domain dataset; ``train/<domain>/`` for a multi-domain one) counts.
    """
    info = _get_info(name)
    root = _cache_path(cache_dir) / name
    return root if _has_layout(root, info.kind) else None


def multidomain_root(name: str, download: bool = False) -> Path:
    """The folder of multi-domain dataset ``name`` (``train/<domain>/``, ``test/<domain>/``),
    downloaded first when ``download``; else a :class:`DatasetError` saying how to get it."""
    root = resolve_dataset_root(name)
    if root is not None:
        return root
    if not download:
        raise DatasetError(f"Dataset {name!r} is not downloaded. Run `keras-i2i datasets download {name}` "
                           "or add --set data.download=true.")
    return download_dataset(name)


def download_dataset(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    force: bool = False,
    sha256: str | None = None,
) -> Path:
    """Download and unpack dataset ``name``; return its root folder.

    The root folder (``<cache_dir>/<name>``) holds ``trainA/`` and ``trainB/``
    (and ``testA/``/``testB/`` when the archive has them). When it already
    exists with that layout it is returned at once, without network access,
    unless ``force`` is true.

    Args:
        name: One of :data:`CYCLEGAN_DATASETS`.
        cache_dir: Cache folder; default :func:`default_cache_dir`.
        base_url: Replaces the download host: the archive is fetched from
            ``{base_url}/{name}.zip``. Default ``$KERAS_I2I_DATASET_URL``, else
            the dataset's own URL.
        force: Download and unpack again even if the dataset is present.
        sha256: Expected archive sha256; default the registry's (if known).

    Raises:
        UnknownDatasetError: ``name`` is not a known dataset.
        UnsafeArchiveError: A member of the archive would escape the target
            folder, or is a symlink; nothing is extracted.
        DatasetError: The download failed, the checksum did not match, the
            archive is corrupt, or it lacks ``trainA/``/``trainB/``.
    """
    info = _get_info(name)
    expected_sha = _normalize_sha256(sha256 if sha256 is not None else info.sha256)
    cache = _cache_path(cache_dir)
    target = cache / name

    if not force and _has_layout(target, info.kind):
        logger.info("Dataset %r already available at %s", name, target)
        return target

    _ensure_writable(cache)
    url = _dataset_url(info, base_url)
    archive = _fetch_archive(name, url, cache, expected_sha, force, info.file_name)
    try:
        if info.kind == "domain":
            _install_domain_archive(archive, target)
        elif info.kind == "domains":
            _install_domains_archive(archive, target, info.renames)
        else:
            _install_archive(archive, target)
    except DatasetError:
        # Unsafe, corrupt or wrongly laid out: never reuse this archive. On
        # other errors (interrupt, disk full) it is kept for the next attempt.
        _remove_file(archive)
        raise
    _remove_file(archive)  # The unpacked copy is all that is needed.
    logger.info("Dataset %r ready at %s", name, target)
    return target


def _cache_path(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is None:
        return default_cache_dir()
    return Path(cache_dir).expanduser()


def _dataset_url(info: DatasetInfo, base_url: str | None) -> str:
    base = base_url if base_url is not None else os.environ.get(ENV_DATASET_URL)
    if not base:
        return info.url
    return f"{base.rstrip('/')}/{info.file_name}"


def _normalize_sha256(sha256: str | None) -> str | None:
    if sha256 is None or sha256 == "":
        return None
    if not _SHA256_RE.match(sha256):
        raise ValueError(
            f"sha256 must be 64 hexadecimal characters, got {sha256!r}."
        )
    return sha256.lower()


def _ensure_writable(cache: Path) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"Cannot create the dataset cache folder {cache}: {exc}. "
            f"Set ${ENV_DATA_DIR} or pass cache_dir to use another folder."
        ) from exc
    if not os.access(cache, os.W_OK):
        raise DatasetError(
            f"The dataset cache folder {cache} is not writable. "
            f"Set ${ENV_DATA_DIR} or pass cache_dir to use another folder."
        )


def _remove_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------


def _fetch_archive(
    name: str, url: str, cache: Path, sha256: str | None, force: bool, fname: str | None = None
) -> Path:
    """Download ``fname`` (default ``{name}.zip``) into ``cache`` with Keras; return its path."""
    from keras.utils import get_file  # Lazy: importing Keras is slow.

    fname = fname or f"{name}.zip"
    logger.info("Downloading dataset %r from %s", name, url)
    try:
        path = get_file(
            fname=fname,
            origin=url,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_dir=str(cache),
            cache_subdir=".",
            extract=False,
            force_download=force,
        )
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        # Keras leaves the mismatching file behind; drop it so that a retry
        # downloads afresh instead of trusting it.
        _remove_file(cache / fname)
        raise DatasetError(
            f"Checksum mismatch for dataset {name!r} downloaded from {url}: "
            f"its sha256 is not {sha256}. The download was deleted; retry, "
            "and if it persists check the URL (base_url / "
            f"${ENV_DATASET_URL}) and the expected sha256."
        ) from exc
    except Exception as exc:  # Keras raises a bare Exception on URL errors.
        raise DatasetError(
            f"Could not download dataset {name!r} from {url}: {exc}. Check "
            "your network connection, or point base_url / "
            f"${ENV_DATASET_URL} at a reachable mirror, then retry."
        ) from exc
    return Path(path)
