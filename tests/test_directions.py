"""Directions as data: the value object, look-ups with clear errors, and the models'
declared directions matching their translators."""

import pytest

from keras_i2i.directions import Direction, DirectionError, legacy_direction, pick, select, two_way


def test_direction_value_object_round_trips():
    d = Direction("to_fluent", ("noto", "twemoji"), "fluent", {"label": 2, "z_seed": 0})
    assert d.primary_source == "noto"
    assert Direction.from_dict(d.as_dict()) == d
    assert d.as_dict() == {"name": "to_fluent", "source": ["noto", "twemoji"], "target": "fluent",
                           "conditions": {"label": 2, "z_seed": 0}}
    assert Direction("x", "a", "b").source == ("a",)  # a single source may be a string
    assert hash(d) == hash(Direction.from_dict(d.as_dict()))


@pytest.mark.parametrize("name", ["", "a/b", "../x", "-x", ".x", "a b"])
def test_direction_names_must_make_file_names(name):
    with pytest.raises(DirectionError, match="not allowed"):
        Direction(name, ("a",), "b")


def test_malformed_json_and_empty_source():
    with pytest.raises(DirectionError, match="needs name, source and target"):
        Direction.from_dict({"name": "a2b"})
    with pytest.raises(DirectionError, match="no source domain"):
        Direction("a2b", (), "b")


def test_two_way_pick_and_select():
    both = two_way()
    assert list(both) == ["a2b", "b2a"] and both["b2a"].source == ("b",) and both["b2a"].target == "a"
    assert list(two_way("noto", "fluent")) == ["noto2fluent", "fluent2noto"]
    assert pick(both, "b2a") is both["b2a"]
    with pytest.raises(DirectionError, match="no direction 'c2d'; its directions are: a2b, b2a"):
        pick(both, "c2d")
    assert list(select(both, "all")) == ["a2b", "b2a"]
    assert list(select(both, "b2a, a2b")) == ["a2b", "b2a"]  # the model's order
    assert list(select(both, ["b2a"])) == ["b2a"]
    with pytest.raises(DirectionError, match="its directions are"):
        select(both, "a2b,x")
    assert legacy_direction("a2b") == both["a2b"] and legacy_direction("noto2fluent") is None


@pytest.mark.parametrize("overrides", [
    [],
    ["model.embedding_dim=8"],
])
def test_models_declare_the_directions_of_their_translators(overrides):
    from keras_i2i.config import load_config
    from keras_i2i.models import build_model

    base = ["model.ngf=4", "model.ndf=4", "data.load_size=72", "data.crop_size=64"]
    cfg = load_config("quickstart" if not overrides else "xgan/quickstart", base + overrides)
    model = build_model(cfg.model, image_size=cfg.data.crop_size)
    directions = model.directions()
    assert list(directions) == list(model.translators()) == ["a2b", "b2a"]
    assert all(isinstance(d, Direction) for d in directions.values())


def test_imported_model_declares_only_its_imported_directions():
    from keras_i2i.config import MODEL_CONFIGS
    from keras_i2i.models import build_model

    cfg = MODEL_CONFIGS.get("imported")(generator="resnet_6blocks", ngf=4, directions=("b2a",))
    model = build_model(cfg, image_size=32)
    assert list(model.directions()) == list(model.translators()) == ["b2a"]
