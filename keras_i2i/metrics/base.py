"""The metric registry.

A metric is a function of an :class:`~keras_i2i.metrics.evaluate.Evaluation` (the
translated images, the real ones, their features) returning ``{row: {key: value}}``:
one row per direction (``"a2b"``, ``"b2a"``) and ``"mean"`` for the figure over all
directions. Register one with::

    @register_metric("fid", higher_is_better=False, description="Frechet Inception Distance")
    def fid(ev): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keras_i2i.registry import Registry

MEAN = "mean"


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, which way is better, and what it measures."""

    name: str
    fn: Callable
    higher_is_better: bool
    description: str
    needs_features: bool = True

    def __call__(self, ev) -> dict:
        return self.fn(ev)


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, higher_is_better: bool, description: str, needs_features: bool = True):
    """Register ``fn(ev) -> {row: {key: value}}``; ``needs_features``: whether it uses the
    feature network (PSNR/SSIM do not, so they run without InceptionV3 weights)."""

    def decorator(fn):
        METRICS.register(name)(Metric(name, fn, higher_is_better, description, needs_features))
        return fn

    return decorator


def mean_row(rows: dict, keys) -> dict:
    """The ``"mean"`` row: each key averaged over the directions that have it."""
    out = {}
    for key in keys:
        values = [row[key] for row in rows.values() if row.get(key) is not None]
        out[key] = float(sum(values) / len(values)) if values else None
    return out
