"""GP-UNIT stage II (issue 17): each loss on hand-made inputs, a train step, the frozen
content encoder bit-identical after training, exact resume, the stage chain through the
CLI (content encoder from a stage-I ``.weights.h5``), ``translate --style-image`` and
TFLite/ONNX parity of an exported translator. Everything at 32 px with tiny widths."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.config import ConfigError, load_config
from keras_i2i.models.gp_unit import content_loss, mask_loss, r1_from_gradients, reconstruction_loss, style_loss
from tests.conftest import ROOT

DATA = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
SIZE = 32
TINY = ["model.content_ch=2", "model.content_down=3", "model.ch=2", "model.style_ch=2", "model.style_dim=8",
        "model.style_compress=4", "model.d_ch=2", "model.vgg_weights=none", "model.style_images=3"]


def _values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


def _tiny_model(**extra):
    from keras_i2i.models import build_model

    overrides = [*TINY, "model.init_from=null", "model.frozen=[]", f"data.load_size={SIZE}", f"data.crop_size={SIZE}",
                 *(f"model.{k}={v}" for k, v in extra.items())]
    cfg = load_config("gp_unit/emoji64", overrides=overrides)
    model = build_model(cfg.model, SIZE, domains=("animals", "smileys"))
    model.compile(1e-4, 0.0, 0.99)
    return model


# -- the losses on hand-made inputs ----------------------------------------------------
def test_content_style_and_mask_losses():
    a = np.zeros((2, 4, 4, 1), "float32")
    assert float(content_loss(a + 0.5, a)) == pytest.approx(0.5)
    fake, real = tf.Variable([[1.0, 2.0]]), tf.Variable([[2.0, 4.0]])
    with tf.GradientTape(persistent=True) as tape:
        loss = style_loss(fake, real)
    assert float(loss) == pytest.approx(1.5)
    np.testing.assert_allclose(tape.gradient(loss, fake).numpy(), [[-0.5, -0.5]])
    assert tape.gradient(loss, real) is None  # the real side is held constant
    masks = [np.full((1, 2, 2, 3), 0.25, "float32"), np.array([[[[0.0, 1.0]]]], "float32")]
    assert float(mask_loss(masks)) == pytest.approx(0.25 + 0.5)
    assert float(mask_loss([])) == 0.0


def test_reconstruction_loss_is_l1_plus_the_official_vgg_weights():
    class Taps:  # a hand-made "VGG": two taps, the image and twice it
        def __call__(self, x):
            return {"relu1_1": x, "relu2_1": 2 * x, "relu3_1": x, "relu4_1": x, "relu5_1": x}

    y = np.zeros((1, 2, 2, 3), "float32")
    # L1 0.1; taps |d| = 0.1, 0.2, 0.1, 0.1, 0.1 at 0.3 each
    assert float(reconstruction_loss(y + 0.1, y, Taps())) == pytest.approx(0.1 + 0.3 * 0.6)


def test_r1_and_the_discriminator_losses_on_a_linear_discriminator():
    grads = np.full((2, 2, 2, 3), 0.5, "float32")
    assert float(r1_from_gradients(grads)) == pytest.approx(0.5 * 12 * 0.25)
    model = _tiny_model()

    class Linear(tf.Module):  # D(x) = (c0 * sum x, c1 * sum x): gradient c_label everywhere
        def __call__(self, x, training=False):
            total = tf.reduce_sum(x, axis=[1, 2, 3])
            return tf.stack([2.0 * total, 3.0 * total], axis=-1), None

    object.__setattr__(model, "discriminator", Linear())
    y = np.zeros((2, SIZE, SIZE, 3), "float32")
    out = model.discriminator_losses(tf.zeros_like(y), y, tf.constant([1, 0]))
    # logits all 0: log 2 each side; R1 = 0.5 * mean(3^2, 2^2) * 32*32*3
    assert float(out["loss_d_real"]) == pytest.approx(np.log(2), rel=1e-6)
    assert float(out["loss_d_fake"]) == pytest.approx(np.log(2), rel=1e-6)
    assert float(out["loss_r1"]) == pytest.approx(0.5 * (9 + 4) / 2 * SIZE * SIZE * 3, rel=1e-6)


def test_loss_weights_and_one_train_step():
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    y = np.random.default_rng(1).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    labels = tf.constant([1, 0])
    losses, model = {}, _tiny_model()
    for scale in (1, 2):  # one model, its weights given by the config's lambdas (no training: D's SN vectors stay)
        model.config = dataclasses.replace(model.config, lambda_style=50.0 * scale, lambda_content=scale,
                                           lambda_mask=scale, lambda_rec=scale)
        losses[scale] = {k: float(v) for k, v in model.generator_losses(x, y, y, labels, training=False).items()
                         if k != "fake"}
    model.config = dataclasses.replace(model.config, lambda_style=50.0, lambda_content=1.0, lambda_mask=1.0,
                                       lambda_rec=1.0)
    for name in ("loss_style", "loss_content", "loss_mask", "loss_rec"):
        assert losses[2][name] == pytest.approx(2 * losses[1][name], rel=1e-5), name
    assert losses[1]["loss_g"] == pytest.approx(sum(losses[1][k] for k in ("loss_g_gan", "loss_content", "loss_style",
                                                                          "loss_mask", "loss_rec")), rel=1e-5)
    encoder = [v.numpy() for v in model.content_encoder.weights]
    logs = model.train_step((x, y))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert {p: int(o.iterations) for p, o in model.optimizers().items()} == {"gen": 1, "disc": 1}
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(encoder, model.content_encoder.weights))
    translators = model.translators()
    assert list(translators) == ["animals2smileys", "smileys2animals"]
    assert tuple(translators["animals2smileys"](x[:1]).shape) == (1, SIZE, SIZE, 3)
    with pytest.raises(ConfigError, match="content code under 4 px"):
        load_config("gp_unit/emoji64", overrides=["model.content_down=4", "data.crop_size=32", "data.load_size=32"])


# -- runs through the CLI ------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The two stages through the CLI on two tiny domains (4 emoji each, 32 px): a 1-step
    BigGAN (the prior), a 1-step stage-I run on it, then a 3-step stage-II run with
    ``model.init_from.content_encoder: <stage-I run>`` and the encoder frozen, a checkpoint
    every step (the lpips VGG16, so that a resumed process has the same perceptual loss)."""
    from keras_i2i.training.trainer import Trainer

    base = tmp_path_factory.mktemp("gp_unit")
    root = base / "data"
    for domain, vendor in (("animals", "noto"), ("smileys", "twemoji")):
        for split, count in (("train", 4), ("test", 2)):
            (root / split / domain).mkdir(parents=True)
            for path in sorted((DATA / split / vendor).glob("*.png"))[:count]:
                shutil.copy(path, root / split / domain / path.name)
    common = ["data.dataset=null", "data.domains=null", f"data.root={root}", f"data.load_size={SIZE}",
              f"data.crop_size={SIZE}", "train.batch_size=2", "train.log_every=1", "train.num_samples=1",
              "train.strategy=default", "train.deterministic=true"]
    prior = ["model.g_ch=2", "model.dim_z=10", "model.shared_dim=4", "model.g_attention=[]"]
    gan = base / "biggan"
    Trainer(load_config("biggan/emoji64", overrides=[*common, *prior, "model.d_ch=2", "model.d_attention=[]",
                                                     "model.d_steps=1", "train.max_steps=1"]), gan, verbose=0).run()
    stage1 = base / "stage1"
    for config, run, extra in (
            ("gp_unit/emoji64_prior", stage1, [*prior, "model.content_ch=2", "model.content_down=3",
                                               "model.vgg_weights=none", "train.max_steps=1", "train.ema_decay=null",
                                               f"model.init_from.prior={gan}#generator"]),
            ("gp_unit/emoji64", base / "run", [*TINY, "model.vgg_weights=lpips",
                                               f"model.init_from.content_encoder={stage1}", "train.max_steps=3",
                                               "train.checkpoint_every=1", "train.keep_checkpoints=5"])):
        args = ["train", "--config", config, "--run-dir", str(run)]
        for item in [*common, *extra]:
            args += ["--set", item]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    return stage1, base / "run", root


