import pytest

from keras_i2i.registry import Registry


def test_register_get_names():
    reg = Registry("thing")

    @reg.register("b")
    def b():
        return 2

    reg.register("a")(lambda: 1)
    assert reg.get("b") is b
    assert reg.names() == ["a", "b"]
    assert "a" in reg


def test_unknown_name_lists_known():
    reg = Registry("thing")
    reg.register("alpha")(1)
    with pytest.raises(ValueError, match="Unknown thing 'beta'. Known things: alpha"):
        reg.get("beta")


def test_double_registration_fails():
    reg = Registry("thing")
    reg.register("x")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("x")(2)


def test_names_offered_without_keras_match_the_registries():
    """config's generator names (click and config choices) are the registry's entries."""
    from keras_i2i.config import GENERATOR_NAMES
    from keras_i2i.networks import GENERATORS

    assert sorted(GENERATOR_NAMES) == GENERATORS.names()


def test_metric_names_offered_without_the_metrics_match_the_registry():
    import keras_i2i.metrics  # noqa: F401  (registers the metrics)
    from keras_i2i.config import METRIC_NAMES
    from keras_i2i.metrics.base import METRICS

    assert sorted(METRIC_NAMES) == METRICS.names()
