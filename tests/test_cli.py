"""The command line through click's CliRunner."""

import yaml
from click.testing import CliRunner
from PIL import Image

from keras_i2i.cli import main
from tests.conftest import copy_emoji, tiny_overrides


def _sets(root, **extra):
    return [x for o in tiny_overrides(root, **extra) for x in ("--set", o)]


def test_help_lists_every_option_with_defaults():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "translate", "datasets"):
        assert command in result.output
    train_help = " ".join(runner.invoke(main, ["train", "--help"]).output.split())
    for option in ("--config", "--set", "--run-dir", "--resume", "--strategy", "--dry-run"):
        assert option in train_help
    assert "default: quickstart" in train_help
    translate_help = " ".join(runner.invoke(main, ["translate", "--help"]).output.split())
    assert "default: the model's first direction" in translate_help
    assert runner.invoke(main, ["datasets", "download", "--help"]).exit_code == 0


def test_dry_run_prints_resolved_config(emoji_root):
    result = CliRunner().invoke(main, ["train", "--dry-run", *_sets(emoji_root, **{"train.max_steps": 7})])
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.output)
    assert cfg["train"]["max_steps"] == 7 and cfg["model"]["name"] == "cyclegan"
    assert cfg["data"]["root"] == str(emoji_root)


def test_bad_override_is_a_clear_error():
    result = CliRunner().invoke(main, ["train", "--dry-run", "--set", "train.batchsize=2"])
    assert result.exit_code == 1
    assert "Unknown key 'train.batchsize'" in result.output and "train.batch_size" in result.output


def test_train_translate_resume(emoji_root, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(main, ["train", "--run-dir", str(run), *_sets(emoji_root, **{"train.max_steps": 2})])
    assert result.exit_code == 0, result.output
    assert "Trained to step 2" in result.output

    # any input size comes back at its own size
    inputs = tmp_path / "inputs"
    copy_emoji(inputs / "sub", "A", 2)
    Image.new("RGB", (50, 30), "red").save(inputs / "odd.jpg")
    (inputs / "broken.png").write_bytes(b"nope")
    out = tmp_path / "out"
    result = runner.invoke(main, ["translate", "--run", str(run), "--input", str(inputs), "--output", str(out),
                                  "--direction", "b2a"])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 image(s)" in result.output and "skipped 1" in result.output
    assert Image.open(out / "odd.png").size == (50, 30)
    assert len(list((out / "sub").glob("*.png"))) == 2

    result = runner.invoke(main, ["train", "--resume", str(run), "--set", "train.max_steps=4"])
    assert result.exit_code == 0, result.output
    assert "Trained to step 4" in result.output
    result = runner.invoke(main, ["train", "--resume", str(run), "--set", "model.ngf=8"])
    assert result.exit_code != 0 and "only train.* keys" in result.output
    result = runner.invoke(main, ["train", "--run-dir", str(run), *_sets(emoji_root)])
    assert result.exit_code == 1 and "--resume" in result.output


def test_translate_errors(tmp_path):
    runner = CliRunner()
    (tmp_path / "img.png").write_bytes(b"")
    result = runner.invoke(main, ["translate", "--run", str(tmp_path), "--input", str(tmp_path / "img.png"),
                                  "--output", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no config.yaml" in result.output


def test_missing_data_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["train", "--run-dir", str(tmp_path / "r"), "--set", "data.dataset=null",
                                       "--set", f"data.a={tmp_path / 'nope'}", "--set", f"data.b={tmp_path}"])
    assert result.exit_code == 1 and "does not exist" in result.output
