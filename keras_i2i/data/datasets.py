"""Download and unpack the standard CycleGAN datasets.

The eleven unpaired datasets published with CycleGAN (Zhu et al., 2017) are
zip archives on the Berkeley server, each holding ``trainA/``, ``trainB/``,
``testA/`` and ``testB/`` image folders (usually under one top-level folder
named after the dataset). This module fetches them with
:func:`keras.utils.get_file` and unpacks them itself, safely:

* every member is checked before anything is written: absolute paths, drive
  letters, ``..`` components, paths that resolve outside the target folder and
  symlink entries are refused with :class:`UnsafeArchiveError`;
* the archive is unpacked into a temporary folder beside the target and moved
  into place with :func:`os.replace`, so an interrupted extraction never
  leaves half a dataset behind;
* integrity is checked with the sha256 when one is known, and always by the
  zip CRC-32 of every member (verified while extracting) and by the layout
  check (``trainA/`` and ``trainB/`` must exist).

A dataset ``name`` ends up in ``<cache_dir>/<name>/`` with ``trainA/`` and
``trainB/`` directly inside it. The cache folder defaults to
``$KERAS_I2I_DATA`` or ``~/.keras/keras_i2i/datasets`` (``$KERAS_HOME`` is
honoured like Keras does). The download host can be replaced (a mirror, or a
local server in tests) with ``base_url`` or ``$KERAS_I2I_DATASET_URL``.

One-domain datasets (:data:`DOMAIN_DATASETS`: Google's CartoonSet) hold the
images of a single domain, to pair with a folder of your own (``data.b:
cartoonset10k``). They are ``.tgz`` archives, checked member by member the same
way, and laid out as ``<cache_dir>/<name>/train/``, ``test/`` (every 20th image by
file name) and ``attributes/`` (the per-image CSV files).

Keras (and so TensorFlow) is imported only when something is downloaded, so
listing datasets and resolving cached ones stays fast.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

__all__ = [
    "CYCLEGAN_DATASETS",
    "DEFAULT_BASE_URL",
    "DOMAIN_DATASETS",
    "ENV_DATASET_URL",
    "ENV_DATA_DIR",
    "DatasetError",
    "DatasetInfo",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "default_cache_dir",
    "download_dataset",
    "list_datasets",
    "list_domain_datasets",
    "resolve_dataset_root",
]

#: Environment variable naming the folder datasets are cached in.
ENV_DATA_DIR = "KERAS_I2I_DATA"
#: Environment variable replacing the download host (a mirror, a test server).
ENV_DATASET_URL = "KERAS_I2I_DATASET_URL"
#: Where the reference download script fetches the CycleGAN zips from.
DEFAULT_BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"

#: Folders a dataset must have; ``testA``/``testB`` are optional.
REQUIRED_SUBDIRS = ("trainA", "trainB")
OPTIONAL_SUBDIRS = ("testA", "testB")

# Entries macOS adds to zips; never extracted, never counted as the top folder.
_IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})
_PARTIAL_PREFIX = "partial-"
_OLD_PREFIX = "old-"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class DatasetError(RuntimeError):
    """A dataset could not be downloaded, verified, unpacked or found."""


class UnknownDatasetError(DatasetError, ValueError):
    """The dataset name is not one of :data:`CYCLEGAN_DATASETS`."""


class UnsafeArchiveError(DatasetError, ValueError):
    """An archive member would be written outside the target folder."""


@dataclass(frozen=True)
class DatasetInfo:
    """A downloadable dataset.

    Attributes:
        name: Dataset name, also the archive's base name (``{name}.zip``).
        url: Default download URL.
        sha256: Hex sha256 of the archive, or ``None`` when unknown (then the
            zip CRC-32s and the layout check are the integrity checks).
        description: One line for ``keras-i2i datasets list``.
        size_mb: Approximate archive size in MB (10**6 bytes), informational.
        kind: ``"unpaired"`` (a zip with ``trainA/``, ``trainB/`` ...) or
            ``"domain"`` (a ``.tgz`` of one domain's images, see
            :data:`DOMAIN_DATASETS`).
    """

    name: str
    url: str
    sha256: str | None
    description: str
    size_mb: float | None
    kind: str = "unpaired"

    @property
    def file_name(self) -> str:
        """The archive's file name (the last part of its URL)."""
        return self.url.rsplit("/", 1)[-1]


