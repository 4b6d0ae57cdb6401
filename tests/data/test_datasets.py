"""Tests for keras_i2i.data.datasets: download, verify and safely unpack.

Nothing here touches the internet: archives are built in ``tmp_path`` and
served by an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from keras_i2i.data import datasets as ds

if TYPE_CHECKING:
    from conftest import ArchiveServer  # tests/data/conftest.py, which defines the server fixture

EXPECTED_NAMES = {
    "apple2orange",
    "summer2winter_yosemite",
    "horse2zebra",
    "monet2photo",
    "cezanne2photo",
    "ukiyoe2photo",
    "vangogh2photo",
    "maps",
    "cityscapes",
    "facades",
    "iphone2dslr_flower",
}

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

# A dataset as the reference zips lay it out: one top folder, four splits.
GOOD_FILES = {
    "horse2zebra/trainA/n001.jpg": PNG_BYTES,
    "horse2zebra/trainA/n002.jpg": PNG_BYTES + b"a",
    "horse2zebra/trainB/z001.jpg": PNG_BYTES + b"b",
    "horse2zebra/testA/n101.jpg": PNG_BYTES + b"c",
    "horse2zebra/testB/z101.jpg": PNG_BYTES + b"d",
}


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user settings leak in, and localhost never goes through a proxy."""
    for var in (ds.ENV_DATA_DIR, ds.ENV_DATASET_URL, "KERAS_HOME"):
        monkeypatch.delenv(var, raising=False)
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def make_zip(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """Build a zip in memory; ``symlinks`` maps member name -> link target."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix, so external_attr carries st_mode.
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def assert_nothing_installed(cache_dir: Path, name: str = "horse2zebra") -> None:
    assert not (cache_dir / name).exists()
    assert not (cache_dir / f"{name}.zip").exists()
    leftovers = [p.name for p in cache_dir.iterdir()] if cache_dir.exists() else []
    assert leftovers == [], leftovers


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------


def test_list_datasets_has_all_cyclegan_names() -> None:
    infos = ds.list_datasets()
    assert {i.name for i in infos} == EXPECTED_NAMES
    assert len(infos) == 11
    assert set(ds.CYCLEGAN_DATASETS) == EXPECTED_NAMES
    for info in infos:
        assert ds.CYCLEGAN_DATASETS[info.name] is info
        assert info.url == (
            f"https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{info.name}.zip"
        )
        assert info.sha256 is None
        assert info.description
        assert info.size_mb is None or info.size_mb > 0


def test_dataset_info_is_frozen() -> None:
    info = ds.CYCLEGAN_DATASETS["horse2zebra"]
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ds.default_cache_dir() == tmp_path / "home" / ".keras" / "keras_i2i" / "datasets"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert ds.default_cache_dir() == tmp_path / "kh" / "keras_i2i" / "datasets"
    monkeypatch.setenv(ds.ENV_DATA_DIR, str(tmp_path / "mine"))
    assert ds.default_cache_dir() == tmp_path / "mine"


def test_unknown_name_lists_known_names(cache_dir: Path) -> None:
    with pytest.raises(ValueError) as excinfo:
        ds.download_dataset("horse2unicorn", cache_dir=cache_dir)
    message = str(excinfo.value)
    assert "horse2unicorn" in message
    for name in EXPECTED_NAMES:
        assert name in message
    assert isinstance(excinfo.value, ds.DatasetError)
    with pytest.raises(ValueError, match="Known datasets"):
        ds.resolve_dataset_root("../etc", cache_dir=cache_dir)


# --------------------------------------------------------------------------
# Download and extraction
# --------------------------------------------------------------------------


def test_download_extracts_to_dataset_root(server: ArchiveServer, cache_dir: Path) -> None:
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))
    assert ds.resolve_dataset_root("horse2zebra", cache_dir=cache_dir) is None

    root = ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert root == cache_dir / "horse2zebra"
    for member, data in GOOD_FILES.items():
        relative = member.split("/", 1)[1]
        assert (root / relative).read_bytes() == data
    assert sorted(p.name for p in root.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    # Only the dataset is left: no archive, no temporary folders.
    assert [p.name for p in cache_dir.iterdir()] == ["horse2zebra"]
    assert ds.resolve_dataset_root("horse2zebra", cache_dir=cache_dir) == root
    assert server.requests == ["/horse2zebra.zip"]


def test_second_call_does_not_hit_server(server: ArchiveServer, cache_dir: Path) -> None:
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))
    first = ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)
    assert len(server.requests) == 1

    second = ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)
    assert second == first
    assert len(server.requests) == 1

    forced = ds.download_dataset(
        "horse2zebra", cache_dir=cache_dir, base_url=server.url, force=True
    )
    assert forced == first
    assert len(server.requests) == 2
    assert (forced / "trainA" / "n001.jpg").read_bytes() == PNG_BYTES
    assert [p.name for p in cache_dir.iterdir()] == ["horse2zebra"]


def test_flat_zip_without_top_folder(server: ArchiveServer, cache_dir: Path) -> None:
    flat = {name.split("/", 1)[1]: data for name, data in GOOD_FILES.items()}
    server.add("facades.zip", make_zip(flat))
    root = ds.download_dataset("facades", cache_dir=cache_dir, base_url=server.url)
    assert root == cache_dir / "facades"
    assert (root / "trainB" / "z001.jpg").is_file()


def test_top_folder_with_other_name_and_macosx_junk(server: ArchiveServer, cache_dir: Path) -> None:
    files = {name.replace("horse2zebra/", "h2z/"): d for name, d in GOOD_FILES.items()}
    files["__MACOSX/h2z/._n001.jpg"] = b"junk"
    server.add("horse2zebra.zip", make_zip(files))
    root = ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)
    assert root == cache_dir / "horse2zebra"
    assert (root / "trainA" / "n001.jpg").is_file()
    assert not (cache_dir / "__MACOSX").exists()


def test_env_var_base_url(
    server: ArchiveServer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"apple2orange/trainA/a.jpg": b"a", "apple2orange/trainB/b.jpg": b"b"}
    server.add("apple2orange.zip", make_zip(files))
    monkeypatch.setenv(ds.ENV_DATASET_URL, server.url.rstrip("/"))
    root = ds.download_dataset("apple2orange", cache_dir=cache_dir)
    assert root == cache_dir / "apple2orange"
    assert server.requests == ["/apple2orange.zip"]
    assert not (root / "testA").exists()  # Test splits are optional.


def test_env_var_cache_dir(
    server: ArchiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))
    monkeypatch.setenv(ds.ENV_DATA_DIR, str(tmp_path / "envcache"))
    root = ds.download_dataset("horse2zebra", base_url=server.url)
    assert root == tmp_path / "envcache" / "horse2zebra"
    assert ds.resolve_dataset_root("horse2zebra") == root


def test_correct_sha256_is_accepted(server: ArchiveServer, cache_dir: Path) -> None:
    data = make_zip(GOOD_FILES)
    server.add("horse2zebra.zip", data)
    root = ds.download_dataset(
        "horse2zebra",
        cache_dir=cache_dir,
        base_url=server.url,
        sha256=hashlib.sha256(data).hexdigest().upper(),
    )
    assert (root / "trainB" / "z001.jpg").is_file()


def test_wrong_sha256_raises_and_extracts_nothing(server: ArchiveServer, cache_dir: Path) -> None:
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))
    with pytest.raises(ds.DatasetError, match="(?i)checksum mismatch"):
        ds.download_dataset(
            "horse2zebra", cache_dir=cache_dir, base_url=server.url, sha256="0" * 64
        )
    assert_nothing_installed(cache_dir)


def test_malformed_sha256_is_rejected(cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal"):
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, sha256="abc")


@pytest.mark.parametrize(
    "bad_name",
    [
        "../evil.txt",
        "horse2zebra/../../evil.txt",
        "horse2zebra/trainA/../../../evil.txt",
        "..\\evil.txt",
    ],
)
def test_path_traversal_member_is_refused(
    server: ArchiveServer, cache_dir: Path, tmp_path: Path, bad_name: str
) -> None:
    files = dict(GOOD_FILES)
    files[bad_name] = b"pwned"
    data = make_zip(files)
    assert bad_name in zipfile.ZipFile(io.BytesIO(data)).namelist()
    server.add("horse2zebra.zip", data)

    with pytest.raises(ValueError) as excinfo:
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert isinstance(excinfo.value, ds.UnsafeArchiveError)
    assert repr(bad_name) in str(excinfo.value)
    assert not (tmp_path / "evil.txt").exists()
    assert not (cache_dir / "evil.txt").exists()
    assert not list(tmp_path.rglob("evil.txt"))
    assert_nothing_installed(cache_dir)


@pytest.mark.parametrize("bad_name", ["{tmp}/abs_evil.txt", "C:/evil.txt", "\\evil.txt"])
def test_absolute_member_is_refused(
    server: ArchiveServer, cache_dir: Path, tmp_path: Path, bad_name: str
) -> None:
    bad_name = bad_name.format(tmp=tmp_path.as_posix())  # Stay inside tmp_path.
    files = dict(GOOD_FILES)
    files[bad_name] = b"pwned"
    data = make_zip(files)
    assert bad_name in zipfile.ZipFile(io.BytesIO(data)).namelist()
    server.add("horse2zebra.zip", data)

    with pytest.raises(ds.UnsafeArchiveError, match="absolute path") as excinfo:
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert repr(bad_name) in str(excinfo.value)
    assert not list(tmp_path.rglob("*evil.txt"))
    assert_nothing_installed(cache_dir)


def test_symlink_member_is_refused(server: ArchiveServer, cache_dir: Path, tmp_path: Path) -> None:
    link = "horse2zebra/trainA/link.jpg"
    server.add("horse2zebra.zip", make_zip(GOOD_FILES, symlinks={link: "/etc/passwd"}))

    with pytest.raises(ds.UnsafeArchiveError, match="symbolic link") as excinfo:
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert repr(link) in str(excinfo.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_symlink()]
    assert_nothing_installed(cache_dir)


def test_missing_trainB_is_a_clear_error(server: ArchiveServer, cache_dir: Path) -> None:
    files = {k: v for k, v in GOOD_FILES.items() if "/trainB/" not in k}
    server.add("horse2zebra.zip", make_zip(files))

    with pytest.raises(ds.DatasetError, match="missing trainB/") as excinfo:
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert "trainA/" in str(excinfo.value)  # It says what it found.
    assert ds.resolve_dataset_root("horse2zebra", cache_dir=cache_dir) is None
    assert_nothing_installed(cache_dir)


def test_not_a_zip_is_deleted_and_says_retry(server: ArchiveServer, cache_dir: Path) -> None:
    server.add("horse2zebra.zip", b"<html>not a zip</html>")

    with pytest.raises(ds.DatasetError, match="(?i)corrupt.*retry"):
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert_nothing_installed(cache_dir)


def test_crc_error_leaves_no_half_dataset(server: ArchiveServer, cache_dir: Path) -> None:
    payload = b"IMAGEDATA" * 100
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("horse2zebra/trainA/a.jpg", b"fine")
        zf.writestr("horse2zebra/trainB/b.jpg", payload)
    data = bytearray(buf.getvalue())
    at = data.index(payload) + 10
    data[at] ^= 0xFF  # Corrupt the stored bytes; the CRC no longer matches.
    server.add("horse2zebra.zip", bytes(data))

    with pytest.raises(ds.DatasetError, match="(?i)corrupt"):
        ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert_nothing_installed(cache_dir)


def test_http_404_is_a_clear_error(server: ArchiveServer, cache_dir: Path) -> None:
    with pytest.raises(ds.DatasetError, match="Could not download dataset 'maps'"):
        ds.download_dataset("maps", cache_dir=cache_dir, base_url=server.url)
    assert server.requests == ["/maps.zip"]
    assert not (cache_dir / "maps").exists()
    assert not (cache_dir / "maps.zip").exists()


def test_invalid_existing_folder_is_replaced(server: ArchiveServer, cache_dir: Path) -> None:
    stale = cache_dir / "horse2zebra" / "trainA"
    stale.mkdir(parents=True)
    (stale / "old.jpg").write_bytes(b"old")
    assert ds.resolve_dataset_root("horse2zebra", cache_dir=cache_dir) is None
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))

    root = ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert not (root / "trainA" / "old.jpg").exists()
    assert (root / "trainB" / "z001.jpg").is_file()
    assert [p.name for p in cache_dir.iterdir()] == ["horse2zebra"]


def test_leftover_partial_extraction_is_cleaned(server: ArchiveServer, cache_dir: Path) -> None:
    partial = cache_dir / ".horse2zebra.partial-abc123" / "extract" / "horse2zebra"
    partial.mkdir(parents=True)
    server.add("horse2zebra.zip", make_zip(GOOD_FILES))

    ds.download_dataset("horse2zebra", cache_dir=cache_dir, base_url=server.url)

    assert [p.name for p in cache_dir.iterdir()] == ["horse2zebra"]


def test_cli_datasets_list_and_download(server: ArchiveServer, cache_dir: Path, tmp_path: Path) -> None:
    """`keras-i2i datasets download` against a zip served on 127.0.0.1, then training reads it by name."""
    from click.testing import CliRunner

    from keras_i2i.cli import main
    from keras_i2i.config import DataConfig
    from keras_i2i.data.pipeline import resolve_paths

    png = (Path(__file__).resolve().parents[2] / "keras_i2i/data/bundled/emoji/trainA").glob("*.png")
    data = next(png).read_bytes()
    server.add("facades.zip", make_zip({f"facades/{d}/x.png": data for d in ("trainA", "trainB", "testA", "testB")}))
    runner = CliRunner()
    env = {ds.ENV_DATA_DIR: str(cache_dir)}
    listed = runner.invoke(main, ["datasets", "list"], env=env)
    assert listed.exit_code == 0 and "horse2zebra" in listed.output and "emoji" in listed.output
    result = runner.invoke(main, ["datasets", "download", "facades", "--base-url", server.url], env=env)
    assert result.exit_code == 0, result.output
    assert (cache_dir / "facades" / "trainA" / "x.png").is_file()
    assert "facades" in runner.invoke(main, ["datasets", "list"], env=env).output
    bad = runner.invoke(main, ["datasets", "download", "nosuch"], env=env)
    assert bad.exit_code == 1 and "horse2zebra" in bad.output
    import os

    os.environ[ds.ENV_DATA_DIR] = str(cache_dir)
    try:
        assert resolve_paths(DataConfig(dataset="facades")).train_a == cache_dir / "facades" / "trainA"
    finally:
        del os.environ[ds.ENV_DATA_DIR]
