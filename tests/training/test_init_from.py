"""model.init_from (sub-networks from another run or a weights file, before step 0, never
again on --resume) and model.frozen (no optimizer state, weights bit-identical)."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.config import ConfigError, load_config
from keras_i2i.models import build_model
from keras_i2i.runs import load_run
from keras_i2i.training.init_from import apply_init_from, checkpoint_files, freeze, sha256_of, sub_networks
from keras_i2i.training.trainer import Trainer


def weights_of(network) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in network.weights]


def assert_same(network, expected):
    got = weights_of(network)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def file_sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_from_a_run_a_weights_file_and_a_keras_file(trained_run, tmp_path):
    cfg, source = load_run(trained_run)
    model = build_model(cfg.model, image_size=cfg.data.crop_size, seed=1)
    weights_file = tmp_path / "g.weights.h5"
    source.gen_b2a.save_weights(weights_file)
    keras_file = tmp_path / "d.keras"
    source.disc_b.save(keras_file)

    record = apply_init_from(model, {"gen_a2b": str(trained_run), "disc_a": f"{trained_run}:ckpt-2#disc_a",
                                     "gen_b2a": str(weights_file), "disc_b": str(keras_file)})
    for name in ("gen_a2b", "disc_a", "gen_b2a", "disc_b"):
        assert_same(getattr(model, name), weights_of(getattr(source, name)))
    prefix = str(trained_run / "checkpoints" / "ckpt-2")
    ckpt_sha = sha256_of(checkpoint_files(prefix))
    assert [p.name for p in checkpoint_files(prefix)] == ["ckpt-2.index", "ckpt-2.data-00000-of-00001"]
    assert record == {
        "gen_a2b": {"source": str(trained_run), "checkpoint": prefix, "sha256": ckpt_sha},
        "disc_a": {"source": str(trained_run), "checkpoint": prefix, "sha256": ckpt_sha},
        "gen_b2a": {"source": str(weights_file), "sha256": file_sha256(weights_file)},
        "disc_b": {"source": str(keras_file), "sha256": file_sha256(keras_file)},
    }
    # a source sub-network of another name: the run's disc_b into this model's disc_a
    apply_init_from(model, {"disc_a": f"{trained_run}#disc_b"})
    assert_same(model.disc_a, weights_of(source.disc_b))


def test_init_from_errors_name_the_sub_network_and_both_shapes(trained_run, tmp_path):
    cfg, source = load_run(trained_run)
    wider = build_model(dataclasses.replace(cfg.model, ngf=8), image_size=cfg.data.crop_size)
    weights_file = tmp_path / "g.weights.h5"
    source.gen_a2b.save_weights(weights_file)
    before = weights_of(wider.gen_a2b)
    for spec, where in ((str(trained_run), "there"), (str(weights_file), "in the file")):
        with pytest.raises(ConfigError, match=r"model.init_from.gen_a2b: .* does not fit this model's gen_a2b: "
                                              rf"variable stem_conv/kernel has shape \(7, 7, 3, 4\) {where} "
                                              r"and \(7, 7, 3, 8\) here"):
            apply_init_from(wider, {"gen_a2b": spec})
    assert_same(wider.gen_a2b, before)  # a run that does not fit changes nothing

    listed = "its sub-networks are: disc_a, disc_b, gen_a2b, gen_b2a, pool_a, pool_b"
    with pytest.raises(ConfigError, match=f"cyclegan has no sub-network 'gen_ab'; {listed}"):
        apply_init_from(wider, {"gen_ab": str(trained_run)})
    with pytest.raises(ConfigError, match=f"model.frozen: .* no sub-network 'gen'; {listed}"):
        freeze(wider, ["gen"])
    with pytest.raises(ConfigError, match="model.init_from.gen_a2b: .*nope.weights.h5 does not exist"):
        apply_init_from(wider, {"gen_a2b": str(tmp_path / "nope.weights.h5")})
    with pytest.raises(ConfigError, match="has no checkpoint ckpt-9; it has ckpt-2"):
        apply_init_from(wider, {"gen_a2b": f"{trained_run}:ckpt-9"})
    with pytest.raises(ConfigError, match="has no sub-network 'gen'; its sub-networks are: disc_a"):
        apply_init_from(wider, {"gen_a2b": f"{trained_run}#gen"})
    with pytest.raises(ConfigError, match="is not a run directory"):
        apply_init_from(wider, {"gen_a2b": str(tmp_path)})
    assert set(sub_networks(wider)) == {"disc_a", "disc_b", "gen_a2b", "gen_b2a", "pool_a", "pool_b"}


def adam_slots(optimizer) -> int:
    """Adam's moment variables (the non-scalar ones; the iteration count is a scalar)."""
    return sum(1 for v in optimizer.variables if len(v.shape) > 0)