def _cyclegan(name: str, description: str, size_mb: float) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        url=f"{DEFAULT_BASE_URL}/{name}.zip",
        sha256=None,
        description=description,
        size_mb=size_mb,
    )


# Image counts from the CycleGAN datasets documentation; archive sizes are
# the byte counts TensorFlow Datasets records for the same zips, in MB.
CYCLEGAN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _cyclegan(
            "apple2orange",
            "996 apple / 1020 orange training images (ImageNet), 256x256",
            78.5,
        ),
        _cyclegan(
            "summer2winter_yosemite",
            "1273 summer / 854 winter Yosemite training images (Flickr), 256x256",
            132.6,
        ),
        _cyclegan(
            "horse2zebra",
            "939 horse / 1177 zebra training images (ImageNet), 256x256",
            116.9,
        ),
        _cyclegan(
            "monet2photo",
            "1074 Monet paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            305.2,
        ),
        _cyclegan(
            "cezanne2photo",
            "584 Cezanne paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            279.9,
        ),
        _cyclegan(
            "ukiyoe2photo",
            "1433 ukiyo-e prints (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            292.9,
        ),
        _cyclegan(
            "vangogh2photo",
            "401 Van Gogh paintings (WikiArt) / 6853 landscape photos (Flickr), 256x256",
            306.6,
        ),
        _cyclegan(
            "maps",
            "1096 Google Maps map tiles / aerial photos, 256x256",
            1476.8,
        ),
        _cyclegan(
            "cityscapes",
            "2975 Cityscapes label maps / street photos, 256x256 "
            "(licence-restricted; the host may refuse it)",
            279.6,
        ),
        _cyclegan(
            "facades",
            "400 CMP Facades label maps / building photos, 256x256",
            35.1,
        ),
        _cyclegan(
            "iphone2dslr_flower",
            "1813 iPhone / 3316 DSLR flower photos (Flickr), shallow depth of field",
            340.0,
        ),
    )
}


# Google's CartoonSet (Royer et al., XGAN, 2017; CC-BY 4.0): 2D avatar faces,
# 500x500 PNGs, each with a CSV of its attributes. The project page
# https://google.github.io/cartoonset/ links the archives as
# https://storage.cloud.google.com/cartoonset_public_files/<name>.tgz, an address
# that asks a browser to sign in; storage.googleapis.com serves the same public
# objects without one. The sizes are not recorded here (unknown to us).
CARTOONSET_BASE_URL = "https://storage.googleapis.com/cartoonset_public_files"

#: One-domain datasets, to pair with a folder of your own through ``data.a``/``data.b``.
DOMAIN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="cartoonset10k",
            url=f"{CARTOONSET_BASE_URL}/cartoonset10k.tgz",
            sha256=None,
            description="10,000 CartoonSet avatar faces (Google, CC-BY 4.0), 500x500 PNG + attribute CSVs",
            size_mb=None,
            kind="domain",
        ),
        DatasetInfo(
            name="cartoonset100k",
            url=f"{CARTOONSET_BASE_URL}/cartoonset100k.tgz",
            sha256=None,
            description="100,000 CartoonSet avatar faces (Google, CC-BY 4.0), 500x500 PNG + attribute CSVs",
            size_mb=None,
            kind="domain",
        ),
    )
}

#: Split folders of an unpacked one-domain dataset.
DOMAIN_SUBDIRS = ("train", "test", "attributes")
#: One image in this many (by file name) goes to ``test/``.
DOMAIN_TEST_EVERY = 20


def list_datasets() -> list[DatasetInfo]:
    """Return the downloadable datasets, in registry order."""
    return list(CYCLEGAN_DATASETS.values())


