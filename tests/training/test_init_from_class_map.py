"""model.init_from_class_map: a BigGAN's class tables (G's shared embedding, D's projection
embedding) start from a run of another label space, the emoji categories, row by row or
as means; without a map, other class counts stop the run in one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from keras_i2i.config import ConfigError, dump_config, load_config
from keras_i2i.models import build_model
from keras_i2i.runs import load_run
from keras_i2i.training.init_from import apply_init_from
from keras_i2i.training.trainer import Trainer

VENDORS = ("fluent3d", "fluentflat", "noto", "twemoji")
TINY = ["data.load_size=32", "data.crop_size=32", "data.max_images=2", "model.g_ch=2", "model.d_ch=2",
        "model.dim_z=8", "model.shared_dim=4", "model.g_attention=[]", "model.d_attention=[]", "model.d_steps=1",
        "train.batch_size=8", "train.num_samples=1", "train.strategy=default", "train.ema_decay=null",
        "train.max_steps=1", "train.checkpoint_every=1", "train.translate_test=false"]


@pytest.fixture(scope="module")
def category_gan(tmp_path_factory):
    """biggan/emoji64 as configured (emoji4_categories, 8 classes), tiny: 32 px, ch 2, one step."""
    base = tmp_path_factory.mktemp("class_map")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_I2I_DATA", str(base / "cache"))
        cfg = load_config("biggan/emoji64", overrides=TINY)
        Trainer(cfg, base / "gan", verbose=0).run()
    return base / "gan"


def vendor_gan():
    """The same BigGAN with the four vendors of emoji4 as its classes."""
    cfg = load_config("biggan/emoji64", overrides=[*TINY, "data.dataset=emoji4"])
    return build_model(cfg.model, 32, seed=1, domains=VENDORS)


def test_mapped_rows_are_the_source_rows_or_their_mean(category_gan):
    cfg, source = load_run(category_gan)
    categories = source.domains
    assert len(categories) == 8 and "smileys" in categories and "flags" not in categories
    init = {"generator": str(category_gan), "discriminator": str(category_gan)}
    class_map = {"noto": "smileys", "twemoji": ["animals", "food"], "fluent3d": "objects", "fluentflat": ["travel"]}
    model = vendor_gan()
    record = apply_init_from(model, init, class_map=class_map)
    for name, table in (("generator", "shared"), ("discriminator", "embed")):
        want = getattr(getattr(source, name), table).embeddings.numpy()
        got = getattr(getattr(model, name), table).embeddings.numpy()
        row = {c: want[categories.index(c)] for c in categories}
        np.testing.assert_array_equal(got[VENDORS.index("noto")], row["smileys"])
        np.testing.assert_array_equal(got[VENDORS.index("fluentflat")], row["travel"])
        np.testing.assert_allclose(got[VENDORS.index("twemoji")], (row["animals"] + row["food"]) / 2, rtol=1e-6)
        assert record[name]["class_map"] == {t: v if isinstance(v, list) else [v] for t, v in class_map.items()}
    # the projection's spectral norm: u and sv are the mapped table's top singular vector and value
    embed = model.discriminator.embed
    sigma = np.linalg.svd(embed.embeddings.numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(embed.sv.numpy(), [sigma], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embed.u.numpy() @ embed.embeddings.numpy()), sigma, rtol=1e-5)
    # everything else is copied as it is
    for name in ("generator", "discriminator"):
        tables = {id(v) for layer in getattr(model, name).class_tables for v in layer.weights}
        for mine, theirs in zip(getattr(model, name).weights, getattr(source, name).weights):
            if id(mine) not in tables:
                np.testing.assert_array_equal(mine.numpy(), theirs.numpy())

    apply_init_from(model, {"generator": str(category_gan)}, class_map="mean")  # over the named map's rows
    want = source.generator.shared.embeddings.numpy().mean(axis=0)
    for row in model.generator.shared.embeddings.numpy():
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-7)

    # recorded in config.yaml: the record's class map survives a dump and a load
    saved = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from_record=record))
    dump_config(saved, category_gan.parent / "config.yaml")
    assert load_config(category_gan.parent / "config.yaml").model.init_from_record == record


def test_unmapped_or_unknown_classes_are_one_config_error(category_gan):
    init = {"generator": str(category_gan)}
    model = vendor_gan()
    before = model.generator.shared.embeddings.numpy()
    with pytest.raises(ConfigError, match=r"model.init_from.generator: .* has 8 classes \(activities, animals.*\), "
                                          r"this model 4 \(fluent3d, .*\); set model.init_from_class_map to mean"):
        apply_init_from(model, init)
    with pytest.raises(ConfigError, match=r"model.init_from_class_map.noto: flags is not a class of .*"):
        apply_init_from(model, init, class_map={v: "flags" if v == "noto" else "food" for v in VENDORS})
    with pytest.raises(ConfigError, match="model.init_from_class_map: twemoji has no source class"):
        apply_init_from(model, init, class_map={v: "food" for v in VENDORS[:3]})
    with pytest.raises(ConfigError, match="model.init_from_class_map: mars is not a class of this model"):
        apply_init_from(model, init, class_map={"mars": "food", **{v: "food" for v in VENDORS}})
    np.testing.assert_array_equal(model.generator.shared.embeddings.numpy(), before)  # nothing was loaded

    with pytest.raises(ConfigError, match="model.init_from_class_map: expected mean or a mapping"):
        load_config("biggan/emoji64", overrides=["model.init_from_class_map=average"])
    with pytest.raises(ConfigError, match="model.init_from_class_map.noto: expected a source class name"):
        load_config("biggan/emoji64", overrides=[f"model.init_from.generator={category_gan}",
                                                 "model.init_from_class_map.noto=[]"])
