"""Evaluating a run and its exported files, from the library and the command line."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.metrics import METRICS
from keras_i2i.metrics.runs import evaluate_exported, evaluate_run
from tests.metrics.conftest import FEATURE_SIZE

SMALL = {"inception_weights": "none", "feature_size": FEATURE_SIZE, "classifier_images": 16}
ALL = "fid,kid,rc,fc,psnr,ssim"


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """a2b as an fp32 TFLite file and b2a as an ONNX file, in one export folder."""
    from keras_i2i.export import export_run

    out = tmp_path_factory.mktemp("eval_export")
    for direction, fmt in (("a2b", "tflite"), ("b2a", "onnx")):
        report = export_run(trained_run, formats=[fmt], modes="fp32", directions=direction, out=out, parity_count=2)
        assert report.ok, [r.get("reason") for r in report.results]
    return out / "a2b.fp32.tflite", out / "b2a.onnx"


def test_exported_files_evaluate_like_the_keras_model(trained_run, exported, features):
    keras_report = evaluate_run(trained_run, metrics=ALL, **SMALL)
    runtime_report, run_dir = evaluate_exported(exported, metrics=ALL, **SMALL)
    assert run_dir == trained_run  # found through model.json's source_checkpoint
    assert runtime_report.source["translator"] == "runtime"
    assert [m["backend"] for m in runtime_report.source["models"]] == ["litert", "onnx"]
    k, r = keras_report.results, runtime_report.results
    for d in ("a2b", "b2a"):
        assert k[d]["fid"] > 0
        assert r[d]["fid"] == pytest.approx(k[d]["fid"], rel=0.02, abs=1e-4), d
        assert r[d]["kid"] == pytest.approx(k[d]["kid"], rel=0.05, abs=1e-5), d
        assert r[d]["psnr"] == pytest.approx(k[d]["psnr"], abs=0.05), d
        assert r[d]["ssim"] == pytest.approx(k[d]["ssim"], abs=0.002), d
        assert abs(r[d]["rc"] - k[d]["rc"]) <= 1 / 8 + 1e-9, d  # at most one of 8 images changes class
        assert k[d]["pairs"] == 8
    assert abs(r["mean"]["fc"] - k["mean"]["fc"]) <= 1 / 8 + 1e-9
    assert keras_report.protocol["size"] == runtime_report.protocol["size"] == 32


def test_evaluate_cli_with_a_run(trained_run, tmp_path, features):
    out = tmp_path / "report.json"
    log = trained_run / "metrics.jsonl"
    before = log.read_text().splitlines() if log.exists() else []
    result = CliRunner().invoke(main, [
        "evaluate", "--run", str(trained_run), "--metrics", "fid,kid,psnr,ssim", "--inception-weights", "none",
        "--feature-size", str(FEATURE_SIZE), "--kid-subset-size", "4", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "NOT the standard protocol" in result.output and "random (seed 0)" in result.output
    lines = result.output.splitlines()
    assert any(line.startswith("a2b ") for line in lines) and any(line.startswith("identity b2a") for line in lines)
    report = json.loads(out.read_text())
    assert report["schema"] == "keras_i2i.metrics/1" and report["metrics"] == ["fid", "kid", "psnr", "ssim"]
    assert report["source"]["step"] == 2 and report["protocol"]["features"]["size"] == FEATURE_SIZE
    assert report["protocol"]["directions"]["a2b"]["reference"].endswith("testB")
    assert report["results"]["a2b"]["kid_subset_size"] == 4 and report["results"]["a2b"]["kid_std"] > 0
    assert report["baseline"]["results"]["a2b"]["psnr"] != report["results"]["a2b"]["psnr"]
    added = log.read_text().splitlines()[len(before):]
    assert len(added) == 1
    record = json.loads(added[0])
    assert record["kind"] == "evaluate" and record["step"] == 2 and record["report"] == str(out)
    assert record["a2b/fid"] == pytest.approx(report["results"]["a2b"]["fid"])
    assert "identity/mean/ssim" in record


def test_evaluate_cli_with_exported_files(trained_run, exported, tmp_path, features):
    out = tmp_path / "exported.json"
    args = ["evaluate", "--inception-weights", "none", "--feature-size", str(FEATURE_SIZE), "--metrics", "fid,psnr",
            "--no-baseline", "--json", str(out)]
    for f in exported:
        args += ["--model", str(f)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [m["file"] for m in report["source"]["models"]] == [str(f) for f in exported]
    assert set(report["results"]) == {"a2b", "b2a", "mean"} and "baseline" not in report
    assert json.loads((trained_run / "metrics.jsonl").read_text().splitlines()[-1])["translator"] == "runtime"


def test_evaluate_cli_user_errors(trained_run, exported):
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate"])
    assert result.exit_code == 2 and "either --run" in result.output
    result = runner.invoke(main, ["evaluate", "--run", str(trained_run), "--metrics", "fid,nosuch"])
    assert result.exit_code == 2 and "Known metrics:" in result.output
    result = runner.invoke(main, ["evaluate", "--run", str(trained_run), "--checkpoint", "best"])
    assert result.exit_code == 1 and "no best checkpoint" in result.output
    result = runner.invoke(main, ["evaluate", "--run", str(trained_run), "--reference", str(trained_run)])
    assert result.exit_code == 1 and "one direction" in result.output


def test_every_registered_metric_runs_from_the_cli_defaults():
    from keras_i2i.cli import _default_metrics

    assert sorted(_default_metrics().split(",")) == METRICS.names()  # lpips too: CI installs its weights


def test_paired_metrics_need_no_feature_network(trained_run, monkeypatch):
    import keras_i2i.metrics.features as features_module

    def no_inception(*args, **kwargs):
        raise AssertionError("InceptionV3 was built for PSNR/SSIM")

    monkeypatch.setattr(features_module, "inception_v3", no_inception)
    result = CliRunner().invoke(main, ["evaluate", "--run", str(trained_run), "--metrics", "psnr,ssim", "--json",
                                       str(trained_run / "eval" / "paired.json")])  # default weights: imagenet
    assert result.exit_code == 0, result.output
    assert "features: none" in result.output
    report = json.loads((trained_run / "eval" / "paired.json").read_text())
    assert report["protocol"]["features"] is None and report["results"]["a2b"]["pairs"] == 8
