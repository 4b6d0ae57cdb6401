"""Registries of network builders: ``GENERATORS.get("resnet_9blocks")(ngf=64, ...)``."""

from keras_i2i.registry import Registry

GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")


def input_sides(multiple: int = 1, minimum=None):
    """Decorator for a registered builder: the input sides (height and width) its
    network takes are multiples of ``multiple`` and at least ``minimum`` (an int, or a
    function of the builder's keyword arguments, such as ``n_layers``). Configs are
    checked against it when they are loaded (:func:`input_side_rule`)."""

    def decorator(fn):
        fn.input_multiple = int(multiple)
        fn.input_minimum = minimum
        return fn

    return decorator


def input_side_rule(builder, **kwargs) -> tuple[int, int]:
    """``(multiple, minimum)`` of the input sides ``builder`` (built with ``kwargs``) takes;
    ``(1, 1)`` for a builder that declares nothing."""
    multiple = getattr(builder, "input_multiple", 1)
    minimum = getattr(builder, "input_minimum", None)
    if callable(minimum):
        minimum = minimum(**kwargs)
    return multiple, max(multiple, int(minimum or 1))