def list_domain_datasets() -> list[DatasetInfo]:
    """Return the downloadable one-domain datasets (CartoonSet)."""
    return list(DOMAIN_DATASETS.values())


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
    for a one-domain dataset) counts.
    """
    info = _get_info(name)
    root = _cache_path(cache_dir) / name
    return root if _has_layout(root, info.kind) else None


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


# --------------------------------------------------------------------------
# Helpers: names, paths, URLs
# --------------------------------------------------------------------------


def _get_info(name: str) -> DatasetInfo:
    try:
        return {**CYCLEGAN_DATASETS, **DOMAIN_DATASETS}[name]
    except (KeyError, TypeError):
        known = ", ".join([*CYCLEGAN_DATASETS, *DOMAIN_DATASETS])
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Known datasets: {known}."
        ) from None


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


def _has_layout(root: Path, kind: str = "unpaired") -> bool:
    if kind == "domain":
        return (root / "train").is_dir()
    return all((root / sub).is_dir() for sub in REQUIRED_SUBDIRS)


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


# --------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------


def _install_archive(archive: Path, target: Path) -> None:
    """Unpack ``archive`` so that the dataset root becomes ``target``.

    Extracts into a temporary folder beside ``target``, checks the layout,
    then moves the dataset root into place with :func:`os.replace`.
    """
    _remove_stale_partials(target)
    prefix = f".{target.name}.{_PARTIAL_PREFIX}"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        # A plain mkdir (not mkdtemp's 0o700) so the installed root gets the
        # usual permissions even when the archive has no top-level folder.
        dest = staging / "extract"
        dest.mkdir()
        root = _extract_zip(archive, dest)
        _check_layout(root, archive)
        _replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale_partials(target: Path) -> None:
    """Delete staging folders left by an earlier, interrupted extraction."""
    for prefix in (_PARTIAL_PREFIX, _OLD_PREFIX):
        for stale in target.parent.glob(f".{target.name}.{prefix}*"):
            logger.info("Removing leftover temporary folder %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _extract_zip(archive: Path, dest: Path) -> Path:
    """Safely extract ``archive`` into ``dest``; return the dataset root.

    The root is the single top-level folder when the archive has one
    (``horse2zebra/trainA/...``), else ``dest`` itself.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [
                m
                for m in zf.infolist()
                if _top_level(m.filename) not in _IGNORED_TOP_LEVEL
            ]
            for member in members:
                link = "symbolic link" if stat.S_ISLNK(member.external_attr >> 16) else ""
                _check_member(member.filename, dest, link=link)
            _check_free_space(members, dest)
            logger.info("Extracting %d entries from %s", len(members), archive.name)
            for member in members:
                _extract_member(zf, member, dest)
    except UnsafeArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DatasetError(
            f"The downloaded archive {archive.name} is corrupt ({exc}). "
            "It has been deleted; retry the download (the transfer was "
            "probably interrupted)."
        ) from exc
    return _dataset_root(members, dest)


def _top_level(filename: str) -> str:
    return filename.replace("\\", "/").lstrip("/").split("/", 1)[0]


def _check_member(name: str, dest: Path, *, link: str = "", plain: bool = True) -> None:
    """Raise :class:`UnsafeArchiveError` unless the archive member ``name`` is safe to
    write in ``dest``; used for zip and tar members alike.

    Refused: a link (``link`` says which kind, e.g. ``"symbolic link"``), anything that
    is not a plain file or folder (``plain=False``: a device, a FIFO), an absolute path
    or drive letter, a ``..`` component and a path that resolves outside ``dest``.
    """
    if link:
        reason = f"it is a {link}"
    elif not plain:
        reason = "it is not a plain file or folder"
    elif name.startswith(("/", "\\")) or _DRIVE_RE.match(name):
        reason = f"it has an absolute path, so it could be written outside {dest}"
    elif ".." in PurePosixPath(name.replace("\\", "/")).parts:
        reason = f"its path contains '..', so it could be written outside {dest}"
    elif not _resolves_inside(dest / name, dest):
        reason = f"its path resolves outside the target folder {dest}"
    else:
        return
    raise UnsafeArchiveError(
        f"Refusing to extract archive member {name!r}: {reason}. The archive is unsafe; nothing was extracted."
    )


def _resolves_inside(path: Path, root: Path) -> bool:
    resolved_root = root.resolve()
    resolved = path.resolve()
    return resolved == resolved_root or resolved.is_relative_to(resolved_root)


def _check_free_space(members: list[zipfile.ZipInfo], dest: Path) -> None:
    needed = sum(m.file_size for m in members)
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DatasetError(
            f"Not enough disk space to unpack the dataset: it needs "
            f"{needed / 1e6:.1f} MB, {free / 1e6:.1f} MB are free in {dest}. "
            f"Free some space or set ${ENV_DATA_DIR} to another disk."
        )


def _extract_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path) -> None:
    """Write one (already checked) member; permissions are not restored."""
    path = dest / member.filename.replace("\\", "/")
    if member.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Reading to the end makes zipfile verify the member's CRC-32.
    with zf.open(member) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, length=1 << 20)


def _dataset_root(members: list[zipfile.ZipInfo], dest: Path) -> Path:
    tops = {_top_level(m.filename) for m in members} - {""}
    if len(tops) == 1:
        (top,) = tops
        if (dest / top).is_dir():
            return dest / top
    return dest


