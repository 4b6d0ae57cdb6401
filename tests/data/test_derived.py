"""emoji4_categories: emoji4's images by Unicode category, laid out in the dataset cache."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

from keras_i2i.config import DataConfig
from keras_i2i.data.derived import EMOJI4_CATEGORY_DOMAINS, STAMP_FILE, derived_root
from keras_i2i.data.domains import resolve_domains
from keras_i2i.data.pipeline import BUNDLED_DATASETS

EMOJI4 = BUNDLED_DATASETS["emoji4"]
VENDORS = ("fluent3d", "fluentflat", "noto", "twemoji")


@pytest.fixture
def manifest():
    return json.loads((EMOJI4 / "manifest.json").read_text())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_I2I_DATA", str(tmp_path))
    return tmp_path


def test_categories_counts_split_and_vendors(cache, manifest):
    domains = resolve_domains(DataConfig(dataset="emoji4_categories"))
    names = ["activities", "animals", "food", "objects", "people", "smileys", "symbols", "travel"]
    assert [d.name for d in domains] == names and [d.id for d in domains] == list(range(8))
    want = Counter((e["split"], EMOJI4_CATEGORY_DOMAINS[e["category"]]) for e in manifest["emoji"])
    for d in domains:
        for split, folder in (("train", d.train), ("test", d.test)):
            files = sorted(p.name for p in folder.iterdir())
            assert len(files) == 4 * want[split, d.name], (split, d.name)  # every vendor's image of each emoji
            assert Counter(f.split("_", 1)[0] for f in files) == {v: want[split, d.name] for v in VENDORS}
    assert want["train", "symbols"] == 72 + 5 and want["test", "activities"] == 1  # Flags joined symbols
    root = cache / "emoji4_categories"
    for e in manifest["emoji"]:  # split as the manifest; the same pixels as the vendor's image
        category, other = EMOJI4_CATEGORY_DOMAINS[e["category"]], "test" if e["split"] == "train" else "train"
        path = root / e["split"] / category / f"noto_{e['unified']}.png"
        assert path.read_bytes() == (EMOJI4 / e["split"] / "noto" / f"{e['unified']}.png").read_bytes()
        assert not (root / other / category / f"noto_{e['unified']}.png").exists()


def test_layout_is_reused_and_rebuilt_when_incomplete(cache):
    root = derived_root("emoji4_categories")
    stamp = (root / STAMP_FILE).stat().st_mtime_ns
    some = next((root / "train" / "food").iterdir())
    assert derived_root("emoji4_categories") == root and (root / STAMP_FILE).stat().st_mtime_ns == stamp
    some.unlink()  # incomplete: laid out again, nothing left beside it
    assert derived_root("emoji4_categories") == root and some.is_file()
    (root / STAMP_FILE).write_text(json.dumps({"source_sha256": "other"}))  # another manifest version
    old, running = cache / ".emoji4_categories.partial-old", cache / ".emoji4_categories.partial-now"
    old.mkdir(), running.mkdir()
    os.utime(old, (time.time() - 2 * 3600,) * 2)  # left by a build interrupted two hours ago
    derived_root("emoji4_categories")
    assert json.loads((root / STAMP_FILE).read_text())["source_sha256"] != "other"
    assert sorted(p.name for p in cache.iterdir()) == [running.name, "emoji4_categories"]  # another build's is kept
