"""CartoonSet (a one-domain .tgz dataset): download from a server on 127.0.0.1, the
layout transform to train/ test/ attributes/, refusals, and data.b naming it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_i2i.data import datasets as ds


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    for var in (ds.ENV_DATA_DIR, ds.ENV_DATASET_URL, "KERAS_HOME"):
        monkeypatch.delenv(var, raising=False)
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def png(seed: int) -> bytes:
    """A real 8x8 RGBA PNG, like CartoonSet's transparent-background images."""
    array = np.random.default_rng(seed).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def make_tgz(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folders = sorted({str(Path(n).parent) for n in files} - {"."})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def cartoonset_files(count: int, prefix: str = "cartoonset10k/") -> dict[str, bytes]:
    files = {}
    for i in range(count):
        files[f"{prefix}cs{1000 + i}.png"] = png(i)
        files[f"{prefix}cs{1000 + i}.csv"] = f'"eye_angle", {i % 3}, 3\n'.encode()
    files[f"{prefix}README.txt"] = b"not an image"
    return files


def test_cartoonset_is_registered_with_the_project_archive_names():
    assert set(ds.DOMAIN_DATASETS) == {"cartoonset10k", "cartoonset100k"}
    for name, info in ds.DOMAIN_DATASETS.items():
        assert info.kind == "domain" and info.file_name == f"{name}.tgz"
        assert info.url.endswith(f"/cartoonset_public_files/{name}.tgz")
    assert "cartoonset10k" not in {i.name for i in ds.list_datasets()}  # not an unpaired A/B dataset


def test_download_lays_out_train_test_and_attributes(server, tmp_path):
    server.add("cartoonset10k.tgz", make_tgz(cartoonset_files(45)))
    cache = tmp_path / "cache"
    assert ds.resolve_dataset_root("cartoonset10k", cache_dir=cache) is None

    target = ds.download_dataset("cartoonset10k", cache_dir=cache, base_url=server.url)

    assert target == cache / "cartoonset10k" == ds.resolve_dataset_root("cartoonset10k", cache_dir=cache)
    train = sorted(p.name for p in (target / "train").iterdir())
    test = sorted(p.name for p in (target / "test").iterdir())
    assert len(train) + len(test) == 45 and not set(train) & set(test)
    assert test == ["cs1019.png", "cs1039.png"]  # every 20th image by file name
    assert (target / "test" / "cs1019.png").read_bytes() == png(19)
    assert len(list((target / "attributes").glob("*.csv"))) == 45
    assert sorted(p.name for p in target.iterdir()) == ["attributes", "test", "train"]
    assert not list(cache.glob("*.tgz")) and not list(cache.glob(".cartoonset10k.*"))  # archive and staging gone


def test_nested_folders_of_cartoonset100k_are_flattened(server, tmp_path):
    files = {**cartoonset_files(3, "cartoonset100k/0/"), **{
        k.replace("cs10", "cs20"): v for k, v in cartoonset_files(3, "cartoonset100k/1/").items()}}
    server.add("cartoonset100k.tgz", make_tgz(files))
    target = ds.download_dataset("cartoonset100k", cache_dir=tmp_path / "cache", base_url=server.url)
    assert sorted(p.name for p in (target / "train").iterdir()) == [
        "cs1000.png", "cs1001.png", "cs1002.png", "cs2000.png", "cs2001.png", "cs2002.png"]


def test_unsafe_archives_are_refused_and_nothing_is_installed(server, tmp_path):
    cache = tmp_path / "cache"
    for bad in (make_tgz({**cartoonset_files(2), "cartoonset10k/../../evil.png": png(9)}),
                make_tgz(cartoonset_files(2), links={"cartoonset10k/link.png": "/etc/passwd"})):
        server.add("cartoonset10k.tgz", bad)
        with pytest.raises(ds.UnsafeArchiveError):
            ds.download_dataset("cartoonset10k", cache_dir=cache, base_url=server.url, force=True)
        assert sorted(p.name for p in cache.iterdir()) == []
    assert not (tmp_path / "evil.png").exists()


def test_a_sign_in_page_instead_of_the_archive_is_a_clear_error(server, tmp_path):
    server.add("cartoonset10k.tgz", b"<!DOCTYPE html><html>Sign in - Google Accounts</html>")
    cache = tmp_path / "cache"
    with pytest.raises(ds.DatasetError, match="sign-in page"):
        ds.download_dataset("cartoonset10k", cache_dir=cache, base_url=server.url)
    assert sorted(p.name for p in cache.iterdir()) == []  # the bad download was deleted


def test_data_b_can_name_the_dataset(server, tmp_path, monkeypatch):
    from keras_i2i.config import DataConfig
    from keras_i2i.data.images import DataError
    from keras_i2i.data.pipeline import resolve_paths

    server.add("cartoonset10k.tgz", make_tgz(cartoonset_files(21)))
    monkeypatch.setenv(ds.ENV_DATA_DIR, str(tmp_path / "cache"))
    monkeypatch.setenv(ds.ENV_DATASET_URL, server.url)
    faces = tmp_path / "faces"
    faces.mkdir()
    with pytest.raises(DataError, match="keras-i2i datasets download cartoonset10k"):
        resolve_paths(DataConfig(a=str(faces), b="cartoonset10k"))
    paths = resolve_paths(DataConfig(a=str(faces), b="cartoonset10k", download=True))
    cartoons = tmp_path / "cache" / "cartoonset10k"
    assert (paths.train_a, paths.test_a) == (faces, None)
    assert (paths.train_b, paths.test_b) == (cartoons / "train", cartoons / "test")
    explicit = resolve_paths(DataConfig(a=str(faces), b="cartoonset10k", test_b=str(faces)))
    assert explicit.test_b == faces
