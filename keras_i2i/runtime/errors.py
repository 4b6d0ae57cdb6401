"""Errors of the edge runtime."""

from __future__ import annotations


class RuntimeLoadError(ValueError):
    """A model file cannot be loaded for inference; the message says what was wrong with
    which file and what to do (usually: re-export it with ``keras-i2i export``)."""
