"""AFHQ (a multi-domain zip, issue 16): download from a server on 127.0.0.1, its val/
split laid out as test/, train/<domain>/ read as the domains of ``data.dataset: afhq``,
and the refusals (a web page instead of the zip, a zip of another layout)."""

from __future__ import annotations

import io
import zipfile

import pytest
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.config import DataConfig
from keras_i2i.data import datasets as ds
from keras_i2i.data.domains import resolve_domains
from keras_i2i.data.images import DataError
from tests.conftest import EMOJI

SPECIES = ("cat", "dog", "wild")


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
    monkeypatch.setenv(ds.ENV_DATA_DIR, str(tmp_path / "cache"))


def afhq_zip(splits=("train", "val")) -> bytes:
    """A small afhq.zip as the StarGAN v2 archive lays it out: afhq/{train,val}/{cat,dog,wild}/."""
    image = sorted((EMOJI / "trainA").glob("*.png"))[0].read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for split in splits:
            for species in SPECIES:
                for i in range(2):
                    zf.writestr(f"afhq/{split}/{species}/flickr_{species}_{i:06d}.png", image)
    return buf.getvalue()


def test_afhq_is_in_the_catalogue_with_the_stargan_v2_address():
    info = ds.MULTIDOMAIN_DATASETS["afhq"]
    assert info.kind == "domains" and info.file_name == "afhq.zip" and info.renames == (("val", "test"),)
    assert info.url == "https://www.dropbox.com/s/t9l9o3vsx2jai3z/afhq.zip?dl=1" and info.sha256 is None
    assert [i.name for i in ds.list_multidomain_datasets()] == ["afhq"]


def test_download_lays_out_train_and_test_domains(server, tmp_path):
    server.add("afhq.zip", afhq_zip())
    with pytest.raises(ds.DatasetError, match="keras-i2i datasets download afhq"):
        resolve_domains(DataConfig(dataset="afhq"))  # not downloaded, and data.download is off
    runner = CliRunner()
    listed = runner.invoke(main, ["datasets", "list"])
    assert listed.exit_code == 0 and "afhq" in listed.output and "cat, dog, wild" in listed.output
    result = runner.invoke(main, ["datasets", "download", "afhq", "--base-url", server.url])
    assert result.exit_code == 0, result.output
    assert server.requests == ["/afhq.zip"]
    root = tmp_path / "cache" / "afhq"
    assert sorted(p.name for p in root.iterdir()) == ["test", "train"]
    domains = resolve_domains(DataConfig(dataset="afhq"))
    assert [(d.name, d.id) for d in domains] == [("cat", 0), ("dog", 1), ("wild", 2)]
    for d in domains:
        assert d.train == root / "train" / d.name and d.test == root / "test" / d.name
        assert len(list(d.test.glob("*.png"))) == 2
    assert not list(tmp_path.joinpath("cache").glob("*.zip"))  # the archive is not kept
    from keras_i2i.data.pipeline import resolve_paths

    with pytest.raises(DataError, match="one folder per domain"):  # three domains for a two-domain model
        resolve_paths(DataConfig(dataset="afhq"))


def test_data_download_fetches_it_when_training_asks(server, monkeypatch, tmp_path):
    server.add("afhq.zip", afhq_zip(splits=("train",)))  # no val/: no test folders
    monkeypatch.setenv(ds.ENV_DATASET_URL, server.url)
    domains = resolve_domains(DataConfig(dataset="afhq", download=True))
    assert [d.name for d in domains] == list(SPECIES) and all(d.test is None for d in domains)


def test_a_web_page_or_another_layout_installs_nothing(server, tmp_path):
    server.add("afhq.zip", b"<!DOCTYPE html><html>Dropbox</html>")
    with pytest.raises(ds.DatasetError, match="not a zip archive"):
        ds.download_dataset("afhq", base_url=server.url)
    server.add("afhq.zip", afhq_zip(splits=("val",)))  # no train/
    with pytest.raises(ds.DatasetError, match="expected train/<domain>/"):
        ds.download_dataset("afhq", base_url=server.url)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == []
