"""One tiny trained run shared by the export tests (training is the slow part: once per session)."""

from __future__ import annotations

import pytest

from tests.conftest import copy_emoji

TRAIN_IMAGES = 40  # per domain: enough variety to calibrate int8 on real images
TEST_IMAGES = 8


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A 2-step CycleGAN (ngf=4, 32x32) on real emoji, with trainA/trainB/testA/testB."""
    from keras_i2i.config import load_config
    from keras_i2i.training.trainer import train

    base = tmp_path_factory.mktemp("export_run")
    root = base / "data"
    for domain in "AB":
        copy_emoji(root / f"train{domain}", domain, TRAIN_IMAGES)
        copy_emoji(root / f"test{domain}", domain, TEST_IMAGES, split="test")
    overrides = [
        "data.dataset=null", f"data.root={root}", "data.load_size=36", "data.crop_size=32",
        "model.ngf=4", "model.ndf=4", "model.n_layers_d=2", "train.batch_size=2", "train.max_steps=2",
        "train.translate_test=false", "train.strategy=default",
    ]
    cfg = load_config("quickstart", overrides=overrides)
    run_dir = base / "run"
    train(cfg, run_dir, verbose=0)
    return run_dir
