"""Named domains: the three layouts, the streams by kind (deterministic, resumable,
balanced), and the bad-input cases."""

import numpy as np
import pytest

from keras_i2i.config import DataConfig, load_config
from keras_i2i.data.domains import resolve_domains
from keras_i2i.data.images import DataError
from keras_i2i.data.pipeline import UnpairedData, resolve_paths
from keras_i2i.data.streams import STREAMS, LabelledData, make_stream
from tests.conftest import copy_emoji

SMALL = dict(load_size=36, crop_size=32)


@pytest.fixture
def per_domain_root(tmp_path):
    """``root/train/<domain>/`` and ``root/test/<domain>/`` with three domains of 3, 5 and 4 images."""
    root = tmp_path / "three"
    for name, source, count in (("noto", "A", 3), ("twemoji", "B", 5), ("fluent", "A", 4)):
        copy_emoji(root / "train" / name, source, count, split="train" if name != "fluent" else "test")
        copy_emoji(root / "test" / name, source, 2, split="test")
    return root


def test_reference_layout_is_domains_a_and_b(emoji_root):
    domains = resolve_domains(DataConfig(root=str(emoji_root)))
    assert [(d.name, d.id, d.train.name, d.test.name) for d in domains] == [
        ("a", 0, "trainA", "testA"), ("b", 1, "trainB", "testB")]
    two = resolve_domains(DataConfig(a=str(emoji_root / "trainA"), b=str(emoji_root / "trainB")))
    assert [(d.name, d.train) for d in two] == [("a", emoji_root / "trainA"), ("b", emoji_root / "trainB")]


def test_folder_per_domain_layout_sorted_with_stable_ids(per_domain_root):
    domains = resolve_domains(DataConfig(root=str(per_domain_root)))
    assert [(d.name, d.id) for d in domains] == [("fluent", 0), ("noto", 1), ("twemoji", 2)]
    assert domains[2].train == per_domain_root / "train" / "twemoji"
    assert domains[2].test == per_domain_root / "test" / "twemoji"


def test_domains_mapping_from_yaml_and_set(per_domain_root, tmp_path):
    cfg = load_config("quickstart", overrides=[
        "data.dataset=null", f"data.domains.zeta={per_domain_root / 'train' / 'noto'}",
        f"data.domains.alpha={per_domain_root / 'train' / 'twemoji'}"])
    assert cfg.data.domains == {"zeta": str(per_domain_root / "train" / "noto"),
                                "alpha": str(per_domain_root / "train" / "twemoji")}
    domains = resolve_domains(cfg.data)
    assert [(d.name, d.id) for d in domains] == [("alpha", 0), ("zeta", 1)]
    assert domains[0].test is None  # a plain folder has no test split
    # a folder holding train/ and test/ gives both
    nested = tmp_path / "nested"
    copy_emoji(nested / "train", "A", 2)
    copy_emoji(nested / "test", "A", 1, split="test")
    (one,) = resolve_domains(DataConfig(domains={"x": str(nested)}))
    assert (one.train, one.test) == (nested / "train", nested / "test")


def test_two_named_domains_feed_the_unpaired_stream(per_domain_root):
    paths = resolve_paths(DataConfig(domains={"n": str(per_domain_root / "train" / "noto"),
                                              "t": str(per_domain_root / "train" / "twemoji")}))
    assert paths.train_a.name == "noto" and paths.train_b.name == "twemoji"
    with pytest.raises(DataError, match="The data has 3 domains .fluent, noto, twemoji.; a two-domain model needs two"):
        resolve_paths(DataConfig(root=str(per_domain_root)))


@pytest.mark.parametrize("name", ["a/b", "Cat", "", "x-y", "../up"])
def test_bad_domain_names(name, tmp_path):
    copy_emoji(tmp_path / "d", "A", 2)
    with pytest.raises(DataError, match="lower-case letters, digits and underscores"):
        resolve_domains(DataConfig(domains={name: str(tmp_path / "d")}))


def test_two_domains_on_one_folder_and_missing_or_empty_folders(tmp_path):
    folder = copy_emoji(tmp_path / "d", "A", 2)
    with pytest.raises(DataError, match="both point at"):
        resolve_domains(DataConfig(domains={"x": str(folder), "y": str(tmp_path / "d" / ".." / "d")}))
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        resolve_domains(DataConfig(domains={"x": str(tmp_path / "nope")}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no readable images"):
        LabelledData(DataConfig(domains={"x": str(folder), "y": str(tmp_path / "empty")}, **SMALL), global_batch=2)
    with pytest.raises(DataError, match="not both"):
        resolve_domains(DataConfig(domains={"x": str(folder)}, root=str(tmp_path)))


def test_stream_registry():
    assert STREAMS.names() == ["labelled", "paired_synthetic", "unpaired"]
    assert STREAMS.get("unpaired") is UnpairedData
    with pytest.raises(ValueError, match="Known dataset kinds: labelled, paired_synthetic, unpaired"):
        STREAMS.get("paired")


def _batches(stream, start, count):
    out = []
    for images, labels in stream.dataset(start).take(count):
        out.append((images.numpy(), labels.numpy()))
    return out


def test_labelled_stream_balanced_deterministic_and_resumable(per_domain_root):
    data = DataConfig(root=str(per_domain_root), **SMALL)
    stream = make_stream("labelled", data, global_batch=3, seed=5)
    assert stream.epoch_size == 3 * 5 and stream.steps_per_epoch == 5
    run = _batches(stream, 0, 12)  # more than two epochs
    for images, labels in run:
        assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32
        assert -1.0 <= images.min() and images.max() <= 1.0
        assert sorted(labels.tolist()) == [0, 1, 2]  # every batch holds each domain once
    again = _batches(LabelledData(data, global_batch=3, seed=5), 0, 12)
    resumed = _batches(LabelledData(data, global_batch=3, seed=5), 7, 5)
    for (x1, y1), (x2, y2) in zip(run, again):
        np.testing.assert_array_equal(x1, x2) and np.testing.assert_array_equal(y1, y2)
    for (x1, y1), (x2, y2) in zip(run[7:], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    other_seed = _batches(LabelledData(data, global_batch=3, seed=6), 0, 1)
    assert not np.array_equal(other_seed[0][0], run[0][0])


def test_labelled_epoch_visits_every_image_of_the_largest_domain(per_domain_root):
    """Within one epoch each domain's order is a permutation (smaller ones repeat)."""
    stream = LabelledData(DataConfig(root=str(per_domain_root), **SMALL), global_batch=1, seed=0)
    domain, index, _ = zip(*[(int(d), int(i), int(s)) for d, i, s in stream._indices(0).take(stream.epoch_size)])
    for d, size in enumerate(len(f) for f in stream.folders):
        seen = [i for dd, i in zip(domain, index) if dd == d]
        assert len(seen) == 5 and set(seen) == set(range(size))
