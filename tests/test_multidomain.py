"""A three-domain model with six free-form directions goes through the whole path
(train -> translate -> export -> evaluate -> webcam) with no ``a2b`` anywhere."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

import tests.multidomain_model  # noqa: F401  (registers model.name test_multidomain)
from keras_i2i.cli import main
from tests.conftest import ROOT

EMOJI4 = ROOT / "keras_i2i" / "data" / "bundled" / "emoji4"
DOMAINS = ("fluentflat", "noto", "twemoji")


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Three emoji domains in the train/<domain>/ layout (6 train, 3 test each) and a trained run."""
    base = tmp_path_factory.mktemp("three")
    root = base / "data"
    for domain in DOMAINS:
        for split, count in (("train", 6), ("test", 3)):
            (root / split / domain).mkdir(parents=True)
            for path in sorted((EMOJI4 / split / domain).glob("*.png"))[:count]:
                shutil.copy(path, root / split / domain / path.name)
    config = base / "three.yaml"
    config.write_text(yaml.safe_dump({
        "name": "three",
        "data": {"root": str(root), "load_size": 36, "crop_size": 32},
        "model": {"name": "test_multidomain", "width": 4},
        "train": {"batch_size": 3, "max_steps": 4, "checkpoint_every": 2, "lr_policy": "constant",
                  "strategy": "default", "num_samples": 2, "log_every": 2},
    }))
    run = base / "run"
    ok(invoke("train", "--config", config, "--run-dir", run))
    return root, run


def test_train_records_domains_and_translates_every_direction(three):
    root, run = three
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["data"]["domain_names"] == list(DOMAINS)  # ids 0, 1, 2 in sorted order
    report = json.loads((run / "data_report.json").read_text())
    assert report["kind"] == "labelled" and {k: v["id"] for k, v in report["domains"].items()} == {
        "fluentflat": 0, "noto": 1, "twemoji": 2}
    results = sorted(p.name for p in (run / "test_results").iterdir())
    assert results == sorted(f"{s}_into_{t}" for s in DOMAINS for t in DOMAINS if s != t)
    for name in results:
        assert len(list((run / "test_results" / name).glob("*.png"))) == 3
    assert list((run / "samples").glob("*.png"))


def test_translate_by_direction_name(three, tmp_path):
    root, run = three
    ok(invoke("translate", "--run", run, "--input", root / "test" / "noto", "--output", tmp_path / "out",
              "--direction", "noto_into_twemoji"))
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    bad = invoke("translate", "--run", run, "--input", root / "test" / "noto", "--output", tmp_path / "o2",
                 "--direction", "a2b")
    assert bad.exit_code == 1 and "no direction 'a2b'" in bad.stderr and "noto_into_twemoji" in bad.stderr
    assert "Traceback" not in bad.output


def test_export_evaluate_and_webcam_by_direction(three, tmp_path):
    from tests.apps.conftest import synthetic_frames, write_video

    root, run = three
    out = tmp_path / "export"
    wanted = "noto_into_twemoji,twemoji_into_fluentflat"
    ok(invoke("export", "--run", run, "--tflite", "--onnx", "--quantize", "fp32,int8", "--direction", wanted,
              "--out", out))
    entries = {e["file"]: e for e in json.loads((out / "model.json").read_text())["models"]}
    assert sorted(entries) == sorted(f"{d}.{m}" for d in wanted.split(",")
                                     for m in ("fp32.tflite", "int8.tflite", "onnx"))
    entry = entries["twemoji_into_fluentflat.int8.tflite"]
    assert (entry["direction"], entry["source_domain"], entry["target_domain"]) == (
        "twemoji_into_fluentflat", "twemoji", "fluentflat")
    assert entry["conditions"] == {"target_label": 0}
    assert "noto" not in entry["quantization"]["calibration"]["source"]  # calibrated on its source domain
    assert "twemoji" in entry["quantization"]["calibration"]["source"]

    evaluated = ok(invoke("evaluate", "--run", run, "--direction", wanted, "--metrics", "psnr,ssim",
                          "--json", tmp_path / "eval.json"))
    report = json.loads((tmp_path / "eval.json").read_text())
    assert set(report["results"]) == {"noto_into_twemoji", "twemoji_into_fluentflat", "mean"}
    protocol = report["protocol"]["directions"]["twemoji_into_fluentflat"]
    assert (protocol["source_domain"], protocol["target_domain"]) == ("twemoji", "fluentflat")
    assert "mean" in evaluated.output
    ok(invoke("evaluate", "--model", out / "noto_into_twemoji.fp32.tflite", "--metrics", "psnr",
              "--json", tmp_path / "eval_tflite.json"))

    video = write_video(tmp_path / "in.avi", synthetic_frames(3))
    ok(invoke("webcam", "--model", out / "twemoji_into_fluentflat.fp32.tflite", "--video", video, "--headless",
              "--output", tmp_path / "out.avi"))
    ok(invoke("webcam", "--model", run, "--direction", "noto_into_fluentflat", "--video", video, "--headless",
              "--max-frames", "2"))

    names = [p.name for p in run.rglob("*")] + [p.name for p in out.rglob("*")]
    assert not [n for n in names if "a2b" in n or "b2a" in n]
    assert "a2b" not in (out / "model.json").read_text()


def test_runs_made_before_domains_were_recorded_still_load(trained_run, tmp_path):
    """A run whose config.yaml predates data.domains/domain_names (as every CycleGAN run
    trained before) has the domains a and b: it translates and exports as a2b/b2a."""
    old = tmp_path / "old_run"
    shutil.copytree(trained_run, old)
    cfg = yaml.safe_load((old / "config.yaml").read_text())
    for key in ("domains", "domain_names"):
        cfg["data"].pop(key, None)
    (old / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    data = cfg["data"]["root"]
    ok(invoke("translate", "--run", old, "--input", f"{data}/testB", "--output", tmp_path / "out", "--direction", "b2a"))
    assert len(list((tmp_path / "out").glob("*.png"))) == 8
    ok(invoke("export", "--run", old, "--tflite", "--direction", "a2b", "--out", tmp_path / "export"))
    entry = json.loads((tmp_path / "export" / "model.json").read_text())["models"][0]
    assert (entry["direction"], entry["source_domain"], entry["target_domain"]) == ("a2b", "a", "b")
