"""An export folder with several directions: ``runtime.directions(folder)`` and
``runtime.load(folder, direction=...)``; exports made before directions were recorded
still load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from keras_i2i.directions import Direction
from keras_i2i.runtime import RuntimeLoadError, directions, find_model_file, load

LEGACY_KEYS = ("sources", "conditions", "source_domain", "target_domain")


def _rewrite(folder, change):
    path = folder / "model.json"
    data = json.loads(path.read_text())
    data["models"] = [m for m in (change(dict(e)) for e in data["models"]) if m is not None]
    path.write_text(json.dumps(data))


@pytest.fixture
def two_directions(exports, tmp_path):
    """The uint8 export folder plus the same files declared as a second direction
    ``noto2fluent`` (noto -> fluent), as one export of a two-direction model writes them."""
    folder = tmp_path / "export"
    shutil.copytree(exports["uint8"], folder)
    data = json.loads((folder / "model.json").read_text())
    for entry in list(data["models"]):
        file = entry["file"].replace("a2b", "noto2fluent", 1)
        shutil.copy(folder / entry["file"], folder / file)
        data["models"].append({**entry, "file": file, "direction": "noto2fluent", "source_domain": "noto",
                               "target_domain": "fluent", "sources": ["noto"], "conditions": {"label": 2}})
    (folder / "model.json").write_text(json.dumps(data))
    return folder


def test_directions_of_a_folder(exports, two_directions):
    assert directions(exports["uint8"]) == {"a2b": Direction("a2b", ("a",), "b")}
    assert directions(two_directions) == {
        "a2b": Direction("a2b", ("a",), "b"), "noto2fluent": Direction("noto2fluent", ("noto",), "fluent", {"label": 2})}


def test_load_a_folder_by_direction_format_and_mode(two_directions):
    image = np.full((20, 30, 3), 128, np.uint8)
    for kwargs, file in (({"format": "tflite"}, "noto2fluent.fp32.tflite"),
                         ({"format": "litert", "mode": "int8"}, "noto2fluent.int8.tflite"),
                         ({"format": "onnx"}, "noto2fluent.onnx")):
        translator = load(two_directions, direction="noto2fluent", **kwargs)
        assert translator.path.name == file and translator.metadata["direction"] == "noto2fluent"
        assert translator(image).shape == image.shape
    assert load(two_directions / "a2b.onnx", direction="a2b").backend == "onnx"


def test_folder_errors_list_what_is_there(two_directions, tmp_path):
    with pytest.raises(RuntimeLoadError, match="no model for direction 'b2a'.*declares: a2b, noto2fluent"):
        load(two_directions, direction="b2a")
    with pytest.raises(RuntimeLoadError, match="directions a2b, noto2fluent; choose one with direction="):
        load(two_directions)
    with pytest.raises(RuntimeLoadError, match="several files for a2b: a2b.fp32.tflite .*a2b.onnx"):
        load(two_directions, direction="a2b")
    with pytest.raises(RuntimeLoadError, match=r"no exported int16x8 .tflite file for a2b \(it has a2b.fp32.tflite"):
        load(two_directions, direction="a2b", format="tflite", mode="int16x8")
    with pytest.raises(RuntimeLoadError, match="Unknown model format 'keras'"):
        find_model_file(two_directions, "a2b", format="keras")
    with pytest.raises(RuntimeLoadError, match="translates a2b, not noto2fluent"):
        load(two_directions / "a2b.onnx", direction="noto2fluent")
    with pytest.raises(RuntimeLoadError, match="does not exist"):
        load(tmp_path / "nowhere", direction="a2b")
    (two_directions / "noto2fluent.onnx").unlink()  # a listed file that is gone is not offered
    with pytest.raises(RuntimeLoadError, match=r"no exported .onnx file for noto2fluent \(it has noto2fluent.fp32"):
        load(two_directions, direction="noto2fluent", format="onnx")


def test_exports_without_direction_fields_still_load(exports, tmp_path):
    """model.json entries written before directions were recorded (no sources, conditions or
    domains; upper-case domains before that) load by file and by direction."""
    folder = tmp_path / "legacy"
    shutil.copytree(exports["uint8"], folder)
    _rewrite(folder, lambda e: {k: v for k, v in e.items() if k not in LEGACY_KEYS})
    assert directions(folder) == {"a2b": Direction("a2b", ("a",), "b")}
    assert load(folder / "a2b.int8.tflite").metadata["direction"] == "a2b"
    assert load(folder, direction="a2b", format="onnx").path == folder / "a2b.onnx"
    _rewrite(folder, lambda e: {**e, "source_domain": "A", "target_domain": "B"})
    assert directions(folder) == {"a2b": Direction("a2b", ("a",), "b")}
    _rewrite(folder, lambda e: {**e, "direction": "photo2art"} if e["file"] == "a2b.onnx" else e)
    assert directions(folder)["photo2art"] == Direction("photo2art", ("a",), "b")