def _check_layout(root: Path, archive: Path) -> None:
    missing = [sub for sub in REQUIRED_SUBDIRS if not (root / sub).is_dir()]
    if not missing:
        for sub in OPTIONAL_SUBDIRS:
            if not (root / sub).is_dir():
                logger.info("Dataset has no %s/ folder (optional)", sub)
        return
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    raise DatasetError(
        f"The archive {archive.name} does not look like an unpaired dataset: "
        f"missing {', '.join(s + '/' for s in missing)} (expected trainA/ and "
        f"trainB/, optionally testA/ and testB/); found {found or 'nothing'}. "
        "Nothing was installed; check the download URL (base_url / "
        f"${ENV_DATASET_URL})."
    )


def _replace_dir(src: Path, target: Path) -> None:
    """Move ``src`` to ``target``, replacing an existing ``target`` folder."""
    if target.exists() or target.is_symlink():
        prefix = f".{target.name}.{_OLD_PREFIX}"
        old = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        logger.info("Replacing existing folder %s", target)
        os.replace(target, old / target.name)
        os.replace(src, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, target)


# --------------------------------------------------------------------------
# One-domain datasets (.tgz): safe extraction into train/, test/, attributes/
# --------------------------------------------------------------------------


def _install_domain_archive(archive: Path, target: Path) -> None:
    """Unpack a one-domain ``.tgz`` so that ``target`` holds ``train/``, ``test/``
    and ``attributes/``; staged beside ``target`` and moved in with :func:`os.replace`.

    The archive's own folders (``cartoonset10k/`` or ``cartoonset100k/0/`` ...) are
    flattened: images go to ``train/`` or, one in :data:`DOMAIN_TEST_EVERY` by file
    name, to ``test/``; ``.csv`` files go to ``attributes/``; anything else is skipped.
    """
    from keras_i2i.data.images import IMAGE_EXTENSIONS

    _remove_stale_partials(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_PARTIAL_PREFIX}", dir=target.parent))
    try:
        root = staging / "extract"
        root.mkdir()
        for sub in DOMAIN_SUBDIRS:
            (root / sub).mkdir()
        with open(archive, "rb") as fh:
            magic = fh.read(2)
        if magic != b"\x1f\x8b":
            raise DatasetError(
                f"The downloaded file {archive.name} is not a gzip archive (it starts with {magic!r}); a "
                "storage.cloud.google.com address answers with a sign-in page instead of the file. "
                f"It has been deleted; download from {CARTOONSET_BASE_URL} (the default) or a mirror."
            )
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member.name, root, link="link" if member.issym() or member.islnk() else "",
                                  plain=member.isfile() or member.isdir())
                files = [m for m in members if m.isfile()]
                images = sorted(
                    (m for m in files if PurePosixPath(m.name).suffix.lower() in IMAGE_EXTENSIONS),
                    key=lambda m: PurePosixPath(m.name).name,
                )
                names = [PurePosixPath(m.name).name for m in images]
                if len(set(names)) != len(names):
                    raise DatasetError(f"The archive {archive.name} has two images with the same file name.")
                if not images:
                    raise DatasetError(
                        f"The archive {archive.name} holds no images; nothing was installed. Check the download "
                        f"URL (base_url / ${ENV_DATASET_URL})."
                    )
                split = {m.name: "test" if i % DOMAIN_TEST_EVERY == DOMAIN_TEST_EVERY - 1 else "train"
                         for i, m in enumerate(images)}
                _check_free_space_bytes(sum(m.size for m in files), root)
                logger.info("Extracting %d images from %s", len(images), archive.name)
                for member in files:
                    base = PurePosixPath(member.name).name
                    if member.name in split:
                        dest = root / split[member.name] / base
                    elif base.lower().endswith(".csv"):
                        dest = root / "attributes" / base
                    else:
                        continue
                    src = tar.extractfile(member)
                    with src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst, length=1 << 20)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DatasetError(
                f"The downloaded archive {archive.name} is corrupt ({exc}). It has been deleted; retry the "
                "download (the transfer was probably interrupted)."
            ) from exc
        _replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_free_space_bytes(needed: int, dest: Path) -> None:
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DatasetError(
            f"Not enough disk space to unpack the dataset: it needs {needed / 1e6:.1f} MB, "
            f"{free / 1e6:.1f} MB are free in {dest}. Free some space or set ${ENV_DATA_DIR} to another disk."
        )
