"""Distillation: a mobile student of the tiny trained CycleGAN run (``trained_run``)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_i2i.config import ConfigError, load_config
from keras_i2i.macs import count_macs
from keras_i2i.networks.mobile_resnet import mobile_resnet_generator, mobile_resnet_macs, with_block_outputs

TINY = ["model.ngf=4", "model.n_blocks=2", "model.feature_taps=2", "train.batch_size=2", "train.max_steps=4",
        "train.checkpoint_every=2", "train.log_every=2", "train.num_samples=2", "train.translate_test=false",
        "train.strategy=default", "train.lr_policy=constant"]


def _config(teacher, *extra):
    from keras_i2i.training.distill import distill_config

    return distill_config(teacher, "distill/emoji64", overrides=[*TINY, *extra])


def _weights(network):
    return [v.numpy().copy() for v in network.weights]


def _test_images(run_dir, count=4):
    from keras_i2i.data.images import read_image, resize

    files = sorted((run_dir.parent / "data" / "testA").glob("*.png"))[:count]
    return np.stack([resize(read_image(f), 32, 32) for f in files]).astype("float32") / 127.5 - 1.0


@pytest.fixture(scope="module")
def distilled(trained_run, tmp_path_factory):
    """A 4-step student of ``trained_run`` (a2b) and the trained model."""
    from keras_i2i.training.trainer import Trainer

    run_dir = tmp_path_factory.mktemp("distill") / "student"
    trainer = Trainer(_config(trained_run), run_dir, verbose=0)
    trainer.run()
    return run_dir, trainer.model


@pytest.mark.parametrize("ngf,n_blocks,side", [(16, 9, 256), (4, 2, 32)])
def test_student_has_the_configured_macs(ngf, n_blocks, side):
    student = mobile_resnet_generator(ngf=ngf, n_blocks=n_blocks)
    assert count_macs(student, side) == mobile_resnet_macs(ngf, n_blocks, side)
    if side == 256:  # the resnet9_256 student: 1.41 GMAC, 1/40 of the ResNet-9 teacher (56.8)
        assert count_macs(student, side) == 1_407_713_280
        assert 56_799_264_768 / count_macs(student, side) > 20
    ops = {layer.__class__.__name__ for layer in student.layers}
    assert "DepthwiseConv2D" in ops and not ops & {"GroupNormalization", "Conv3D"}


def test_block_outputs_share_the_generator_weights():
    student = mobile_resnet_generator(ngf=4, n_blocks=3)
    view = with_block_outputs(student, [0, 2])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
    out, first, last = view(x)
    np.testing.assert_array_equal(out.numpy(), student(x).numpy())
    assert first.shape == last.shape == (1, 4, 4, 16)
    assert {id(v) for v in view.weights} == {id(v) for v in student.weights}


def test_distill_run_records_the_teacher_and_keeps_it_bit_identical(distilled, trained_run):
    from keras_i2i.runs import load_run
    from keras_i2i.training.init_from import checkpoint_files, sha256_of

    run_dir, model = distilled
    _, teacher_run = load_run(trained_run)
    teacher = teacher_run.translators()["a2b"]
    for mine, theirs in zip(_weights(model.teacher), _weights(teacher), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # after 4 training steps
    assert not model.teacher.trainable and model.feature_distillation and len(model.adapters) == 2
    cfg = load_config(run_dir / "config.yaml")
    record = cfg.model.init_from_record["teacher"]
    assert record["source"] == str(trained_run) and record["sub_network"] == "a2b"
    assert record["sha256"] == sha256_of(checkpoint_files(teacher_run.restored_from))
    assert cfg.model.init_from_record["disc"]["sub_network"] == "disc_b"
    _, reloaded = load_run(run_dir)  # the run's own checkpoint holds the teacher too
    for mine, theirs in zip(_weights(reloaded.teacher), _weights(teacher), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert list(reloaded.translators()) == ["a2b"] and reloaded.translators()["a2b"].name == "student"


def test_l1_to_the_teacher_falls(trained_run, tmp_path):
    import keras

    from keras_i2i.losses import l1_loss
    from keras_i2i.models import build_model
    from keras_i2i.training.init_from import apply_init_from
    from keras_i2i.training.trainer import Trainer

    cfg = _config(trained_run, "train.max_steps=16", "train.lr=0.002", "train.checkpoint_every=16")
    x = _test_images(trained_run)
    keras.utils.set_random_seed(cfg.train.seed)  # the student the trainer starts from
    before = build_model(cfg.model, image_size=32, seed=cfg.train.seed, domains=cfg.data.domain_names)
    apply_init_from(before, cfg.model.init_from)
    trainer = Trainer(cfg, tmp_path / "run", verbose=0)
    trainer.run()
    after = trainer.model
    np.testing.assert_array_equal(before.teacher(x).numpy(), after.teacher(x).numpy())
    l1_before = float(l1_loss(before.student(x), before.teacher(x)))
    l1_after = float(l1_loss(after.student(x), after.teacher(x)))
    assert l1_after < 0.85 * l1_before, (l1_before, l1_after)  # 0.198 -> 0.148 when written


def _metrics(run_dir):
    import json

    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_resume_is_exact(distilled, trained_run, tmp_path):
    from keras_i2i.training.trainer import Trainer

    straight_dir, straight = distilled
    half = tmp_path / "half"
    Trainer(_config(trained_run, "train.max_steps=2"), half, verbose=0).run()
    cfg = load_config(half / "config.yaml", ["train.max_steps=4"])
    resumed = Trainer(cfg, half, resume=True, verbose=0)
    resumed.run()
    for network in ("student", "disc", "teacher"):
        for a, b in zip(_weights(getattr(straight, network)), _weights(getattr(resumed.model, network)), strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.adapters, resumed.model.adapters, strict=True):
        np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())


def test_exported_student_passes_parity(distilled, tmp_path):
    from keras_i2i.export.pipeline import export_run
    from keras_i2i.macs import file_macs

    run_dir, model = distilled
    report = export_run(run_dir, modes="fp32", out=tmp_path)
    result = report.result("a2b.fp32.tflite")
    assert report.ok and result["status"] == "ok" and result["checks"]["problems"] == []
    assert file_macs(tmp_path / "a2b.fp32.tflite") == result["macs"] == mobile_resnet_macs(4, 2, 32)
    assert "GMAC" in report.table()
    from keras_i2i.runtime.benchmark import format_table, run_benchmark

    timed = run_benchmark([tmp_path / "a2b.fp32.tflite"], threads=1, runs=2, warmup=0)["results"][0]
    assert timed["macs"] == result["macs"] and "GMAC" in format_table([timed])
    names = {op["op_name"] for op in _tflite_ops(tmp_path / "a2b.fp32.tflite")}
    assert "DEPTHWISE_CONV_2D" in names and "MIRROR_PAD" not in names


def _tflite_ops(path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path))._get_ops_details()


def test_a_distill_config_alone_names_its_missing_teacher():
    from keras_i2i.models import build_model

    cfg = load_config("distill/emoji64")  # a template: it loads
    with pytest.raises(ConfigError, match="keras-i2i distill --teacher"):
        build_model(cfg.model, image_size=64)


def test_teacher_without_a_checkpoint_or_direction(trained_run, tmp_path):
    from keras_i2i.directions import DirectionError
    from keras_i2i.runs import RunError
    from keras_i2i.training.distill import distill_config

    with pytest.raises(DirectionError, match="a2b, b2a"):
        distill_config(trained_run, "distill/emoji64", direction="x2y")
    (tmp_path / "config.yaml").write_text((trained_run / "config.yaml").read_text())
    with pytest.raises(RunError, match="no complete checkpoint"):
        distill_config(tmp_path, "distill/emoji64")
    with pytest.raises(ConfigError, match="not a distill config"):
        distill_config(trained_run, "quickstart")


def test_max_gmac_picks_the_widest_student_under_the_budget(trained_run):
    from keras_i2i.training.distill import distill_config, widest_student

    assert widest_student(2.4, 9, 256) == 21  # the 30 FPS budget at 256 px: ngf 21, 2.28 GMAC
    assert mobile_resnet_macs(21, 9, 256) <= 2.4e9 < mobile_resnet_macs(22, 9, 256)
    cfg = distill_config(trained_run, "distill/emoji64", overrides=["model.n_blocks=2"], max_gmac=0.002)
    ngf = cfg.model.ngf
    assert mobile_resnet_macs(ngf, 2, 32) <= 2e6 < mobile_resnet_macs(ngf + 1, 2, 32)
    with pytest.raises(ConfigError, match="either --max-gmac"):
        distill_config(trained_run, "distill/emoji64", overrides=["model.ngf=4"], max_gmac=0.002)
    with pytest.raises(ConfigError, match="narrowest student"):
        widest_student(1e-6, 9, 256)