def checkpoint_values(prefix) -> dict:
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


@pytest.mark.slow
def test_init_from_frozen_and_resume(trained_run, tiny_config, tmp_path):
    """A new run starts gen_a2b from a weights file (frozen) and gen_b2a from the trained
    run: gen_a2b stays bit-identical through training and a resume, no optimizer keeps
    state for it, config.yaml records both sources; the file changed after the first run
    does not reach the resumed run, which follows its own checkpoint and ends exactly
    where an uninterrupted run does."""
    _, source = load_run(trained_run)
    weights_file = tmp_path / "g.weights.h5"
    source.gen_b2a.save_weights(weights_file)  # same architecture: the source's b2a weights into gen_a2b
    file_sha, loaded = file_sha256(weights_file), weights_of(source.gen_b2a)
    original = tmp_path / "original.weights.h5"
    shutil.copy(weights_file, original)
    run_dir = tmp_path / "run"
    settings = {"model.init_from.gen_b2a": str(trained_run), "model.frozen": "gen_a2b", "train.deterministic": "true"}
    cfg = tiny_config(**settings, **{"model.init_from.gen_a2b": str(weights_file), "train.max_steps": 2})
    trainer = Trainer(cfg, run_dir, verbose=0)
    trainer.run()
    model = trainer.model
    assert_same(model.gen_a2b, loaded)
    gen = model.optimizers()["gen"]
    assert adam_slots(gen) == 2 * len(model.gen_b2a.trainable_variables)  # none for gen_a2b
    assert not set(map(id, model.gen_a2b.weights)) & set(map(id, model.variables_for("gen")))
    assert any(not np.array_equal(a, b) for a, b in zip(weights_of(model.gen_b2a), weights_of(source.gen_b2a)))

    saved = load_config(run_dir / "config.yaml")
    prefix = str(trained_run / "checkpoints" / "ckpt-2")
    record = {
        "gen_a2b": {"source": str(weights_file), "sha256": file_sha},
        "gen_b2a": {"source": str(trained_run), "checkpoint": prefix, "sha256": sha256_of(checkpoint_files(prefix))},
    }
    assert saved.model.init_from_record == record
    assert saved.model.frozen == ("gen_a2b",)

    source.gen_a2b.save_weights(weights_file)  # the source changes after the first run
    assert file_sha256(weights_file) != file_sha
    longer = dataclasses.replace(saved, train=dataclasses.replace(saved.train, max_steps=4))
    resumed = Trainer(longer, run_dir, resume=True, verbose=0)
    assert resumed.run().step == 4
    assert_same(resumed.model.gen_a2b, loaded)  # the checkpoint's (frozen) weights, not the file's new ones
    assert load_config(run_dir / "config.yaml").model.init_from_record == record

    reference = tmp_path / "reference"  # the same 4 steps in one go, from the same weights
    Trainer(tiny_config(**settings, **{"model.init_from.gen_a2b": str(original), "train.max_steps": 4}), reference,
            verbose=0).run()
    a, b = checkpoint_values(run_dir / "checkpoints" / "ckpt-4"), checkpoint_values(reference / "checkpoints" / "ckpt-4")
    assert a.keys() == b.keys() and len(a) > 50
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
