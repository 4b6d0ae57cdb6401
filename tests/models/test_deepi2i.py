"""DeepI2I (issue 16, part 2): one train step per mode, the transfer warm-up (G fixed,
then trained), an exact resume across the warm-up boundary, exported ``to_<domain>``
files passing parity, and the webcam resolving ``--direction to_<domain>``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.config import ConfigError, load_config
from keras_i2i.training.trainer import Trainer
from tests.conftest import ROOT

EMOJI4 = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
DOMAINS = ("fluent3d", "fluentflat", "noto", "twemoji")
TINY = ["model.g_ch=2", "model.d_ch=2", "model.dim_z=10", "model.shared_dim=4", "model.g_attention=[]",
        "model.d_attention=[]"]


def _values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


def _weights(run, n=None) -> dict:
    """``{sub-network: [arrays]}`` of a run at checkpoint ``ckpt-n`` (default its newest)."""
    from keras_i2i.runs import load_run

    _, model = load_run(run, None if n is None else str(run / "checkpoints" / f"ckpt-{n}"))
    return {name: [v.numpy() for v in getattr(model, name).weights]
            for name in ("generator", "discriminator", "encoder", "adaptor") if hasattr(model, name)}, model


def _trainable(model, name) -> list:
    net = getattr(model, name)
    ids = {id(v) for v in net.trainable_weights}
    return [i for i, v in enumerate(net.weights) if id(v) in ids]


def _transfer_overrides(root, gan, batch_size=4, max_steps=4, strategy="default") -> list:
    """DeepI2I transferred from the BigGAN run ``gan`` on the images under ``root``:
    warm-up 2, a checkpoint every step."""
    return ["data.dataset=null", f"data.root={root}", f"train.batch_size={batch_size}", "train.log_every=1",
            "train.num_samples=1", f"train.strategy={strategy}", "train.deterministic=true", "train.ema_decay=null",
            *TINY, f"train.max_steps={max_steps}", "train.checkpoint_every=1", "train.keep_checkpoints=5",
            "model.warmup_steps=2", f"model.init_from.encoder={gan}#discriminator", f"model.init_from.generator={gan}",
            f"model.init_from.discriminator={gan}"]


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory):
    """A tiny BigGAN run (64 px, ch 2, 1 step), then DeepI2I transferred from it: 4 steps,
    warm-up 2, a checkpoint every step."""
    base = tmp_path_factory.mktemp("deepi2i")
    root = base / "data"
    for domain in DOMAINS:
        for split, count in (("train", 2), ("test", 2)):
            (root / split / domain).mkdir(parents=True)
            for path in sorted((EMOJI4 / split / domain).glob("*.png"))[:count]:
                shutil.copy(path, root / split / domain / path.name)
    common = ["data.dataset=null", f"data.root={root}", "train.batch_size=4", "train.log_every=1",
              "train.num_samples=1", "train.strategy=default", "train.deterministic=true", "train.ema_decay=null"]
    gan = base / "biggan"
    cfg = load_config("biggan/emoji64", overrides=[*common, *TINY, "model.d_steps=1", "train.max_steps=1",
                                                   "train.checkpoint_every=1"])
    Trainer(cfg, gan, verbose=0).run()
    cfg = load_config("deepi2i/emoji64_transfer", overrides=_transfer_overrides(root, gan))
    run = base / "run"
    assert Trainer(cfg, run, verbose=0).run().step == 4
    return gan, run


def test_one_train_step_per_mode():
    """Eager steps: transfer trains disc and adaptor only before the warm-up ends, scratch
    trains all four players from step 0; the translators are image -> image."""
    from keras_i2i.models import build_model

    x = np.random.default_rng(0).uniform(-1, 1, size=(4, 64, 64, 3)).astype("float32")
    labels = np.arange(4, dtype="int32")
    for mode, iterations in (("transfer", {"disc": 1, "adaptor": 1, "gen": 0}),
                             ("scratch", {"disc": 1, "adaptor": 1, "gen": 1, "encoder": 1})):
        cfg = load_config(f"deepi2i/emoji64_{mode}", overrides=[*TINY, "model.init_from=null"])
        model = build_model(cfg.model, 64, domains=DOMAINS)
        model.compile()
        logs = model.train_step((x, labels))
        assert all(np.isfinite(float(v)) for v in logs.values()), logs
        assert {p: int(o.iterations) for p, o in model.optimizers().items()} == iterations
        assert model.encoder.trainable == (mode == "scratch")
        translators = model.translators()
        assert list(translators) == [f"to_{d}" for d in DOMAINS]
        assert tuple(translators["to_noto"](x[:1]).shape) == (1, 64, 64, 3)
        assert model.directions()["to_noto"].source == ("fluent3d", "fluentflat", "twemoji")
    assert model.add_weights_ == (1.0, 1.0, 1.0, 0.1)
    with pytest.raises(ConfigError, match="data.crop_size: 32"):
        load_config("deepi2i/emoji64_scratch", overrides=["data.crop_size=32", "data.load_size=32"])


def test_transfer_warmup_keeps_generator_then_trains_it(transfer_run):
    """Steps 0 and 1 (warm-up 2): G's weights stay the BigGAN's (its batch-norm statistics
    and spectral-norm vectors move, as in the official code, which runs G in training
    mode); step 2 trains them. The encoder is the BigGAN's discriminator throughout."""
    gan, run = transfer_run
    source, gan_model = _weights(gan)
    ckpt = {n: _weights(run, n) for n in (1, 2, 3)}
    trained = _trainable(gan_model, "generator")
    assert trained
    for n in (1, 2):
        weights = ckpt[n][0]["generator"]
        assert all(np.array_equal(weights[i], source["generator"][i]) for i in trained), n
    assert any(not np.array_equal(ckpt[3][0]["generator"][i], source["generator"][i]) for i in trained)
    assert all(np.array_equal(a, b) for a, b in zip(ckpt[3][0]["encoder"], source["discriminator"]))
    assert any(not np.array_equal(a, b) for a, b in zip(ckpt[1][0]["adaptor"], ckpt[2][0]["adaptor"]))
    assert any(not np.array_equal(a, b) for a, b in zip(ckpt[1][0]["discriminator"], source["discriminator"]))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_resume_is_exact_across_the_warmup_boundary(transfer_run, tmp_path, strategy):
    """Interrupted after step 1 (inside the warm-up of 2) and resumed: every checkpointed
    value equals the uninterrupted run's, bit for bit; under MirroredStrategy too (two
    replicas of 2 images, 3 steps)."""
    gan, run = transfer_run
    steps = 4
    if strategy == "mirrored":
        steps, run = 3, tmp_path / "mirrored"
        cfg = load_config("deepi2i/emoji64_transfer", overrides=_transfer_overrides(
            gan.parent / "data", gan, batch_size=2, max_steps=steps, strategy="mirrored"))
        trainer = Trainer(cfg, run, verbose=0)
        assert trainer.strategy.num_replicas_in_sync == 2
        assert trainer.run().step == steps
        assert int(trainer.model.optimizers()["gen"].iterations.numpy()) == 1  # G joined at step 2
    last = _values(run / "checkpoints" / f"ckpt-{steps}")
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    for n in range(2, steps + 1):
        for f in (resumed / "checkpoints").glob(f"ckpt-{n}.*"):
            f.unlink()
    (resumed / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n')
    saved = load_config(resumed / "config.yaml")
    assert Trainer(saved, resumed, resume=True, verbose=0).run().step == steps
    again = _values(resumed / "checkpoints" / f"ckpt-{steps}")
    assert set(again) == set(last)
    different = [k for k in last if not np.array_equal(last[k], again[k])]
    assert not different, different[:5]


def test_accumulated_step_equals_the_whole_batch():
    """train.accumulate 2 on 2 + 2 images equals one pass over the 4 (scratch: every player).
    The batch is two copies of 2 images with the same draws, so each micro-batch's batch-norm
    statistics are the whole batch's, and every spectral norm starts at its fixed point (u the
    top singular vector), so the second micro-batch's extra power-iteration step changes
    nothing measurable."""
    from keras_i2i.layers.spectral_norm import SNConv2D, SNDense, SNEmbedding
    from keras_i2i.models import build_model

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2, 64, 64, 3)).astype("float32")
    images, labels = np.concatenate([x, x]), np.array([0, 1, 0, 1], "int32")
    target = tf.constant([2, 3], tf.int32)
    weights = {}
    for k in (1, 2):
        cfg = load_config("deepi2i/emoji64_scratch", overrides=[*TINY, "model.init_from=null"])
        model = build_model(cfg.model, 64, domains=DOMAINS)
        model.compile(accumulate=k)
        for net in (model.generator, model.discriminator, model.encoder, model.adaptor):
            for layer in net._flatten_layers():
                if isinstance(layer, SNConv2D):
                    w_t = np.reshape(np.asarray(layer.kernel), (-1, layer.filters))
                elif isinstance(layer, SNDense):
                    w_t = np.asarray(layer.kernel)
                elif isinstance(layer, SNEmbedding):
                    w_t = np.asarray(layer.embeddings).T
                else:
                    continue
                layer.u.assign(np.linalg.svd(w_t.astype("float64"))[2][:1].astype("float32"))
        z = tf.constant(rng.standard_normal((2, model.generator.dim_z)).astype("float32")) if k == 1 else z
        model._draw = lambda n: (tf.tile(z, [n // 2, 1]), tf.tile(target, [n // 2]))
        logs = model.train_step((images, labels))
        assert all(np.isfinite(float(v)) for v in logs.values()), logs
        assert {p: int(o.iterations) for p, o in model.optimizers().items()} == {p: 1 for p in model.players}
        weights[k] = {p: ([np.asarray(v) for v in model.variables_for(p)],
                          [np.asarray(m) for m in model.optimizers()[p]._momentums])  # (1 - beta1) * gradient
                      for p in model.players}
    assert set(weights[1]) == {"disc", "adaptor", "gen", "encoder"}
    compared = 0
    for player, (whole, moments) in weights[1].items():
        split, split_moments = weights[2][player]
        scale = max(np.abs(m).max() for m in moments)
        for a, b, m, n in zip(whole, split, moments, split_moments):
            # the summed micro-batch gradients are the whole batch's, to the player's gradient scale
            np.testing.assert_allclose(m, n, rtol=1e-3, atol=1e-4 * scale, err_msg=player)
            # The weights, where the gradient is not ~0: Adam's first step moves a weight by
            # lr g / (|g| + eps), which turns the rounding noise of a zero gradient (biases right
            # before G's batch norms) or a tiny one into different steps.
            clear = np.abs(m) > 1e-3 * scale
            np.testing.assert_allclose(a[clear], b[clear], rtol=1e-5, atol=1e-6, err_msg=player)
            compared += int(clear.sum())
    assert compared > 1000


def test_exported_target_passes_parity_and_runs_on_the_webcam(transfer_run, tmp_path):
    from keras_i2i.export import export_run
    from tests.apps.conftest import synthetic_frames, write_video

    _, run = transfer_run
    sources = ["fluent3d", "fluentflat", "twemoji"]
    for source in sources:  # the end-of-training test_results translate every source, one subfolder each
        assert len(list((run / "test_results" / "to_noto" / source).glob("*.png"))) == 2
    report = export_run(run, formats=["tflite", "onnx"], modes="fp32", directions="to_noto", parity_count=3,
                        calibration_count=2, force=True)
    assert report.ok, [r.get("reason") for r in report.results]
    assert {r["file"] for r in report.results} == {"to_noto.fp32.tflite", "to_noto.onnx"}
    for result in report.results:
        assert result["target_domain"] == "noto" and result["source_domain"] == "fluent3d"
        assert result["sources"] == sources  # parity on one held-out image of every source domain
        assert {d: v["images"] for d, v in result["parity"]["domains"].items()} == dict.fromkeys(sources, 1)
        assert result["parity"]["images"] == 3
    video = write_video(tmp_path / "in.avi", synthetic_frames())
    result = CliRunner().invoke(main, ["webcam", "--model", str(run), "--direction", "to_noto", "--backend", "onnx",
                                       "--video", str(video), "--headless", "--output", str(tmp_path / "o.avi"),
                                       "--fourcc", "FFV1"])
    assert result.exit_code == 0, result.output
    wrong = CliRunner().invoke(main, ["webcam", "--model", str(run), "--direction", "to_mars", "--video", str(video),
                                      "--headless"])
    assert wrong.exit_code == 1 and "to_noto" in wrong.output


def test_translate_z_seed_overrides_the_fixed_latent(transfer_run, trained_run, tmp_path):
    from PIL import Image

    from keras_i2i.runs import load_run
    from keras_i2i.translate import translate_files

    _, run = transfer_run
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(sorted((EMOJI4 / "test" / "fluent3d").glob("*.png"))[0], inp / "a.png")

    def translate(*extra):
        out = tmp_path / f"out{''.join(extra) or '_none'}"
        result = CliRunner().invoke(main, ["translate", "--run", str(run), "--input", str(inp), "--output", str(out),
                                           "--direction", "to_noto", *extra])
        assert result.exit_code == 0, result.output
        return np.asarray(Image.open(out / "a.png"), "int16")

    one, two, default = translate("--z-seed", "1"), translate("--z-seed", "2"), translate()
    assert np.abs(one - two).max() > 0 and np.abs(one - default).max() > 0
    cfg, model = load_run(run)  # the run's config has no z_seed: the latent is zeros
    assert model.config.z_seed is None and not model.fixed_z().any()
    translate_files(model.translators()["to_noto"], [inp / "a.png"], tmp_path / "zeros", cfg.data.crop_size, base=inp)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "zeros" / "a.png"), "int16"), default)

    refused = CliRunner().invoke(main, ["translate", "--run", str(trained_run), "--input", str(inp), "--output",
                                        str(tmp_path / "cyclegan"), "--z-seed", "1"])
    assert refused.exit_code == 1 and refused.output.startswith("Error:"), refused.output
    assert len(refused.output.strip().splitlines()) == 1 and "cyclegan" in refused.output


