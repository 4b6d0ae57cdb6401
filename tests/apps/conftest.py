"""Fixtures of the webcam tests: a tiny exported model (32x32 a2b) and a short synthetic video.

Why not the runtime tests' ``trained_run``/``exports``: pytest keeps one cache per conftest
that defines (or imports) a fixture, so importing them here would train and export them a
third time in a full run (109 s of setup, measured on the 2-core host). The webcam needs
no trained weights, only real exports: this run is the same tiny CycleGAN, untrained
(seed 0), exported by ``export_run`` with its parity checks (about 12 s).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import copy_emoji

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 16, 10


def synthetic_frames(count: int = FRAMES, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """BGR frames of smooth gradients with a moving square (so lossy codecs keep them close)."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        frame = np.stack([(x * 3 + i * 9) % 256, (y * 4 + 40) % 256, np.full_like(x, 90 + 5 * i)], -1).astype(np.uint8)
        left = (3 * i) % (width - 14)
        frame[12:30, left:left + 14] = (30, 200, 70)
        frames.append(frame)
    return frames


def write_video(path, frames, fourcc: str = "FFV1", fps: float = FPS):
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"this OpenCV cannot write {fourcc}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_video(path) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory):
    """16 frames of 64x48 in a lossless FFV1 .avi (decodes to exactly what was written)."""
    return write_video(tmp_path_factory.mktemp("webcam_video") / "input.avi", synthetic_frames())


@pytest.fixture(scope="session")
def webcam_model(tmp_path_factory):
    """``{"run": run dir, "tflite": a2b.fp32.tflite (uint8 I/O), "onnx": a2b.onnx (float I/O)}``
    of an untrained tiny CycleGAN (ngf 4, 32x32), exported with ``keras-i2i export``'s code."""
    import tensorflow as tf

    from keras_i2i.config import dump_config, load_config
    from keras_i2i.export import export_run
    from keras_i2i.models import build_model
    from keras_i2i.training.trainer import CHECKPOINT_DIR

    base = tmp_path_factory.mktemp("webcam_run")
    root = base / "data"
    for domain in "AB":
        copy_emoji(root / f"train{domain}", domain, 4)
        copy_emoji(root / f"test{domain}", domain, 2, split="test")
    cfg = load_config("quickstart", overrides=[
        "data.dataset=null", f"data.root={root}", "data.load_size=36", "data.crop_size=32", "model.ngf=4",
        "model.ndf=4", "model.n_layers_d=2", "train.strategy=default"])
    run = base / "run"
    run.mkdir()
    dump_config(cfg, run / "config.yaml")
    model = build_model(cfg.model, image_size=32, seed=0)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run / CHECKPOINT_DIR), max_to_keep=1).save()
    report = export_run(run, formats=["tflite", "onnx"], modes="fp32", directions="a2b", parity_count=2,
                        calibration_count=2)
    assert report.ok, [r.get("reason") for r in report.results]
    return {"run": run, "tflite": run / "export" / "a2b.fp32.tflite", "onnx": run / "export" / "a2b.onnx"}
