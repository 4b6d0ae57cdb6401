"""BigGAN (issue 16, part 1): its layers on hand-made inputs, one train step, an exact
resume, seeded sampling and the refusals of a model without translators."""

from __future__ import annotations

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.config import load_config
from keras_i2i.layers.attention import SelfAttention
from keras_i2i.layers.batch_norm import ConditionalBatchNorm, StoredBatchNorm
from keras_i2i.layers.spectral_norm import SNConv2D, SNDense, SNEmbedding
from keras_i2i.losses import hinge_loss
from keras_i2i.networks.biggan import BigGANDiscriminator
from keras_i2i.training.trainer import Trainer
from tests.conftest import ROOT

EMOJI4 = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
DOMAINS = ("fluent3d", "fluentflat", "noto", "twemoji")


def test_spectral_norm_power_iteration_by_hand():
    """W = diag(3, 1) with u = (1, 1): one step gives v = (3, 1)/sqrt(10), u' = (9, 1)/sqrt(82),
    sigma = v W^T u'^T = 82/sqrt(820); training stores u' and sigma, inference does not."""
    layer = SNDense(2, use_bias=False)
    layer.build((None, 2))
    layer.kernel.assign(np.diag([3.0, 1.0]).astype("float32"))  # W^T = W
    layer.u.assign([[1.0, 1.0]])
    sigma = 82 / np.sqrt(820)
    x = np.array([[1.0, 1.0]], "float32")
    np.testing.assert_allclose(layer(x, training=False), [[3 / sigma, 1 / sigma]], rtol=1e-6)
    np.testing.assert_allclose(layer.u, [[1.0, 1.0]])  # inference leaves u alone
    layer(x, training=True)
    np.testing.assert_allclose(layer.u, [[9 / np.sqrt(82), 1 / np.sqrt(82)]], rtol=1e-6)
    np.testing.assert_allclose(layer.sv, [sigma], rtol=1e-6)
    for _ in range(30):  # the iteration converges to the largest singular value
        layer(x, training=True)
    np.testing.assert_allclose(layer.sv, [3.0], rtol=1e-5)
    # The gradient flows through sigma (u and v held constant): d/dW of sum(W/sigma x).
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x, training=False))
    assert tape.gradient(y, layer.kernel) is not None