def test_evaluate_translates_every_source_and_reports_mfid_with_a_z_seed(transfer_run, trained_run, tmp_path):
    """``evaluate --z-seed N`` on a DeepI2I run: every to_<target> translates the test
    images of the three other domains; the mean row is mFID/mKID (the identity baseline's
    too); the seed is in the report, in its file name and in metrics.jsonl; other models
    and exported files refuse --z-seed in one line."""
    import json

    _, run = transfer_run
    small = ["--inception-weights", "none", "--feature-size", "75", "--classifier-images", "2", "--kid-subset-size",
             "2"]
    result = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--metrics", "fid,kid,rc,fc,psnr",
                                       "--z-seed", "3", *small])
    assert result.exit_code == 0, result.output
    assert "mean (mFID, mKID)" in result.output and "identity mean (mFID, mKID)" in result.output
    path = run / "eval" / "test_keras_z3_step4.json"
    report = json.loads(path.read_text())
    assert report["source"]["z_seed"] == 3 and "mFID" in report["protocol"]["mean"]
    to_noto = report["protocol"]["directions"]["to_noto"]
    assert to_noto["source_domains"] == ["fluent3d", "fluentflat", "twemoji"] and to_noto["images"] == 6
    assert to_noto["reference_images"] == 2
    results, baseline = report["results"], report["baseline"]["results"]
    assert set(results) == {*(f"to_{d}" for d in DOMAINS), "mean"}
    assert results["mean"]["mfid"] == results["mean"]["fid"] and results["mean"]["mkid"] == results["mean"]["kid"]
    assert baseline["mean"]["mfid"] == baseline["mean"]["fid"] and results["to_noto"]["pairs"] == 6
    assert results["mean"]["fc"] is not None and 0 <= results["to_noto"]["rc"] <= 1
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["z_seed"] == 3 and line["mean/mfid"] == pytest.approx(results["mean"]["fid"])

    out = tmp_path / "zeros.json"
    done = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--direction", "to_noto", "--metrics", "psnr",
                                     "--no-baseline", "--json", str(out)])
    assert done.exit_code == 0, done.output
    default = json.loads(out.read_text())  # the run's own latent: zeros
    assert default["source"]["z_seed"] is None and "mFID" in default["protocol"]["mean"]
    assert default["results"]["to_noto"]["psnr"] != results["to_noto"]["psnr"]

    refused = CliRunner().invoke(main, ["evaluate", "--run", str(trained_run), "--metrics", "psnr", "--z-seed", "1"])
    assert refused.exit_code == 1 and refused.output.startswith("Error:"), refused.output
    assert len(refused.output.strip().splitlines()) == 1 and "cyclegan" in refused.output
