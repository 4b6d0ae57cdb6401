"""The bundled four-domain emoji set (``emoji4``): layout, pairing, counts, alpha, licences."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from keras_i2i.config import DataConfig
from keras_i2i.data.images import DataError, read_image
from keras_i2i.data.pipeline import BUNDLED_DATASETS, resolve_paths

EMOJI4 = BUNDLED_DATASETS["emoji4"]
DOMAINS = ["fluent3d", "fluentflat", "noto", "twemoji"]
LICENCES = ["LICENSE-Apache-2.0.txt", "LICENSE-CC-BY-4.0.txt", "LICENSE-MIT-Fluent-Emoji.txt",
            "LICENSE-MIT-emoji-datasource.txt"]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((EMOJI4 / "manifest.json").read_text(encoding="utf-8"))


def _names(split: str, domain: str) -> list[str]:
    return sorted(p.name for p in (EMOJI4 / split / domain).iterdir())


def test_four_domains_paired_by_name_with_counts_of_manifest_and_readme(manifest):
    readme = (EMOJI4 / "README.md").read_text(encoding="utf-8")
    for split in ("train", "test"):
        assert sorted(p.name for p in (EMOJI4 / split).iterdir()) == DOMAINS
        names = _names(split, "noto")
        for domain in DOMAINS:
            assert _names(split, domain) == names
            assert manifest["counts"][split][domain] == len(names)
        assert names == sorted(f"{e['unified']}.png" for e in manifest["emoji"] if e["split"] == split)
        row = re.search(rf"^\| {split} +\|([ \d|]+)\|$", readme, re.M).group(1)
        assert [int(n) for n in row.split("|")] == [len(names)] * 4
    assert not set(_names("train", "noto")) & set(_names("test", "noto"))
    assert sorted(manifest["domains"]) == DOMAINS


def test_same_emoji_and_split_as_the_two_domain_set(manifest):
    emoji = BUNDLED_DATASETS["emoji"]
    for e in manifest["emoji"]:
        for domain in "AB":
            assert (emoji / f"{e['split']}{domain}" / f"{e['unified']}.png").is_file()
    kept = {e["unified"] for e in manifest["emoji"]}
    dropped = {e["unified"] for e in manifest["dropped"]}
    two_domain = {p.stem for split in ("trainA", "testA") for p in (emoji / split).iterdir()}
    assert kept | dropped == two_domain and not kept & dropped


def test_images_are_64px_rgba_and_read_as_rgb_on_white():
    files = sorted(EMOJI4.glob("*/*/*.png"))
    assert len(files) == 4 * (len(_names("train", "noto")) + len(_names("test", "noto")))
    for path in files:
        with Image.open(path) as im:  # header only: fast
            assert (im.size, im.mode) == ((64, 64), "RGBA"), path
    for domain in DOMAINS:
        path = EMOJI4 / "test" / domain / _names("test", domain)[0]
        rgba = np.asarray(Image.open(path), dtype=np.float64)
        alpha = rgba[..., 3:] / 255.0
        assert alpha.min() == 0.0 and alpha.max() == 1.0  # a real mask: background and object
        rgb = read_image(path)
        assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
        expected = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha))
        np.testing.assert_array_equal(rgb, expected)
        assert (rgb[alpha[..., 0] == 0] == 255).all()  # transparent -> white


def test_licences_ship_with_the_data():
    readme = (EMOJI4 / "README.md").read_text(encoding="utf-8")
    for name in LICENCES:
        assert (EMOJI4 / name).stat().st_size > 500
        assert name in readme
    assert "Copyright (c) Microsoft Corporation" in (EMOJI4 / "LICENSE-MIT-Fluent-Emoji.txt").read_text()
    total = sum(f.stat().st_size for f in EMOJI4.rglob("*") if f.is_file())
    assert total < 15 * 1024 * 1024


def test_two_domain_loader_says_how_to_use_emoji4():
    with pytest.raises(DataError, match="one folder per domain.*set data.domains.NAME=FOLDER for two of them"):
        resolve_paths(DataConfig(dataset="emoji4"))
