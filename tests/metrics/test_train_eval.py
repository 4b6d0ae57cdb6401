"""train.eval_every and train.keep_best: evaluation as a callback of the trainer."""

import json

import pytest

from keras_i2i.config import ConfigError
from keras_i2i.metrics.runs import best_checkpoint, evaluate_run
from keras_i2i.training.trainer import Trainer, latest_checkpoint
from tests.metrics.conftest import FEATURE_SIZE

EVAL = {"train.eval_inception_weights": "none", "train.eval_feature_size": FEATURE_SIZE}


def test_eval_every_epoch_keeps_the_best_checkpoint(tiny_config, tmp_path, features):
    # 8 images per domain at batch 2: 4 steps an epoch, 2 epochs; evaluated after each
    cfg = tiny_config(**EVAL, **{"train.max_steps": 8, "train.checkpoint_every": 100, "train.eval_every": 1,
                                 "train.eval_metrics": "fid,psnr", "train.keep_best": "psnr", "train.lr": 2e-3})
    run_dir = tmp_path / "run"
    Trainer(cfg, run_dir, verbose=0).run()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [4, 8]
    assert all(r["a2b/fid"] > 0 and r["b2a/psnr"] > 0 and r["a2b/pairs"] == 4 for r in evals)
    best = max(evals, key=lambda r: r["mean/psnr"])
    assert len({r["mean/psnr"] for r in evals}) == 2  # training changed the translations
    info = json.loads((run_dir / "checkpoints" / "best" / "best.json").read_text())
    assert info["metric"] == "mean/psnr" and info["step"] == best["step"] and info["value"] == best["mean/psnr"]
    assert [r["step"] for r in evals if r.get("best")][-1] == best["step"]
    assert best_checkpoint(run_dir).endswith(f"ckpt-{best['step']}")
    assert latest_checkpoint(run_dir).endswith("ckpt-8")  # the regular checkpoints are untouched
    # the kept weights are the evaluated ones: evaluating them again gives the logged figure
    again = evaluate_run(run_dir, checkpoint="best", metrics="psnr", inception_weights="none",
                         feature_size=FEATURE_SIZE)
    assert again.results["mean"]["psnr"] == pytest.approx(best["mean/psnr"], abs=1e-6)


@pytest.mark.parametrize("extra, message", [
    ({"train.keep_best": "fid"}, "needs train.eval_every"),
    ({"train.eval_every": 1, "train.keep_best": "ssim"}, "not one of train.eval_metrics"),
    ({"train.eval_every": 1, "train.eval_metrics": "fid,nosuch"}, "Known metrics"),
])
def test_eval_settings_fail_before_training(tiny_config, tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(tiny_config(**extra), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_eval_on_a_missing_test_split_fails_before_the_first_step(tiny_config, tmp_path, emoji_root):
    import shutil

    for domain in "AB":
        shutil.rmtree(emoji_root / f"test{domain}")
    cfg = tiny_config(**EVAL, **{"train.eval_every": 1})
    with pytest.raises(ConfigError, match="no test folder for domain a, b"):
        Trainer(cfg, tmp_path / "run", verbose=0).run()
    assert latest_checkpoint(tmp_path / "run") is None
