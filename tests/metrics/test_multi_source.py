"""Multi-source directions (DeepI2I's ``to_<target>``, issue 16): the fake set of a
direction is the translation of every source domain's images; FID/KID compare it with the
target's real images, RC/FC use all of it, paired metrics match names in every source, and
the mean row is the paper's mFID/mKID. The identity baseline follows the same rule."""

from __future__ import annotations

import numpy as np
import pytest

from keras_i2i.data.domains import make_domains
from keras_i2i.directions import Direction, directions_by_name, two_way
from keras_i2i.metrics.evaluate import Evaluation, ImageStore, format_table, identity_translator, run_metrics
from tests.conftest import ROOT

EMOJI4 = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
DOMAINS = ("fluent3d", "fluentflat", "noto", "twemoji")


def grid_features(images: np.ndarray) -> np.ndarray:
    """A cheap stand-in for a feature network: each channel's mean over a 4 x 4 grid."""
    n, h, w, c = images.shape
    return images.reshape(n, 4, h // 4, 4, w // 4, c).mean(axis=(2, 4)).reshape(n, -1).astype(np.float64)


@pytest.fixture(scope="module")
def emoji4():
    return make_domains({d: (EMOJI4 / "train" / d, EMOJI4 / "test" / d) for d in DOMAINS})


def to_each(domains) -> dict:
    """DeepI2I's directions: ``to_<target>`` from every other domain."""
    return directions_by_name(Direction(f"to_{t}", tuple(d for d in domains if d != t), t) for t in domains)


def test_a_direction_translates_every_source_domain(emoji4):
    seen = []

    def recording(images):
        seen.append(len(images))
        return images[:, ::-1]  # a stand-in translation (mirrored)

    images = ImageStore(32, max_images=3)
    ev = Evaluation({"to_noto": recording}, emoji4, 32, grid_features, images=images, classifier_images=4,
                    directions=to_each(DOMAINS))
    assert ev.sources("to_noto") == ("fluent3d", "fluentflat", "twemoji") and ev.multi_domain
    assert ev.domains == sorted(DOMAINS)
    expected = np.concatenate([ev.real(d) for d in ("fluent3d", "fluentflat", "twemoji")])
    np.testing.assert_array_equal(ev.fake("to_noto"), expected[:, ::-1])
    assert seen == [9]
    assert len(ev.fake("to_noto", "train")) == 12  # FC's training set: 4 train images of each source
    fake, real = ev.pairs("to_noto")  # the emoji of one code point line up in every vendor's folder
    assert len(fake) == 9 and np.array_equal(real, np.concatenate([ev.real("noto")] * 3))
    described = ev.describe()["directions"]["to_noto"]
    assert described["source_domains"] == ["fluent3d", "fluentflat", "twemoji"] and described["images"] == 9
    assert described["source_domain"] == "fluent3d" and described["reference_images"] == 3


def test_the_mean_is_mfid_and_mkid_and_the_baseline_follows(emoji4):
    images = ImageStore(32, max_images=4)
    options = dict(images=images, classifier_images=4, kid_subset_size=3, directions=to_each(DOMAINS))
    translators = {f"to_{d}": identity_translator for d in DOMAINS}
    ev = Evaluation(translators, emoji4, 32, grid_features, **options)
    rows = run_metrics(ev, ["fid", "kid", "rc", "fc", "psnr"])
    mean = rows["mean"]
    assert mean["mfid"] == mean["fid"] == pytest.approx(np.mean([rows[f"to_{d}"]["fid"] for d in DOMAINS]))
    assert mean["mkid"] == mean["kid"] and mean["fc"] is not None
    for d in DOMAINS:  # RC over 12 images (4 of each of 3 sources); pairs in every source
        assert rows[f"to_{d}"]["rc"] * 12 == pytest.approx(round(rows[f"to_{d}"]["rc"] * 12))
        assert rows[f"to_{d}"]["pairs"] == 12
    table = format_table(rows)
    assert "mean (mFID, mKID)" in table and table.splitlines()[1].startswith("to_fluent3d ")

    # one direction is still a multi-domain mean (over the targets asked for); a two-domain
    # model's mean is not labelled so
    one = run_metrics(Evaluation({"to_noto": identity_translator}, emoji4, 32, grid_features, **options), ["fid"])
    assert one["mean"]["mfid"] == one["to_noto"]["fid"]
    pair = make_domains({"a": (EMOJI4 / "train" / "noto", EMOJI4 / "test" / "noto"),
                         "b": (EMOJI4 / "train" / "twemoji", EMOJI4 / "test" / "twemoji")})
    ev = Evaluation({"a2b": identity_translator, "b2a": identity_translator}, pair, 32, grid_features,
                    images=ImageStore(32, max_images=4), directions=two_way())
    two = run_metrics(ev, ["fid", "psnr"])
    assert not ev.multi_domain and "mfid" not in two["mean"] and two["a2b"]["pairs"] == 4
    assert "mFID" not in format_table(two)


def test_exported_files_refuse_a_z_seed(tmp_path):
    from click.testing import CliRunner

    from keras_i2i.cli import main

    model = tmp_path / "to_noto.fp32.tflite"
    model.write_bytes(b"")  # refused before it is read
    result = CliRunner().invoke(main, ["evaluate", "--model", str(model), "--metrics", "psnr", "--z-seed", "1"])
    assert result.exit_code == 2 and "--z-seed is for --run" in result.output and "Traceback" not in result.output