def test_chain_loads_the_encoder_and_keeps_it_bit_identical(chain):
    """Stage II's content encoder is stage I's, bit for bit, after three steps (its
    spectral-norm vectors too: it never runs in training mode)."""
    from keras_i2i.runs import load_run

    stage1, run, _ = chain
    cfg = load_config(run / "config.yaml")
    assert "content_encoder" in cfg.model.init_from_record and cfg.model.frozen == ("content_encoder",)
    _, first = load_run(stage1)
    _, model = load_run(run)
    assert str(model.restored_from).endswith("ckpt-3")
    assert len(first.content_encoder.weights) == len(model.content_encoder.weights)
    for a, b in zip(first.content_encoder.weights, model.content_encoder.weights):
        assert np.array_equal(a.numpy(), b.numpy()), a.name
    assert (run / "test_results" / "animals2smileys").is_dir()


@pytest.mark.slow
def test_resume_is_exact(chain, tmp_path):
    _, run, _ = chain
    last = _values(run / "checkpoints" / "ckpt-3")
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    for n in (2, 3):
        for f in (resumed / "checkpoints").glob(f"ckpt-{n}.*"):
            f.unlink()
    (resumed / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n')
    result = CliRunner().invoke(main, ["train", "--resume", str(resumed)])
    assert result.exit_code == 0, result.output
    again = _values(resumed / "checkpoints" / "ckpt-3")
    assert set(again) == set(last)
    different = [k for k in last if not np.array_equal(last[k], again[k])]
    assert not different, different[:5]


def test_translate_style_image_and_refusal(chain, trained_run, tmp_path):
    from PIL import Image

    _, run, root = chain
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(sorted((root / "test" / "animals").glob("*.png"))[0], inp / "a.png")
    refs = sorted((root / "train" / "smileys").glob("*.png"))

    def translate(*extra):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(main, ["translate", "--run", str(run), "--input", str(inp), "--output", str(out),
                                           "--direction", "animals2smileys", *extra])
        assert result.exit_code == 0, result.output
        return np.asarray(Image.open(out / "a.png"), "int16")

    mean, one, two = translate(), translate("--style-image", str(refs[0])), translate("--style-image", str(refs[1]))
    assert np.abs(one - two).max() > 0 and np.abs(one - mean).max() > 0
    refused = CliRunner().invoke(main, ["translate", "--run", str(trained_run), "--input", str(inp), "--output",
                                        str(tmp_path / "cyclegan"), "--style-image", str(refs[0])])
    assert refused.exit_code == 1 and refused.output.startswith("Error:"), refused.output
    assert len(refused.output.strip().splitlines()) == 1 and "cyclegan" in refused.output


def test_exported_translator_passes_parity(chain):
    from keras_i2i.export import export_run

    _, run, _ = chain
    report = export_run(run, formats=["tflite", "onnx"], modes="fp32", directions="smileys2animals", parity_count=2,
                        calibration_count=2, force=True)
    assert report.ok, [r.get("reason") for r in report.results]
    assert {r["file"] for r in report.results} == {"smileys2animals.fp32.tflite", "smileys2animals.onnx"}
    meta = json.loads((run / "export" / "model.json").read_text())
    assert "mean_code" in json.dumps(meta)


def test_data_domains_take_one_domain_of_a_bundled_dataset():
    """``data.domains: {noto: emoji4/noto, ...}`` (how configs/gp_unit/emoji64 picks two of
    emoji4_categories' domains); the name stays a name in a run's config.yaml."""
    from keras_i2i.config import Config, DataConfig
    from keras_i2i.data.domains import resolve_domains
    from keras_i2i.data.images import DataError
    from keras_i2i.runs import absolute_data_paths

    data = DataConfig(domains={"noto": "emoji4/noto", "twemoji": "emoji4/twemoji"})
    noto, twemoji = resolve_domains(data)
    assert (noto.train, noto.test) == (DATA / "train" / "noto", DATA / "test" / "noto")
    assert twemoji.train == DATA / "train" / "twemoji"
    cfg = load_config("quickstart")
    cfg = dataclasses.replace(cfg, data=data)
    assert absolute_data_paths(cfg).data.domains == data.domains
    with pytest.raises(DataError, match="no domain 'mars'; its domains are fluent3d"):
        resolve_domains(DataConfig(domains={"a": "emoji4/mars", "b": "emoji4/noto"}))
    assert isinstance(cfg, Config)
