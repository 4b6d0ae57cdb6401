"""Safe unpacking of downloaded dataset archives (zip and ``.tgz``).

* every member is checked before anything is written (:func:`_check_member`): absolute
  paths, drive letters, ``..`` components, paths that resolve outside the target folder,
  links and special files are refused with :class:`UnsafeArchiveError`;
* the archive is unpacked into a temporary folder beside the target and moved into
  place with :func:`keras_i2i.utils.replace_dir`, so an interrupted extraction never
  leaves half a dataset behind;
* integrity is checked by the zip CRC-32 of every member (verified while extracting)
  and by the layout check (``trainA/`` and ``trainB/`` must exist; a one-domain
  archive must hold images).
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from keras_i2i.data.catalogue import (CARTOONSET_BASE_URL, DOMAIN_SUBDIRS, DOMAIN_TEST_EVERY, ENV_DATA_DIR,
                                      ENV_DATASET_URL, OPTIONAL_SUBDIRS, REQUIRED_SUBDIRS, DatasetError)
from keras_i2i.utils import OLD_DIR_PREFIX, replace_dir

logger = logging.getLogger(__name__)

# Entries macOS adds to zips; never extracted, never counted as the top folder.
_IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})
_PARTIAL_PREFIX = "partial-"
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class UnsafeArchiveError(DatasetError, ValueError):
    """An archive member would be written outside the target folder."""


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
        replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale_partials(target: Path) -> None:
    """Delete staging folders left by an earlier, interrupted extraction."""
    for prefix in (_PARTIAL_PREFIX, OLD_DIR_PREFIX):
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


def _install_domains_archive(archive: Path, target: Path, renames: tuple[tuple[str, str], ...] = ()) -> None:
    """Unpack a multi-domain zip (AFHQ) so that ``target`` holds ``train/<domain>/`` and
    ``test/<domain>/``: extracted safely beside ``target``, the split folders renamed by
    ``renames`` (AFHQ's ``val/`` becomes ``test/``), the layout checked, moved in with
    :func:`os.replace`."""
    _remove_stale_partials(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_PARTIAL_PREFIX}", dir=target.parent))
    try:
        with open(archive, "rb") as fh:
            magic = fh.read(4)
        if magic[:2] != b"PK":
            raise DatasetError(
                f"The downloaded file {archive.name} is not a zip archive (it starts with {magic!r}; a file host "
                "can answer with a web page instead of the file). It has been deleted; retry, or point base_url / "
                f"${ENV_DATASET_URL} at a mirror that holds {archive.name}."
            )
        dest = staging / "extract"
        dest.mkdir()
        root = _extract_zip(archive, dest)
        for old, new in renames:
            if (root / old).is_dir() and not (root / new).exists():
                (root / old).rename(root / new)
        train = root / "train"
        domains = sorted(p.name for p in train.iterdir() if p.is_dir()) if train.is_dir() else []
        if not domains:
            found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
            raise DatasetError(
                f"The archive {archive.name} does not look like a multi-domain dataset: expected train/<domain>/ "
                f"folders (and test/<domain>/); found {found or 'nothing'}. Nothing was installed; check the download "
                f"URL (base_url / ${ENV_DATASET_URL})."
            )
        logger.info("Dataset domains: %s", ", ".join(domains))
        replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
        replace_dir(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_free_space_bytes(needed: int, dest: Path) -> None:
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DatasetError(
            f"Not enough disk space to unpack the dataset: it needs {needed / 1e6:.1f} MB, "
            f"{free / 1e6:.1f} MB are free in {dest}. Free some space or set ${ENV_DATA_DIR} to another disk."
        )
