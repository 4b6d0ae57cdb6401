"""Shared fixtures. Two logical CPU devices are configured before TensorFlow starts,
so MirroredStrategy runs over two replicas in every test run."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

ROOT = Path(__file__).resolve().parent.parent
EMOJI = ROOT / "keras_i2i" / "data" / "bundled" / "emoji"


def copy_emoji(dest: Path, domain: str, count: int, split: str = "train") -> Path:
    """``count`` real emoji images of domain ``A`` or ``B`` copied to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted((EMOJI / f"{split}{domain}").glob("*.png"))[:count]:
        shutil.copy(path, dest / path.name)
    return dest


@pytest.fixture
def emoji_root(tmp_path) -> Path:
    """A tiny dataset in the reference layout: 8 train and 4 test images per domain."""
    root = tmp_path / "emoji_small"
    for domain in "AB":
        copy_emoji(root / f"train{domain}", domain, 8)
        copy_emoji(root / f"test{domain}", domain, 4, split="test")
    return root


def tiny_overrides(root: Path, **extra) -> list[str]:
    """Overrides that shrink the quickstart config to seconds per run."""
    values = {
        "data.dataset": "null", "data.root": str(root), "data.load_size": 36, "data.crop_size": 32,
        "model.generator": "resnet_6blocks", "model.ngf": 4, "model.ndf": 4, "model.n_layers_d": 2,
        "model.pool_size": 4, "train.batch_size": 2, "train.max_steps": 4, "train.checkpoint_every": 2,
        "train.log_every": 2, "train.num_samples": 2, "train.translate_test": "false", "train.strategy": "default",
        "train.lr_policy": "constant",
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


@pytest.fixture
def tiny_config(emoji_root):
    from keras_i2i.config import load_config

    def make(**extra):
        return load_config("quickstart", overrides=tiny_overrides(emoji_root, **extra))

    return make


def run_cli(args, **kwargs):
    """Run ``python -m keras_i2i.cli ARGS`` in a subprocess (for signals and multi-process tests)."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **kwargs.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "keras_i2i.cli", *args], env=env, **kwargs)


# One tiny trained run for the export, runtime and metrics tests. It lives here, not in a
# sub-folder conftest that others import: pytest caches a fixture once per place it is
# defined or imported, so importing it elsewhere trained it once per importer.
TRAIN_IMAGES = 40  # per domain: enough variety to calibrate int8 on real images
TEST_IMAGES = 8


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A 2-step CycleGAN (ngf=4, 32x32) on real emoji, with trainA/trainB/testA/testB."""
    from keras_i2i.config import load_config
    from keras_i2i.training.trainer import train

    base = tmp_path_factory.mktemp("trained_run")
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
