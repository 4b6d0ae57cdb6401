import dataclasses

import pytest

from keras_i2i.config import (
    ConfigError,
    bundled_configs,
    config_from_dict,
    dump_config,
    load_config,
    to_dict,
    with_overrides,
)


def test_quickstart_loads_with_model_section():
    cfg = load_config("quickstart")
    assert cfg.name == "quickstart"
    assert cfg.model.name == "cyclegan"
    assert cfg.data.dataset == "emoji"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0


@pytest.mark.parametrize("path", sorted(bundled_configs().rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.data.crop_size <= cfg.data.load_size or cfg.data.preprocess != "resize_and_crop"


def test_overrides_are_typed():
    cfg = load_config("quickstart", overrides=["train.lr=1e-4", "train.batch_size=3", "data.flip=false",
                                               "train.max_steps=null", "data.root=/x"])
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.batch_size == 3
    assert cfg.data.flip is False
    assert cfg.train.max_steps is None
    assert cfg.data.root == "/x"


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.bogus=1", "train.batch_size"),  # lists the valid keys
        ("train.batch_size=abc", "train.batch_size: expected an integer"),
        ("train.batch_size=true", "expected an integer"),
        ("data.flip=maybe", "data.flip: expected true or false"),
        ("model.generator=resnet_12blocks", "is not one of resnet_9blocks"),
        ("model.lambda_x=1", "model.lambda_a"),
        ("model.name=nope", "Unknown model 'nope'. Known models: "),  # the list grows with the models
        ("bogus.key=1", "Valid keys: name, data, model, train"),
        ("train=3", "train: expected a mapping"),
        ("noequals", "key.sub=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config("quickstart", overrides=[override])


def test_unknown_key_error_names_key():
    with pytest.raises(ConfigError, match="Unknown key 'train.bogus'"):
        load_config("quickstart", overrides=["train.bogus=1"])


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config("cyclegan/horse2zebra", overrides=["train.max_steps=7"])
    path = tmp_path / "config.yaml"
    dump_config(cfg, path)
    again = load_config(path)
    assert again == cfg
    assert config_from_dict(to_dict(cfg)) == cfg


def test_with_overrides_validates():
    cfg = load_config("quickstart")
    assert with_overrides(cfg, ["train.max_steps=5"]).train.max_steps == 5
    with pytest.raises(ConfigError):
        with_overrides(cfg, ["train.max_steps=five"])


def test_missing_config_lists_known():
    with pytest.raises(ConfigError, match="quickstart"):
        load_config("does/not/exist")


def test_horse2zebra_has_paper_settings():
    cfg = load_config("cyclegan/horse2zebra")
    m, t, d = cfg.model, cfg.train, cfg.data
    assert (m.generator, m.ngf, m.ndf, m.n_layers_d, m.norm) == ("resnet_9blocks", 64, 64, 3, "instance")
    assert (m.gan_mode, m.lambda_a, m.lambda_b, m.lambda_identity, m.pool_size) == ("lsgan", 10.0, 10.0, 0.5, 50)
    assert (t.lr, t.beta1, t.batch_size, t.n_epochs, t.n_epochs_decay) == (2e-4, 0.5, 1, 100, 100)
    assert (d.load_size, d.crop_size) == (286, 256)


def test_model_init_from_and_frozen_round_trip(tmp_path):
    """Every model config has model.init_from, model.frozen and model.init_from_record
    (config.ModelConfig), written after the model's own keys; configs without them load
    as before."""
    from keras_i2i.config import MODEL_COMMON_KEYS

    plain = load_config("quickstart")
    assert (plain.model.init_from, plain.model.frozen, plain.model.init_from_record) == (None, (), None)
    cfg = load_config("quickstart", overrides=["model.init_from.gen_a2b=runs/other:ckpt-4",
                                               "model.init_from.disc_b=/w/disc.weights.h5", "model.frozen=gen_a2b"])
    assert cfg.model.init_from == {"gen_a2b": "runs/other:ckpt-4", "disc_b": "/w/disc.weights.h5"}
    assert cfg.model.frozen == ("gen_a2b",)
    record = {"gen_a2b": {"source": "/r/other", "checkpoint": "/r/other/checkpoints/ckpt-4", "sha256": "ab" * 32}}
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init_from_record=record))
    dump_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
    assert tuple(to_dict(cfg)["model"])[-len(MODEL_COMMON_KEYS):] == MODEL_COMMON_KEYS
    assert load_config("xgan/quickstart").model.frozen == ()
    with pytest.raises(ConfigError, match="model.frozen: '1gen' is not a sub-network name"):
        load_config("quickstart", overrides=["model.frozen=1gen"])
    with pytest.raises(ConfigError, match="model.init_from.gen_a2b: give a run directory"):
        load_config("quickstart", overrides=["model.init_from.gen_a2b=' '"])
