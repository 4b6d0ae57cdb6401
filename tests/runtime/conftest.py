"""Exports of the tiny trained run shared by the runtime tests (the export tests' run)."""

from __future__ import annotations

import numpy as np
import pytest


SIZE = 32


@pytest.fixture(scope="session")
def exports(trained_run, tmp_path_factory):
    """Two export folders of a2b at 32x32:

    - ``uint8``: ``a2b.fp32.tflite``, ``a2b.int8.tflite`` and ``a2b.onnx``, pixels in/out;
    - ``float``: ``a2b.fp32.tflite`` and ``a2b.onnx``, float32 in [-1, 1] in/out.
    """
    from keras_i2i.export import export_run

    folders = {}
    for io, modes in (("uint8", "fp32,int8"), ("float", "fp32")):
        out = tmp_path_factory.mktemp(f"runtime_{io}")
        report = export_run(trained_run, formats=["tflite", "onnx"], modes=modes, directions="a2b", io=io, out=out,
                            parity_count=4, calibration_count=16)
        assert report.ok, [r.get("reason") for r in report.results]
        folders[io] = out
    return folders


@pytest.fixture(scope="session")
def keras_a2b(trained_run):
    """The Keras a2b translator of the run."""
    from keras_i2i.translate import load_run

    _, model = load_run(trained_run)
    return model.translators()["a2b"]


@pytest.fixture(scope="session")
def real_images(trained_run):
    """Held-out real emoji (testA) at their own size (64x64 RGB uint8)."""
    from keras_i2i.data.images import read_image

    files = sorted((trained_run.parent / "data" / "testA").glob("*.png"))[:4]
    return [read_image(f) for f in files]


def keras_pixels(translator, images: np.ndarray) -> np.ndarray:
    """The Keras translator's outputs as pixels (the export's postprocess), on the CPU."""
    y = np.asarray(translator(images.astype(np.float32) / 127.5 - 1.0, training=False))
    return np.clip(np.rint((y.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)
