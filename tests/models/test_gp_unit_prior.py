"""GP-UNIT stage I (prior distillation, issue 17): each loss on hand-made inputs, the
stop-gradient side of the paired content loss, the masked real stream, one training run
through the CLI on a tiny BigGAN run, translate refusing it, and an exact resume."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from keras_i2i.cli import main
from keras_i2i.config import load_config
from keras_i2i.models.gp_unit_prior import (
    appearance_loss, classification_loss, code_norm, generated_mask, mask_loss, mask_to_grid, paired_content_loss,
    truncated_normal,
)
from keras_i2i.training.trainer import Trainer
from tests.conftest import ROOT

EMOJI4 = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
DOMAINS = ("fluent3d", "fluentflat", "noto", "twemoji")
PRIOR = ["model.g_ch=2", "model.dim_z=10", "model.shared_dim=4", "model.g_attention=[]"]
COMMON = ["data.dataset=null", "data.load_size=32", "data.crop_size=32", "train.batch_size=2", "train.log_every=1",
          "train.num_samples=1", "train.strategy=default", "train.deterministic=true", "train.ema_decay=null"]
TINY = [*PRIOR, "model.content_ch=4", "model.content_down=3", "model.vgg_weights=none", "train.max_steps=3",
        "train.checkpoint_every=1", "train.keep_checkpoints=5"]


def _values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


@pytest.fixture(scope="module")
def prior_runs(tmp_path_factory):
    """A 1-step BigGAN (32 px, ch 2) on 2 emoji of each vendor, and a 3-step stage-I run
    on it through the CLI (a checkpoint every step)."""
    base = tmp_path_factory.mktemp("gp_unit_prior")
    root = base / "data"
    for domain in DOMAINS:
        for split in ("train", "test"):
            (root / split / domain).mkdir(parents=True)
            for path in sorted((EMOJI4 / split / domain).glob("*.png"))[:2]:
                shutil.copy(path, root / split / domain / path.name)
    gan = base / "biggan"
    cfg = load_config("biggan/emoji64", overrides=[*COMMON, f"data.root={root}", *PRIOR, "model.d_ch=2",
                                                   "model.d_attention=[]", "model.d_steps=1", "train.max_steps=1"])
    Trainer(cfg, gan, verbose=0).run()
    run = base / "run"
    args = ["train", "--config", "gp_unit/emoji64_prior", "--run-dir", str(run)]
    for item in [*COMMON, f"data.root={root}", *TINY, f"model.init_from.prior={gan}#generator"]:
        args += ["--set", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return gan, run


# -- losses on hand-made inputs ------------------------------------------------------------


class _TwoTaps:
    """A stand-in feature extractor: the image and its square as two taps."""

    def __call__(self, x):
        return {"a": x, "b": x * x}


def test_losses_on_hand_made_inputs():
    x = np.full((1, 2, 2, 3), 0.5, "float32")
    rec = np.zeros_like(x)
    assert float(appearance_loss(rec, x)) == pytest.approx(0.25)
    # MSE 0.25 + 0.3 * (|0 - 0.5| + |0 - 0.25|)
    assert float(appearance_loss(rec, x, _TwoTaps())) == pytest.approx(0.25 + 0.3 * 0.75)
    assert float(mask_loss(np.array([[1.0, -1.0]]), np.array([[1.0, 1.0]]))) == pytest.approx(1.0)
    assert float(code_norm(np.array([[3.0], [4.0]]))) == pytest.approx(5.0)
    assert float(classification_loss(np.zeros((2, 4), "float32"), np.array([0, 3]))) == pytest.approx(math.log(4))
    assert float(paired_content_loss(np.array([1.0, 2.0]), np.array([0.0, 4.0]))) == pytest.approx(1.5)
    # White is background (-1), black is object (1); 5% below white with threshold 0.1 is half way (0).
    pixels = np.array([[[[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [1.0, 0.9, 1.0]]]], "float32")
    np.testing.assert_allclose(generated_mask(pixels, 0.1)[0, 0, :, 0], [-1.0, 1.0, 0.0], atol=1e-6)
    grid = mask_to_grid(np.array([1.0, -1.0, 1.0, 1.0], "float32").reshape(1, 2, 2, 1), 2)
    assert float(grid[0, 0, 0, 0]) == pytest.approx(0.5)
    z = truncated_normal((4000,), tf.constant([1, 2], tf.int64), 0.5)
    assert float(tf.reduce_max(tf.abs(z))) <= 0.5 and float(tf.math.reduce_std(z)) > 0.2


def test_paired_content_loss_gradient_reaches_one_side_only():
    a = tf.Variable([[0.5, -1.0]])
    b = tf.Variable([[0.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = paired_content_loss(a, b)
    grad_a, grad_b = tape.gradient(loss, [a, b])
    np.testing.assert_allclose(grad_a.numpy(), [[0.5, -0.5]])
    assert grad_b is None or not np.any(grad_b.numpy())


def test_prior_of_another_size_and_class_ids():
    """A 32 px prior with 6 classes feeding a 64 px model of 2 domains (classes 5 and 1):
    the pairs come resized to 64 px, one eager step trains the auto-encoder only."""
    from keras_i2i.models.gp_unit_prior import GPUNITPrior, GPUNITPriorConfig

    cfg = GPUNITPriorConfig(content_ch=4, content_down=3, g_ch=2, dim_z=10, shared_dim=4, g_attention=(),
                            vgg_weights="none", prior_resolution=32, prior_num_classes=6, prior_classes=(5, 1))
    model = GPUNITPrior(cfg, image_size=64, domains=("x", "y"))
    model.compile(2e-4, 0.9, 0.999)
    x_a, x_b, label_a, label_b = model.draw_pairs(3)
    assert tuple(x_a.shape) == (3, 64, 64, 3) and set(np.concatenate([label_a, label_b])) <= {0, 1}
    prior = [v.numpy() for v in model.prior.weights]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    logs = model.train_step((x, np.array([0, 1], "int32"), np.ones((2, 64, 64, 1), "float32")))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(prior, model.prior.weights))
    with pytest.raises(Exception, match="prior_classes"):
        GPUNITPrior(GPUNITPriorConfig(content_ch=4, content_down=3, g_ch=2, dim_z=10, shared_dim=4, g_attention=(),
                                      vgg_weights="none", prior_classes=(0,)), image_size=32, domains=("x", "y"))


# -- data ----------------------------------------------------------------------------------


def test_stream_masks_follow_the_alpha_channel(tmp_path):
    """The mask is the alpha channel, cropped and flipped with its image: where it is
    background the composited image is white, where it is object it is not."""
    from keras_i2i.data.streams import make_stream

    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[5:20, 3:30, 3] = 255  # an opaque red box, transparent elsewhere
    for domain in ("a", "b"):
        (tmp_path / "train" / domain).mkdir(parents=True)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "train" / "a" / "x.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "train" / "b" / "opaque.png")  # no alpha: all object
    cfg = load_config("gp_unit/emoji64_prior", overrides=["data.dataset=null", f"data.root={tmp_path}",
                                                          "data.load_size=40", "data.crop_size=32"])
    stream = make_stream("paired_synthetic", cfg.data, 6, seed=3)
    images, labels, masks = next(iter(stream.dataset(0)))
    assert images.shape == (6, 32, 32, 3) and masks.shape == (6, 32, 32, 1) and labels.dtype == tf.int32
    images, masks = images.numpy(), masks.numpy()[..., 0]
    for image, mask, label in zip(images, masks, labels.numpy()):
        if label == 1:
            assert np.all(mask == 1.0)
            continue
        assert np.all(image[mask == -1.0] == 1.0) and np.all(image[mask == 1.0][:, 1] < 0)
        assert (mask == 1.0).any() and (mask == -1.0).any()


# -- training through the CLI ----------------------------------------------------------------


def test_trains_through_the_cli_on_the_biggan_prior(prior_runs, tmp_path):
    """The CLI run trains 3 steps; its prior is the BigGAN's generator, untouched; the
    content encoder moved; translate and export refuse the run in one line."""
    from keras_i2i.runs import load_run

    gan, run = prior_runs
    _, biggan = load_run(gan)
    cfg, model = load_run(run)
    assert cfg.model.init_from_record["prior"]["sub_network"] == "generator"
    for ours, theirs in zip(model.prior.weights, biggan.generator.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    first, last = _values(run / "checkpoints" / "ckpt-1"), _values(run / "checkpoints" / "ckpt-3")
    encoder = [k for k in first if k.startswith("model/content_encoder/") and "OPTIMIZER" not in k]
    assert encoder and any(not np.array_equal(first[k], last[k]) for k in encoder)
    outs = model.content_encoder(np.zeros((1, 32, 32, 3), "float32"))
    assert [tuple(o.shape) for o in outs][-1] == (1, 4, 4, 1)
    assert (run / "samples").is_dir()
    for args in (["translate", "--run", run, "--input", run / "samples", "--output", tmp_path / "t"],
                 ["export", "--run", run, "--out", tmp_path / "e"]):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 1, result.output
        line = result.output.strip().splitlines()[-1]
        assert line.startswith("Error:") and "no translators" in line and "gp_unit" in line, line
        assert "Traceback" not in result.output


def test_resume_is_exact(prior_runs, tmp_path):
    _, run = prior_runs
    last = _values(run / "checkpoints" / "ckpt-3")
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    for n in (2, 3):
        for f in (resumed / "checkpoints").glob(f"ckpt-{n}.*"):
            f.unlink()
    (resumed / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n')
    saved = load_config(resumed / "config.yaml")
    assert Trainer(saved, resumed, resume=True, verbose=0).run().step == 3
    again = _values(resumed / "checkpoints" / "ckpt-3")
    assert set(again) == set(last)
    different = [k for k in last if not np.array_equal(last[k], again[k])]
    assert not different, different[:5]
