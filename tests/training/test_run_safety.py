"""Run directories and checkpoints never lose data: a new run is trained only into a new
or empty folder, a checkpoint that does not load is skipped for the newest one that
does (and kept), and a run's config works from any folder."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml
from click.testing import CliRunner

from keras_i2i.cli import main
from keras_i2i.runs import RunError, latest_checkpoint, list_checkpoints, load_run


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _assert_one_error(result, *needles):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _tiny_sets(root: Path, **extra) -> list[str]:
    values = {"data.dataset": "null", "data.root": str(root), "data.load_size": 36, "data.crop_size": 32,
              "model.ngf": 4, "model.ndf": 4, "model.n_layers_d": 2, "train.batch_size": 2, "train.max_steps": 1,
              "train.translate_test": "false", "train.strategy": "default", **extra}
    return [x for k, v in values.items() for x in ("--set", f"{k}={v}")]


def _values(prefix) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if "save_counter" not in name and "_CHECKPOINTABLE_OBJECT_GRAPH" not in name}


@pytest.fixture(scope="module")
def two_checkpoints(trained_run, tmp_path_factory):
    """A run like ``trained_run`` trained to step 4 with checkpoints at steps 2 and 4."""
    from keras_i2i.config import load_config
    from keras_i2i.training.trainer import train

    overrides = [s for s in _tiny_sets(trained_run.parent / "data", **{"train.max_steps": 4,
                                                                        "train.checkpoint_every": 2}) if s != "--set"]
    run = tmp_path_factory.mktemp("two_checkpoints") / "run"
    train(load_config("quickstart", overrides=overrides), run, verbose=0)
    assert [c.name for c in list_checkpoints(run / "checkpoints")] == ["ckpt-4", "ckpt-2"]
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def _truncate_newest(run: Path) -> Path:
    data = run / "checkpoints" / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    return data


@pytest.mark.parametrize("kind", ["checkpoint", "config", "stray_file", "newest_checkpoint_missing"])
def test_new_run_refuses_a_folder_that_is_not_empty(kind, trained_run, two_checkpoints, tmp_path):
    run = tmp_path / "run"
    if kind == "checkpoint":
        shutil.copytree(trained_run / "checkpoints", run / "checkpoints")
    elif kind == "config":
        run.mkdir()
        shutil.copy(trained_run / "config.yaml", run)
    elif kind == "stray_file":
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    else:  # the newest checkpoint's files are gone; the checkpoint index still names it
        _copy(two_checkpoints, tmp_path)
        for path in (run / "checkpoints").glob("ckpt-4.*"):
            path.unlink()
    before = _snapshot(run)
    result = _cli("train", "--run-dir", run, *_tiny_sets(trained_run.parent / "data"))
    line = _assert_one_error(result, str(run), "--overwrite")
    assert ("--resume" in line) == (kind != "stray_file")
    assert _snapshot(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_overwrite_moves_the_old_run_aside_and_config_paths_are_absolute(trained_run, tmp_path, monkeypatch):
    run = _copy(trained_run, tmp_path)
    before = _snapshot(run)
    monkeypatch.chdir(trained_run.parent)  # data.root given relative to here
    result = _cli("train", "--run-dir", run, "--overwrite", *_tiny_sets(Path("data")))
    assert result.exit_code == 0, result.output
    (old,) = tmp_path.glob("run.old-*")
    assert _snapshot(old) == before and "moved the old contents" in result.output
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["root"] == str(trained_run.parent / "data")
    assert latest_checkpoint(run).endswith("ckpt-1")

    monkeypatch.chdir(tmp_path)  # --resume from another folder reads the data (max_steps is reached)
    result = _cli("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert "Trained to step 1" in result.output
    result = _cli("train", "--resume", run, "--overwrite")
    _assert_one_error(result, "--overwrite")


def test_resume_with_moved_data_names_the_key_to_set(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["root"] = str(tmp_path / "moved_away")
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    before = _snapshot(run)
    result = _cli("train", "--resume", run)
    _assert_one_error(result, "data.root=", "--set data.root=")
    assert _snapshot(run) == before
    # the data's new place is given with --resume (max_steps is reached: nothing to train)
    result = _cli("train", "--resume", run, "--set", f"data.root={trained_run.parent / 'data'}")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["root"] == str(trained_run.parent / "data")
    result = _cli("train", "--resume", run, "--set", "data.load_size=40")
    _assert_one_error(result, "only train.* keys")


def test_missing_newest_checkpoint_files_use_the_older_one(two_checkpoints, tmp_path):
    from keras_i2i.config import load_config
    from keras_i2i.training.trainer import Trainer

    run = _copy(two_checkpoints, tmp_path)
    for path in (run / "checkpoints").glob("ckpt-4.*"):
        path.unlink()
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) is None  # what was trusted before
    _, model = load_run(run)
    assert model.restored_from == str(run / "checkpoints" / "ckpt-2")
    cfg = load_config(run / "config.yaml", ["train.max_steps=2"])
    assert Trainer(cfg, run, resume=True, verbose=0).run().step == 2


def test_truncated_newest_checkpoint_falls_back_and_is_kept(trained_run, two_checkpoints, tmp_path):
    run = _copy(two_checkpoints, tmp_path)
    bad = _truncate_newest(run)
    damaged = bad.read_bytes()
    inputs = run.parent / "inputs"
    shutil.copytree(trained_run.parent / "data" / "testA", inputs)
    result = _cli("translate", "--run", run, "--input", inputs, "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Skipping checkpoint" in result.output and "ckpt-4" in result.output
    assert f"Using {run / 'checkpoints' / 'ckpt-2'}" in result.output
    assert len(list((tmp_path / "out").glob("*.png"))) == len(list(inputs.glob("*.png")))
    assert bad.read_bytes() == damaged

    # asked for by name, the damaged one is one clear error; so is one that does not exist
    result = _cli("translate", "--run", run, "--input", inputs, "--output", tmp_path / "out2", "--checkpoint", "ckpt-4")
    _assert_one_error(result, "cannot be loaded", "ckpt-2")
    result = _cli("translate", "--run", run, "--input", inputs, "--output", tmp_path / "out2", "--checkpoint",
                  run / "checkpoints" / "ckpt-9")
    _assert_one_error(result, "No checkpoint", "ckpt-4, ckpt-2")
    assert not (tmp_path / "out2").exists() and bad.read_bytes() == damaged


def test_evaluate_checkpoint_that_does_not_exist(trained_run, tmp_path):
    result = _cli("evaluate", "--run", trained_run, "--checkpoint", "ckpt-7", "--metrics", "psnr",
                  "--json", tmp_path / "report.json")
    _assert_one_error(result, "No checkpoint ckpt-7", "ckpt-2")


def test_resume_after_a_truncated_checkpoint_is_exact_and_keeps_it(two_checkpoints, tmp_path):
    run = _copy(two_checkpoints, tmp_path)
    bad = _truncate_newest(run)
    damaged = {p.name: p.read_bytes() for p in (run / "checkpoints").glob("ckpt-4.*")}
    result = _cli("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert "Skipping checkpoint" in result.output and "Trained to step 4" in result.output
    (kept,) = (run / "checkpoints").glob("skipped-*")
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == damaged
    assert [c.name for c in list_checkpoints(run / "checkpoints")] == ["ckpt-4", "ckpt-2"]
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) == str(run / "checkpoints" / "ckpt-4")
    # trained again from step 2, the checkpoint equals the one of the uninterrupted run
    resumed, reference = _values(run / "checkpoints" / "ckpt-4"), _values(two_checkpoints / "checkpoints" / "ckpt-4")
    assert resumed.keys() == reference.keys()
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    assert bad.exists() and bad.read_bytes() != damaged[bad.name]  # the new ckpt-4


def test_no_checkpoint_loads_is_one_error(two_checkpoints, tmp_path):
    run = _copy(two_checkpoints, tmp_path)
    for path in (run / "checkpoints").glob("ckpt-*.data-*"):
        path.write_bytes(b"")
    with pytest.raises(RunError, match=r"None of the checkpoints .* loads: ckpt-4 \(.*\); ckpt-2"):
        load_run(run)
    os.remove(run / "checkpoints" / "ckpt-2.index")
    os.remove(run / "checkpoints" / "ckpt-4.index")
    with pytest.raises(RunError, match="no checkpoint yet"):
        load_run(run)