def test_conditional_batch_norm_and_stored_statistics():
    """Training: batch statistics, gain 1 + linear(c), bias linear(c), stored statistics
    moved by 0.1 towards the batch's (unbiased variance); inference: the stored ones."""
    bn = ConditionalBatchNorm(2)
    x = np.arange(16, dtype="float32").reshape(2, 2, 2, 2)
    c = np.ones((2, 3), "float32")
    bn(x, c)
    bn.gain.kernel.assign(np.full((3, 2), 0.5, "float32"))  # SN of a rank-1 matrix: its norm sqrt(6*0.25)
    bn.bias.kernel.assign(np.full((3, 2), -0.25, "float32"))
    out = np.asarray(bn(x, c, training=True))
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    gain = 1 + 3 * 0.5 / np.sqrt(6 * 0.25)
    bias = 3 * -0.25 / np.sqrt(6 * 0.0625)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5) * gain + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.stored_mean, 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(bn.stored_var, 0.9 + 0.1 * var * 8 / 7, rtol=1e-6)
    plain = StoredBatchNorm()
    plain(x)
    np.testing.assert_allclose(plain(x, training=False), x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_self_attention_starts_as_identity_and_attends():
    layer = SelfAttention(8)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    np.testing.assert_array_equal(layer(x), x)  # gamma starts at 0
    layer.gamma.assign(1.0)
    y = np.asarray(layer(x))
    assert y.shape == x.shape and not np.allclose(y, x)


def test_projection_discriminator_output():
    """D(x, c) = linear(h) + <embed(c), h>: two classes differ by <embed(0) - embed(1), h>."""
    d = BigGANDiscriminator(2, 32, ch=2, attention=(), seed=0).build_all()
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    h = np.asarray(keras.ops.sum(keras.ops.relu(d.features(x)[-1]), axis=(1, 2)))
    table = np.asarray(d.embed(np.array([0, 1])))
    out0, out1 = (np.asarray(d(x, np.array([c]))) for c in (0, 1))
    np.testing.assert_allclose(out0 - out1, (h * (table[0] - table[1])).sum(keepdims=True), rtol=1e-4, atol=1e-5)
    assert len(d.features(x)) == 4 and [f.shape[-1] for f in d.features(x)] == [8, 8, 8, 8]


def test_hinge_losses_by_hand():
    logits = np.array([-2.0, 0.5, 3.0], "float32")
    assert float(hinge_loss(logits, True)) == pytest.approx((3 + 0.5 + 0) / 3)
    assert float(hinge_loss(logits, False)) == pytest.approx((0 + 1.5 + 4) / 3)
    assert float(hinge_loss(logits, True, for_discriminator=False)) == pytest.approx(-1.5 / 3)


def test_layers_round_trip_their_config():
    for layer in (SNConv2D(4, 3, padding="same", sn_epsilon=1e-4), SNDense(3), SNEmbedding(3, 4),
                  ConditionalBatchNorm(4), StoredBatchNorm(), SelfAttention(16)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


# ----------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Four emoji domains (4 train images each), BigGAN at 32 px with ch 4 (attention in G;
    D's is covered by the import parity test): 4 steps, 2 D steps per G step, EMA, a
    checkpoint every 2 steps."""
    base = tmp_path_factory.mktemp("biggan")
    root = base / "data"
    for domain in DOMAINS:
        for split, count in (("train", 4), ("test", 1)):
            (root / split / domain).mkdir(parents=True)
            for path in sorted((EMOJI4 / split / domain).glob("*.png"))[:count]:
                shutil.copy(path, root / split / domain / path.name)
    overrides = ["data.dataset=null", f"data.root={root}", "model.g_ch=4", "model.d_ch=4", "model.dim_z=8",
                 "model.shared_dim=4", "model.d_attention=[]", "train.batch_size=4", "train.max_steps=4",
                 "train.checkpoint_every=2",
                 "train.keep_checkpoints=5", "train.log_every=2", "train.num_samples=1", "train.strategy=default",
                 "train.deterministic=true"]
    cfg = load_config("biggan/emoji4_32", overrides=overrides)
    run = base / "run"
    trainer = Trainer(cfg, run, verbose=0)
    assert trainer.run().step == 4
    return cfg, run, trainer.model


def _values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


@pytest.mark.slow
def test_train_step_updates_both_players_and_resume_is_exact(tiny_run, tmp_path):
    cfg, run, model = tiny_run
    first, last = _values(run / "checkpoints" / "ckpt-2"), _values(run / "checkpoints" / "ckpt-4")
    for part in ("generator", "discriminator", "ema"):
        moved = [k for k in first if k.startswith(f"model/{part}" if part != "ema" else "ema/")
                 and "OPTIMIZER" not in k and not np.array_equal(first[k], last[k])]
        assert moved, part
    assert model.optimizers()["disc"].iterations.numpy() == 8  # 2 D steps per step
    assert model.optimizers()["gen"].iterations.numpy() == 4
    opt = model.optimizers()["gen"]
    assert (float(opt.beta_1), float(opt.epsilon)) == (0.0, 1e-6)
    # Resume from step 2 and compare every saved value with the uninterrupted run's at step 4.
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    for n in (3, 4):
        for f in (resumed / "checkpoints").glob(f"ckpt-{n}.*"):
            f.unlink()
    (resumed / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    saved = load_config(resumed / "config.yaml")
    assert Trainer(saved, resumed, resume=True, verbose=0).run().step == 4
    again = _values(resumed / "checkpoints" / "ckpt-4")
    assert set(again) == set(last)
    different = [k for k in last if not np.array_equal(last[k], again[k])]
    assert not different, different[:5]


def test_sample_is_seeded_and_refuses_bad_inputs(tiny_run, tmp_path):
    _, run, _ = tiny_run
    runner = CliRunner()

    def sample(*args):
        return runner.invoke(main, ["sample", "--run", str(run), *map(str, args)])

    def pixels(folder):
        return [np.asarray(keras.utils.load_img(f)) for f in sorted(folder.glob("*.png"))]

    ok = sample("--domain", "noto", "--n", 3, "--seed", 5, "--out", tmp_path / "a")
    assert ok.exit_code == 0, ok.output
    files = sorted((tmp_path / "a").glob("*.png"))
    assert [f.name for f in files] == [f"noto_s5_000{i}.png" for i in range(3)]
    first = pixels(tmp_path / "a")
    assert first[0].shape == (32, 32, 3)
    again = sample("--domain", "noto", "--n", 3, "--seed", 5, "--out", tmp_path / "a")  # replaces its own files
    assert again.exit_code == 0, again.output
    assert all(np.array_equal(x, y) for x, y in zip(first, pixels(tmp_path / "a")))  # same seed, same images
    assert sample("--domain", "noto", "--n", 3, "--seed", 6, "--out", tmp_path / "c").exit_code == 0
    assert not np.array_equal(first[0], pixels(tmp_path / "c")[0])

    bad = sample("--domain", "apple", "--out", tmp_path / "d")
    assert bad.exit_code == 1 and "no domain 'apple'" in bad.output and "noto" in bad.output
    assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "noto_s0_0000.png").write_bytes(b"mine")
    foreign = sample("--domain", "noto", "--n", 1, "--out", tmp_path / "e")
    assert foreign.exit_code == 1 and "--force" in foreign.output
    assert (tmp_path / "e" / "noto_s0_0000.png").read_bytes() == b"mine"
    inside = sample("--domain", "noto", "--out", run / "checkpoints")
    assert inside.exit_code == 1 and "Error:" in inside.output


def test_translate_and_export_refuse_a_model_without_translators(tiny_run, tmp_path):
    _, run, _ = tiny_run
    runner = CliRunner()
    for args in (["translate", "--run", run, "--input", EMOJI4 / "test" / "noto", "--output", tmp_path / "t"],
                 ["export", "--run", run, "--out", tmp_path / "e"]):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 1, result.output
        line = result.output.strip().splitlines()[-1]
        assert line.startswith("Error:") and "no translators" in line and "keras-i2i sample" in line
        assert "Traceback" not in result.output


def test_evaluation_during_training_is_refused_when_the_config_loads():
    from keras_i2i.config import ConfigError

    with pytest.raises(ConfigError, match="train.eval_every: model biggan draws images"):
        load_config("biggan/emoji4_32", overrides=["train.eval_every=1"])


def test_generator_adds_per_block_tensors_for_deepi2i():
    from keras_i2i.networks.biggan import BigGANGenerator

    g = BigGANGenerator(2, 32, ch=2, dim_z=8, shared_dim=4, attention=(), seed=0).build_all()
    z, y = np.random.default_rng(0).normal(size=(2, 8)).astype("float32"), np.array([0, 1])
    plain = np.asarray(g(z, y))
    np.testing.assert_array_equal(g(z, y, adds=[None, None, None]), plain)
    assert [c for c in g.block_channels] == [8, 8, 8] and g.block_resolutions == (8, 16, 32)
    added = np.asarray(g(z, y, adds=[None, np.ones((2, 16, 16, 8), "float32"), None]))
    assert not np.allclose(added, plain)


def test_accumulated_step_with_two_discriminator_steps_runs_eagerly():
    """train.accumulate 2 with d_steps 2 (the class embeddings' gradients are dense, so
    micro-batch gradients sum): 2 D updates, 1 G update, finite losses."""
    from keras_i2i.models import build_model

    cfg = load_config("biggan/emoji4_32", overrides=["model.g_ch=2", "model.d_ch=2", "model.dim_z=8",
                                                     "model.shared_dim=4", "model.g_attention=[]",
                                                     "model.d_attention=[]"])
    model = build_model(cfg.model, 32, domains=DOMAINS)
    model.compile(accumulate=2)
    images = np.random.default_rng(0).uniform(-1, 1, size=(8, 32, 32, 3)).astype("float32")
    logs = model.train_step((images, np.array([0, 1, 2, 3] * 2, "int32")))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert (int(model.optimizers()["disc"].iterations), int(model.optimizers()["gen"].iterations)) == (2, 1)
    assert int(model.step) == 1


def test_networks_round_trip_keras_files(tmp_path):
    """Generator and discriminator saved as .keras files load with every weight and state
    (spectral-norm u and sv, batch-norm statistics) and compute the same."""
    from keras_i2i.networks.biggan import BigGANGenerator

    g = BigGANGenerator(2, 32, ch=2, dim_z=8, shared_dim=4, attention=(16,), seed=0).build_all()
    d = BigGANDiscriminator(2, 32, ch=2, attention=(16,), seed=0).build_all()
    z, y = np.random.default_rng(0).normal(size=(2, 8)).astype("float32"), np.array([0, 1])
    x = np.asarray(g(z, y, training=True))  # moves u and the statistics away from their starts
    for net, args in ((g, (z, y)), (d, (x, y))):
        net.save(tmp_path / f"{net.name}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{net.name}.keras")
        np.testing.assert_array_equal(loaded(*args), net(*args))
        assert [w.path for w in loaded.weights] == [w.path for w in net.weights]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_step_keeps_float32_weights_and_statistics(precision):
    """One eager step of BigGAN (attention in G) and of DeepI2I (scratch) under a mixed
    policy: finite losses; every weight, spectral-norm u/sv and batch-norm statistic stays
    float32 and finite; the networks compute in the policy's dtype and the statistics move."""
    from keras_i2i.models import build_model
    from keras_i2i.training.strategy import set_precision

    tiny = ["model.g_ch=4", "model.d_ch=2", "model.dim_z=8", "model.shared_dim=4", "model.d_attention=[]"]
    try:
        policy = set_precision(precision)
        for name, size, extra in (("biggan/emoji4_32", 32, ["model.g_attention=[16]"]),
                                  ("deepi2i/emoji64_scratch", 64, ["model.g_attention=[]", "model.init_from=null"])):
            model = build_model(load_config(name, overrides=[*tiny, *extra]).model, size, domains=DOMAINS)
            model.compile(loss_scale=policy == "mixed_float16")
            before = {v.path: np.asarray(v) for v in model.generator.weights if "stored_" in v.path}
            images = np.random.default_rng(0).uniform(-1, 1, size=(4, size, size, 3)).astype("float32")
            logs = model.train_step((images, np.arange(4, dtype="int32")))
            assert all(np.isfinite(float(v)) for v in logs.values()), (name, logs)
            assert model.generator.blocks[0].conv1.compute_dtype == policy.split("_")[1]
            for v in model.weights:
                assert v.dtype in ("float32", "int64"), (name, v.path, v.dtype)
                assert np.all(np.isfinite(np.asarray(v))), (name, v.path)
            assert any(not np.array_equal(before[v.path], np.asarray(v)) for v in model.generator.weights
                       if v.path in before)
    finally:
        keras.mixed_precision.set_global_policy("float32")
