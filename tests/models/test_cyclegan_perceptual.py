"""CycleGAN's optional VGG perceptual cycle term: trained with, held by reference (no
optimizer state, not in checkpoints), off by default."""

import numpy as np
import tensorflow as tf

from keras_i2i.config import load_config
from keras_i2i.models import build_model

BASE = ["model.generator=resnet_6blocks", "model.ngf=4", "model.ndf=4", "model.n_layers_d=2",
        "data.load_size=36", "data.crop_size=32"]


def _model(*extra):
    cfg = load_config("quickstart", BASE + list(extra))
    model = build_model(cfg.model, image_size=32)
    model.compile(2e-4, 0.5, 0.999)
    return model


def _checkpoint_names(model, tmp_path):
    prefix = tf.train.Checkpoint(model=model, **{f"optimizer_{k}": v for k, v in model.optimizers().items()}).save(
        str(tmp_path / "ckpt"))
    return [name for name, _ in tf.train.list_variables(prefix)]


def test_perceptual_term_trains_without_optimizer_state_or_checkpoint_weights(tmp_path):
    rng = np.random.default_rng(0)
    batch = tuple(rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32") for _ in range(2))
    plain, with_vgg = _model(), _model("model.lambda_perceptual=1.0", "model.perceptual_weights=none")
    logs = with_vgg.train_step(tuple(tf.constant(x) for x in batch))
    assert float(logs["loss_perceptual"]) > 0
    assert "loss_perceptual" not in plain.train_step(tuple(tf.constant(x) for x in batch))
    # the VGG (14.7M weights) is in neither an optimizer nor a checkpoint
    for name in ("gen", "disc"):
        assert len(with_vgg.optimizers()[name].variables) == len(plain.optimizers()[name].variables)
    names = _checkpoint_names(with_vgg, tmp_path / "with")
    assert sorted(names) == sorted(_checkpoint_names(plain, tmp_path / "plain"))
    assert not any("vgg" in n or "block" in n for n in names)
    assert with_vgg.vgg.network.trainable_weights == [] and len(with_vgg.vgg.network.weights) == 20
