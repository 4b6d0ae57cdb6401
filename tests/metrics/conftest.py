"""Shared fixtures: a small random-weight InceptionV3 (75x75 inputs: the protocol's
network at 1/16 of the cost; random weights because tests may not download) and real
emoji sets."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import EMOJI

FEATURE_SIZE = 75


@pytest.fixture(scope="session")
def features():
    from keras_i2i.metrics import inception_v3

    return inception_v3(weights="none", size=FEATURE_SIZE)


def emoji(split: str, domain: str, count: int | None = None, size: int = 64) -> np.ndarray:
    """Real bundled emoji (sorted by name, so A and B line up by code point) as uint8."""
    from keras_i2i.data.images import read_image, resize

    files = sorted((EMOJI / f"{split}{domain}").glob("*.png"))[:count]
    return np.stack([resize(read_image(f), size, size) for f in files])
