"""Cascaded deep-feature translation: tiny shapes, VGG with random weights (the export
test uses the offline lpips VGG16: int8 parity is a property of real weights)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT, copy_emoji

CONFIG = ROOT / "keras_i2i" / "configs" / "cascaded" / "quickstart.yaml"
TINY = dict(vgg_weights="none", levels=(3, 2), steps_per_level=(2,), width=8, n_blocks=1, ndf=4, n_layers_d=1,
            inverter_width=8, decoder_width=8, stats_images=4)


def tiny_model(**extra):
    import keras

    from keras_i2i.models.cascaded import Cascaded, CascadedConfig

    keras.utils.set_random_seed(0)
    return Cascaded(CascadedConfig(**{**TINY, **extra}), image_size=32)


def images(seed, n=2, size=32):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype("float32"))


def tiny_overrides(root, **extra):
    values = {
        "data.dataset": "null", "data.root": str(root), "data.load_size": 36, "data.crop_size": 32,
        "model.vgg_weights": "none", "model.levels": "[3,2]", "model.steps_per_level": "[2]", "model.width": 8,
        "model.n_blocks": 1, "model.ndf": 4, "model.n_layers_d": 1, "model.inverter_width": 8,
        "model.decoder_width": 8, "model.stats_images": 4, "train.batch_size": 2, "train.max_steps": 3,
        "train.checkpoint_every": 1, "train.keep_checkpoints": 5, "train.log_every": 1, "train.num_samples": 2,
        "train.translate_test": "false", "train.strategy": "default",
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def test_standardization_round_trips_and_clamp_is_a_relu_in_feature_space():
    from keras_i2i.models.cascaded import FeatureStandardization

    layer = FeatureStandardization(4)
    layer.build((None, None, None, 4))
    layer.mean.assign([0.5, 1.0, 2.0, 0.0])
    layer.std.assign([2.0, 0.5, 1.0, 3.0])
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32") * 3
    z = layer(x)
    np.testing.assert_allclose(z, (x - [0.5, 1.0, 2.0, 0.0]) / [2.0, 0.5, 1.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(layer(z, mode="destandardize"), x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(z, mode="clamp"), layer(np.maximum(x, 0)), rtol=1e-5, atol=1e-6)
    restored = FeatureStandardization.from_config(layer.get_config())
    assert restored.channels == 4


def test_prepare_measures_each_domain_and_level():
    model = tiny_model(stats_images=3)
    a, b = images(1, 4), images(2, 4) * 0.5
    model.prepare(tf.data.Dataset.from_tensor_slices((a, b)).batch(2))  # 3 of the 4 images: 2 + 1
    for d, x in (("a", a[:3]), ("b", b[:3])):
        raw = model.vgg(x)
        for l in (3, 2):
            f = np.asarray(raw[f"relu{l}_1"], np.float64).reshape(-1, raw[f"relu{l}_1"].shape[-1])
            stats = model.stats(d, l)
            np.testing.assert_allclose(stats.mean, f.mean(0), rtol=1e-4, atol=1e-6)
            live = f.std(0) > 1e-2
            np.testing.assert_allclose(np.asarray(stats.std)[live], f.std(0)[live], rtol=1e-3)
            z = np.asarray(model.features(x, d)[l]).reshape(f.shape)  # standardized: mean 0, std 1
            np.testing.assert_allclose(z.mean(0)[live], 0, atol=1e-3)
            np.testing.assert_allclose(z.std(0)[live], 1, atol=1e-2)
    assert not np.allclose(model.stats_a_l3.mean, model.stats_b_l3.mean)


def test_losses_on_hand_made_inputs():
    # Translators that are exactly the identity (output convolutions zero: the residual
    # passes the source through) and one set of statistics for both domains: the cycle
    # and deep-consistency losses are 0, the adversarial loss is LSGAN's of the logits.
    model = tiny_model()
    for net in ("gen_a2b_l3", "gen_b2a_l3", "gen_a2b_l2", "gen_b2a_l2"):
        out = getattr(model, net).get_layer("out")
        out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    x = images(3)
    real = {"a": model.features(x, "a"), "b": model.features(x, "b")}
    for level in (3, 2):
        losses = model.level_losses(level, real, training=False)
        for name in ("loss_cycle_a", "loss_cycle_b", "loss_deep_a2b", "loss_deep_b2a", "loss_idt_a"):
            assert float(losses[name]) == pytest.approx(0.0, abs=1e-6), (level, name)
        logits = np.asarray(model.net("disc", "b", f"l{level}")(real["a"][level]))
        assert float(losses["loss_gan_a2b"]) == pytest.approx(np.mean((logits - 1) ** 2), rel=1e-5)
        disc = model.discriminator_losses(level, real, losses["fakes"], training=False)
        d_real = np.asarray(model.net("disc", "a", f"l{level}")(real["a"][level]))
        want = 0.5 * (np.mean((d_real - 1) ** 2) + np.mean(d_real ** 2))  # the fake is the real here
        assert float(disc["loss_d_a"]) == pytest.approx(want, rel=1e-5)
    # The deep-consistency map is the VGG itself on real features; a perturbation shows.
    z2 = real["a"][2]
    np.testing.assert_allclose(model.deep_of(z2, "a", 2, 3), real["a"][3], atol=1e-5)
    assert float(tf.reduce_mean(tf.abs(model.deep_of(z2 + 1.0, "a", 2, 3) - real["a"][3]))) > 0.01
    # Identity with a shifted source: the identity loss sees it (weight lambda_cycle * lambda_identity).
    model2 = tiny_model(lambda_identity=0.5)
    real2 = {"a": model2.features(x, "a"), "b": model2.features(x, "b")}
    same = model2.cascade(real2["b"], "a", "b", 3)
    want = 10 * 0.5 * float(tf.reduce_mean(tf.abs(same[3] - real2["b"][3])))
    assert float(model2.level_losses(3, real2, training=False)["loss_idt_b"]) == pytest.approx(want, rel=1e-5)


def test_inverters_and_decoders_learn_on_real_features():
    model = tiny_model()
    model.compile(learning_rate=2e-3)
    a, b = images(4), images(5)
    model.prepare(tf.data.Dataset.from_tensors((a, b)))
    first = None

    @tf.function
    def step():
        return model.update_aux(a, b, None, None, tf.constant(0))

    for _ in range(25):
        out = step()
        first = first or {k: float(out[k]) for k in model.AUX_NAMES}
    last = {k: float(out[k]) for k in model.AUX_NAMES}
    for name in ("loss_inv_a", "loss_inv_b"):
        assert last[name] < 0.85 * first[name], (name, first[name], last[name])
    for name in ("loss_dec_a", "loss_dec_b"):
        assert last[name] < first[name], (name, first[name], last[name])


def _values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


def _gen(values, level, changed_from, player="gen"):
    # The checkpoint names each variable by its shortest path: the weights of level l's
    # translators are optimizer_gen{l}/_trainable_variables/*.
    keys = [k for k in values if k.startswith(f"optimizer_{player}{level}/_trainable_variables/")]
    assert keys
    return any(not np.array_equal(values[k], changed_from[k]) for k in keys)


@pytest.mark.slow
def test_one_step_per_level_and_resume_across_the_level_boundary_is_exact(emoji_root, tmp_path):
    from keras_i2i.config import load_config
    from keras_i2i.training.trainer import train

    overrides = tiny_overrides(emoji_root, **{"train.deterministic": "true", "model.steps_per_level": "[1]",
                                              "model.levels": "[3,2,1]", "train.max_steps": 3})
    ref = tmp_path / "reference"
    train(load_config(str(CONFIG), overrides=overrides), ref, verbose=0)
    logs = [json.loads(line) for line in (ref / "metrics.jsonl").read_text().splitlines()]
    assert [r["level"] for r in logs if r["kind"] == "step"] == [3.0, 2.0, 1.0]
    ckpts = {int(p.stem.split("-")[1]): str(p.with_suffix("")) for p in (ref / "checkpoints").glob("ckpt-*.index")}
    assert sorted(ckpts) == [1, 2, 3]
    step1, step2, step3 = _values(ckpts[1]), _values(ckpts[2]), _values(ckpts[3])
    assert _gen(step2, 2, step1) and not _gen(step2, 3, step1)  # step 2 trains level 2 only
    assert _gen(step3, 1, step2) and not _gen(step3, 2, step2) and not _gen(step3, 3, step2)
    # The inverters into level 2 stop with it; those into level 1 train on.
    assert _gen(step2, 2, step1, "inv") and not _gen(step3, 2, step2, "inv") and _gen(step3, 1, step2, "inv")
    assert any(k for k in step1 if "stats_a_l3" in k)  # the statistics are checkpointed

    # The run as it stood at step 1 (level 3), resumed across the boundaries to step 3
    # (levels 2 and 1, from the checkpointed step): bit-identical to the uninterrupted run.
    cut = tmp_path / "cut"
    shutil.copytree(ref, cut)
    for path in [*(cut / "checkpoints").glob("ckpt-2.*"), *(cut / "checkpoints").glob("ckpt-3.*")]:
        path.unlink()
    train(load_config(str(cut / "config.yaml")), cut, resume=True, verbose=0)
    resumed = _values(str(cut / "checkpoints" / "ckpt-3"))
    assert resumed.keys() == step3.keys()
    for name in step3:
        np.testing.assert_array_equal(resumed[name], step3[name], err_msg=name)


@pytest.mark.slow
def test_exported_translator_passes_parity(tmp_path):
    # The offline lpips VGG16 (relu3_1 at 32 px is cheap): with random VGG weights TFLite
    # int8 parity is about 22 dB; with the real weights about 40 dB (the floor is 28).
    from keras_i2i.config import load_config
    from keras_i2i.export import export_run
    from keras_i2i.training.trainer import train

    root = tmp_path / "data"
    for d in "AB":
        copy_emoji(root / f"train{d}", d, 16)
        copy_emoji(root / f"test{d}", d, 4, split="test")
    run = tmp_path / "run"
    train(load_config(str(CONFIG), overrides=tiny_overrides(root, **{"model.vgg_weights": "lpips",
                                                                     "train.max_steps": 2})), run, verbose=0)
    report = export_run(run, formats=["tflite", "onnx"], modes=["fp32", "int8"], directions="a2b",
                        out=tmp_path / "export", onnx_quantize=True)
    for name in ("a2b.fp32.tflite", "a2b.int8.tflite", "a2b.onnx", "a2b.int8.onnx"):
        result = report.result(name)
        assert result["status"] == "ok", (name, result.get("reason"))
        assert result["parity"]["psnr_db"] >= result["min_psnr_db"]
    assert report.ok
    # translate --refine-steps on the same run: the refined translation is written.
    from click.testing import CliRunner

    from keras_i2i.cli import main

    result = CliRunner().invoke(main, ["translate", "--run", str(run), "--input", str(root / "testA"),
                                       "--output", str(tmp_path / "refined"), "--refine-steps", "2"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "refined").glob("*.png"))) == 4


def test_refiner_moves_the_image_toward_the_translated_features():
    model = tiny_model()
    x = images(6)
    model.prepare(tf.data.Dataset.from_tensors((x, images(7))))
    target = model.cascade(model.features(x, "a"), "a", "b", 2)

    def distance(y):
        feats = model.features(y, "b")
        return sum(float(tf.reduce_mean(tf.abs(feats[l] - target[l]))) for l in (3, 2))

    start = model.refiner("a2b", 0)(x)
    np.testing.assert_allclose(start, model.translators()["a2b"](x), atol=1e-6)
    refined = model.refiner("a2b", 20)(x)
    assert np.all(np.abs(refined) <= 1.0)
    assert distance(refined) < 0.9 * distance(start)
    with pytest.raises(ValueError, match="Unknown direction"):
        model.refiner("b2c", 1)


def test_refine_steps_on_a_model_without_refinement_is_a_clear_error(trained_run, tmp_path):
    from click.testing import CliRunner

    from keras_i2i.cli import main

    source = next((trained_run.parent / "data" / "testA").glob("*.png"))
    result = CliRunner().invoke(main, ["translate", "--run", str(trained_run), "--input", str(source),
                                       "--output", str(tmp_path / "out"), "--refine-steps", "2"])
    assert result.exit_code != 0 and "Error: --refine-steps: model cyclegan" in result.output
    assert not (tmp_path / "out").exists()
